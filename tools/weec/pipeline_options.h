// The pass-pipeline options shared by the commands that optimise a model
// (`weec compile`, ...): -O0/-O1/-O2, --passes, IR dumps and pass timing.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "passes/pass.h"

namespace weec::cli {

struct PipelineOptions {
  std::string opt_level = "O2";          // "O0", "O1" or "O2"
  std::vector<std::string> passes;       // explicit pass list; overrides opt_level
  std::vector<std::string> print_after;  // dump the IR after these passes
  bool print_after_all = false;
  std::string dump_dir;  // dumps go to DIR/NN-PASS.wir instead of stderr
  bool time_passes = false;
  // "name=1x3x32x32" bindings; the command registers --input-shape itself
  // (it also uses them to load the model) and fills this.
  std::vector<std::string> input_shapes;
  // Insert quantize / lower-qdq before fusion (set with --quantize; the
  // calibration data is in PassContext::quantize).
  bool quantize = false;
  // The model is already QDQ: lower it with its own scales (no calibration).
  bool prequantized = false;
};

// Registers -O0/-O1/-O2, --passes, --print-after, --print-after-all,
// --print-dir and --time-passes on `sub`. `o` must outlive parsing.
void add_pipeline_options(CLI::App& sub, PipelineOptions& o);

// "image=1x1x28x28" -> ("image", {1,1,28,28}); error on bad syntax.
Expected<std::pair<std::string, Dims>> parse_input_shape(const std::string& spec);

// Fills ctx (input shapes, dumps, timing) from `o`, runs the pipeline on `g`
// and prints the timing table to stderr when --time-passes is set.
Status run_pipeline(Graph& g, const PipelineOptions& o, PassContext& ctx);

}  // namespace weec::cli
