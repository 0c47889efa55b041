// Builds generated C with the system C compiler and runs it: a harness that
// reads raw inputs and writes raw outputs (weec test, the conformance suite),
// and a timing harness (weec bench). Harnesses use stdio; the model code never does.
#pragma once

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
