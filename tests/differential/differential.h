// The differential harness (see docs/testing.md): one graph run several ways
// that must agree, and a shrinker that cuts a failing graph down.
//
//   interp-vs-c    the unoptimised graph in the interpreter (the oracle)
//                  against the -O2 pipeline's generated C, float
//                  tolerance |a - e| <= 1e-4 + 1e-4 |e|;
//   O0-vs-O2       the -O0 and -O2 pipelines in the interpreter, 1e-5;
//   int8           the quantised graph's integer kernels in the interpreter
//                  against its generated C: bit-exact.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace weec::diff {

struct Case {
  const Graph* graph = nullptr;
  std::vector<Tensor> feeds;
  std::vector<std::vector<Tensor>> calib;  // int8 when not empty
  std::string cc = "cc";
};

// An f32 tensor of `dims`, uniform in [-1, 1]: the inputs of every check.
Tensor random_input(const Dims& dims, std::mt19937& rng);

// Empty when every comparison agrees; else what differed, first line naming the check.
std::string check(const Case& c);

// A smaller graph that still fails `check` (same feeds for a kept input,
// fresh random ones for a cut): the graph cut after / before nodes, single
// nodes bypassed. Returns the failure message of the result.
std::string shrink(std::unique_ptr<Graph>& g, Case& c);

}  // namespace weec::diff
