// The conformance runner's C-backend mode: compile a suite model to C, build
// it with the system compiler and run it on one test data set.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace weec {

struct CModeOptions {
  std::string cc = "cc";
  std::string opt_level = "O2";  // pass pipeline before code generation
  std::string keep_dir;          // keep generated code of failing tests here
  std::string cflags = "-O1";    // C compiler flags, split at whitespace (sanitizers: scripts/test.sh)
};

struct CModeResult {
  Status status;             // compile or run failure
  bool unsupported = false;  // the backend refused the model (not a wrong answer)
  std::vector<Tensor> outputs;
  std::string bound_inputs;  // inputs compiled as constants ("" if none)
};

// `inputs` are one test data set's inputs. Shapes are bound from them; if the
// backend cannot compile the model with every input dynamic, integer inputs
// (shape-carrying: Reshape's shape, Slice's starts, ...) are bound as constants.
CModeResult run_through_c(const Graph& g, const std::vector<const Tensor*>& inputs, const CModeOptions& opt,
                          const std::string& test_name);

}  // namespace weec
