// The post-training quantisation options shared by the commands that prepare
// a model (compile, test, bench, eval, quantize): --quantize int8 --calib DATA
// and the calibration method. They fill PassContext::quantize and add the
// quantize / lower-qdq passes to the pipeline.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "core/status.h"
#include "ir/graph.h"
#include "passes/pass.h"
#include "pipeline_options.h"

namespace weec::cli {

struct QuantArgs {
  std::string mode;  // "" (float), "int8" or "int4" (4-bit weights, 8-bit activations)
  std::string calib;
  std::string method = "minmax";
  double percentile = 99.99;
  int64_t samples = 500;
  std::string activations = "int8";
  bool int_io = false;
  bool enabled() const { return !mode.empty(); }
};

// Registers --quantize, --calib, --calib-method, --calib-percentile,
// --calib-samples, --activations and --int-io. With `always`, quantisation is
// the command's job (weec quantize): --quantize is implied.
void add_quant_options(CLI::App& sub, QuantArgs& q, bool always = false);

// Checks the options, loads the calibration samples for `g`'s inputs into
// ctx.quantize and switches the pipeline to its quantising form.
Status setup_quantization(const QuantArgs& q, const Graph& g, PassContext& ctx, PipelineOptions& po);

}  // namespace weec::cli
