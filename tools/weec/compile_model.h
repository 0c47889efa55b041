// Shared by compile, test and bench: load a model, run the pass pipeline and
// (for the C backend) generate code, timing the whole thing.
#pragma once

#include <string>
#include <vector>

#include "codegen/c/c_backend.h"
#include "commands.h"
#include "pipeline_options.h"
#include "quant_args.h"

namespace weec::cli {

struct ModelArgs {
  std::string model;
  std::vector<std::string> input_shapes;
  PipelineOptions pipeline;
  QuantArgs quant;
};

// Registers the model path, --input-shape, the pipeline options and (unless
// `quant_options` is false) the quantisation options.
void add_model_options(CLI::App& sub, ModelArgs& a, bool quant_options = true);

struct PreparedModel {
  ImportedModel model;  // graph after the pipeline
  PassContext ctx;
  double pipeline_ms = 0;
};

// Loads and optimises. `bind_from` (optional): tensors whose dims bind any
// input dims the user left symbolic (weec test binds from its data files).
Expected<PreparedModel> prepare_model(const ModelArgs& a,
                                      const std::vector<const Tensor*>* bind_from = nullptr);

// "arena 1024 B (lower bound 1024 B) · weights 3.1 KB · 12,345 MACs · libm: expf"
std::string code_summary(const CCodegenResult& r);

}  // namespace weec::cli
