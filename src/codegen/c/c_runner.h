// Builds generated C with the system C compiler and runs it: a harness that
// reads raw inputs and writes raw outputs (weec test, the conformance suite),
// a batch harness that streams many samples through one build (weec eval),
// and a timing harness (weec bench). Harnesses use stdio; the model code never does.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "codegen/c/c_backend.h"
#include "ir/tensor.h"

namespace weec {

struct CBuildOptions {
  std::string cc = "cc";
  // Added after "-std=c99 -Wall -Wextra -Werror -pedantic".
  std::vector<std::string> cflags = {"-O2"};
  std::string work_dir;  // empty: a fresh temporary directory, removed afterwards
};

// Compiles `code` for `graph` with a harness, runs it on `inputs` (one per
// graph input) and returns the outputs.
Expected<std::vector<Tensor>> run_generated_c(const Graph& graph, const CCodegenResult& code,
                                              const std::vector<const Tensor*>& inputs,
                                              const CBuildOptions& options);

struct CBatchResult {
  std::vector<std::vector<Tensor>> outputs;  // [sample][graph output]
  double run_us = 0;                         // time inside NAME_run, summed over the samples
  int64_t code_bytes = 0;                    // .text of the model's object file (size(1))
  int64_t rodata_bytes = 0;
};

// Called as samples complete (about every 1% of them): (done, total).
using CBatchProgress = std::function<void(int64_t done, int64_t total)>;

// Compiles `code` ONCE and runs every sample in one process: all inputs go to
// one file, the program streams them through NAME_run and writes all outputs
// to another. inputs[s] holds sample s's tensors, one per graph input.
Expected<CBatchResult> run_generated_c_batch(const Graph& graph, const CCodegenResult& code,
                                             const std::vector<std::vector<const Tensor*>>& inputs,
                                             const CBuildOptions& options,
                                             const CBatchProgress& progress = {});

struct CBenchResult {
  double median_us = 0, min_us = 0;
  int runs = 0;
  int64_t code_bytes = 0;  // .text of the model's object file (size(1))
  int64_t rodata_bytes = 0;
};

// Builds a timing harness: `warmup` runs, then `runs` timed inferences.
Expected<CBenchResult> bench_generated_c(const Graph& graph, const CCodegenResult& code,
                                         const std::vector<const Tensor*>& inputs, int runs,
                                         const CBuildOptions& options);

}  // namespace weec
