// The reference interpreter: executes a graph on the host with the ops'
// reference kernels. It is the oracle every pass and backend is checked against.
#pragma once

#include <functional>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace weec {

struct InterpOptions {
  // Check each computed tensor against the node's static output type (dtype,
  // rank, known dims). Catches inference bugs early; on by default.
  bool check_types = true;
  // Called with every value the top-level graph computes (node outputs, and
  // graph inputs first), e.g. to calibrate quantisation ranges.
  std::function<void(const Value&, const Tensor&)> observe;
  // Called with every node output of the top-level graph before any consumer
  // reads it, and may change it: the differential harness multiplies each by
  // a random (1 + d) to see how much float32 rounding can move the outputs.
  std::function<void(const Value&, Tensor&)> perturb;
};

// Values visible from an enclosing graph (subgraph execution).
using ValueEnv = std::unordered_map<const Value*, const Tensor*>;

// Runs `graph` on `inputs` (one per graph input, in order). Inputs are checked
// against the declared input types; symbolic dims must bind consistently.
Expected<std::vector<Tensor>> run_graph(const Graph& graph, const std::vector<const Tensor*>& inputs,
                                        const InterpOptions& options = {}, const ValueEnv* outer = nullptr);

// Checks `t` against `declared`, binding named dims in `bindings`.
Status check_input(const Value& input, const Tensor& t, std::unordered_map<std::string, int64_t>& bindings);

}  // namespace weec
