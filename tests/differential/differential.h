// The differential harness (see docs/testing.md): one graph run several ways
// that must agree, and a shrinker that cuts a failing graph down.
//
//   O0-vs-interp,  the unoptimised graph in the interpreter (the oracle) against
//   O0-vs-O2       the -O0 and -O2 pipelines in the interpreter, 1e-5;
//   interp-vs-c    the -O2 pipeline's generated C, float, tolerance
//                  |a - e| <= 1e-4 + 1e-4 |e|;
//   interp-vs-ort  with an OrtServer: the unoptimised graph exported to ONNX
//                  and run in ONNX Runtime, same tolerance as C;
//   int8           the quantised graph's integer kernels in the interpreter
//                  against its generated C: bit-exact; with ORT also the QDQ
//                  graph in ORT vs the interpreter, within one output step.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace weec::diff {

class OrtServer;

struct Case {
  const Graph* graph = nullptr;
  std::vector<Tensor> feeds;
  std::vector<std::vector<Tensor>> calib;  // int8 when not empty
  std::string cc = "cc";
  // For the generated C: -O2 as in CI; long campaigns may pass -O1, which
  // compiles faster (docs/testing.md has the numbers).
  std::vector<std::string> cflags = {"-O2"};
  OrtServer* ort = nullptr;  // also compare with ONNX Runtime when set
};

// What the ORT comparisons of a check did (float, and QDQ for int8), for the run's totals.
struct OrtOutcome {
  int agreed = 0, unsupported = 0;
  // Ill-conditioned nets (see check()): a comparison missed its tolerance
  // but the C agreed with ORT, or ORT was further than the interpreter from
  // the f64 result, or the gap was within kSpreadFactor rounding spreads.
  // Counted here with or without ORT.
  int ill_conditioned = 0;
  std::string ill_check;  // the comparison that was, e.g. "O0-vs-O2"
  std::string reason;     // ORT's message for the last unsupported one
};

// An f32 tensor of `dims`, uniform in [-1, 1]: the inputs of every check.
Tensor random_input(const Dims& dims, std::mt19937& rng);

// One random_input per graph input.
std::vector<Tensor> random_inputs(const Graph& g, std::mt19937& rng);

// Empty when every comparison agrees; else what differed, first line naming the check.
std::string check(const Case& c, OrtOutcome* ort = nullptr);

// How far float32 rounding alone can move each output of g on `feeds`: g
// in f64, run `trials` times with every float constant and every node output
// multiplied by a random (1 + d), |d| <= 2^-23 (twice float32's unit
// roundoff), against the unperturbed f64 run; per output element the largest
// move seen. Small for a well-conditioned net; large where the net divides by
// a difference of nearly equal values, say.
Expected<std::vector<Tensor>> rounding_spread(const Graph& g, const std::vector<Tensor>& feeds,
                                              int trials = 8);

// A gap of at most this many spreads is what rounding can do (the spread is
// sampled, so it may fall short of the true worst case by a small factor).
inline constexpr double kSpreadFactor = 4;

// Whether a and b (outputs of g on `feeds`) agree within atol = rtol = tol,
// or, element by element where they do not, differ by at most kSpreadFactor
// rounding spreads: an ill-conditioned net, not a bug. `why` (optional)
// gets the largest gap in spreads, e.g. "gap 0.4 = 1.3 rounding spreads of 0.3".
bool within_rounding_spread(const Graph& g, const std::vector<Tensor>& feeds, const std::vector<Tensor>& a,
                            const std::vector<Tensor>& b, double tol, std::string* why = nullptr);

// "" when c passes, else why it fails; the shrinker keeps a candidate that fails.
using Predicate = std::function<std::string(const Case&)>;

// A smaller graph that still fails `fails` (check by default): cut after or
// before a node, single nodes bypassed, attributes simplified (dilation,
// stride, pads, groups, kernel size, ...), input dims and channels cut. Kept
// inputs keep their feeds; changed ones get fresh random feeds (and calibration
// samples). Returns the failure message of the result.
std::string shrink(std::unique_ptr<Graph>& g, Case& c, const Predicate& fails = {});

}  // namespace weec::diff
