// The evaluation core behind `weec eval` (and the Fashion-MNIST demo's table):
// run a prepared model over many samples on a backend and measure top-1
// accuracy against labels, or MSE / max error against reference outputs,
// plus latency and (for C) sizes. The same data can be evaluated on several
// prepared graphs (float, int8) and the results compared with top1_agreement.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "codegen/c/c_runner.h"
#include "core/status.h"
#include "ir/graph.h"

namespace weec::cli {

// Samples along axis 0 of every tensor. Not yet shaped for any model:
// eval_model slices and converts per graph, so one EvalData serves several.
struct EvalData {
  std::string inputs_path;
  Tensor inputs;                    // [N, ...]
  std::optional<Tensor> labels;     // N integer class ids
  std::optional<Tensor> reference;  // [N, ...] expected first output per sample
  int64_t samples() const { return inputs.rank() == 0 ? 0 : inputs.dim(0); }
};

// Reads .npy, .pb or IDX (plain or .gz) files; `limit` >= 0 keeps the first
// `limit` samples. Sample counts must agree; labels must be integers.
Expected<EvalData> load_eval_data(const std::string& inputs, const std::string& labels,
                                  const std::string& reference, int64_t limit);

struct EvalOptions {
  std::string backend = "interp";  // "interp" or "c"
  CBuildOptions build;             // for "c"
  bool progress = true;            // a progress line on stderr (updating on a TTY, else only the last)
  std::string label = "eval";      // progress prefix, e.g. "float" or "int8"
};

struct EvalResult {
  std::string backend;
  int64_t samples = 0;
  std::vector<int64_t> top1;       // argmax of the first output, per sample
  std::optional<int64_t> correct;  // with labels
  std::optional<double> mse;       // with a reference: over all elements of all samples
  std::optional<double> max_abs_error;
  // With a reference and a quantised output: its step and the fraction of
  // elements within one step of the reference.
  std::optional<double> output_step, within_one_step;
  double mean_latency_us = 0;  // per inference, inside the backend only
  double seconds = 0;          // whole evaluation, including the C build
  // C backend only.
  bool has_sizes = false;
  int64_t arena_bytes = 0, weight_bytes = 0, code_bytes = 0, rodata_bytes = 0;

  std::optional<double> accuracy() const {
    if (!correct || samples == 0) return std::nullopt;
    return (double)*correct / (double)samples;
  }
};

// Runs every sample of `data` through `graph` (a prepared graph with one
// input of static shape): each sample is reshaped to the input's shape when
// the element counts agree (an error otherwise) and converted to its dtype
// (integers to float; no other conversion). The C backend compiles once and
// runs all samples in one process.
Expected<EvalResult> eval_model(const Graph& graph, const EvalData& data, const EvalOptions& options);

// Fraction of samples whose top-1 class is the same in both results.
Expected<double> top1_agreement(const EvalResult& a, const EvalResult& b);

// Human-readable lines (two-space indented). With `baseline` (the float
// model's result), adds the top-1 agreement with it.
std::string format_eval_result(const EvalResult& r, const EvalResult* baseline = nullptr);
nlohmann::json eval_result_json(const EvalResult& r, const EvalResult* baseline = nullptr);

}  // namespace weec::cli
