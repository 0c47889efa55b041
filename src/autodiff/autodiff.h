// Reverse-mode automatic differentiation on the IR.
//
// append_gradients adds to a graph the nodes that compute the gradient of one
// of its values (the loss) with respect to others: for every node between
// them, in reverse execution order, the op's own `grad` hook (ops/grad.h)
// emits ordinary IR nodes from the gradients of its outputs. A value read by
// several nodes gets the sum of their contributions. The result is an
// ordinary graph: it prints, verifies, runs in the interpreter, and the same
// passes optimise it. Shapes must be static (run infer-shapes first).
#pragma once

#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace weec {

// Appends to `g` the gradient of `loss` (seeded with ones of its shape: the
// gradient of the sum of its elements) with respect to each of `wrt`
// (graph inputs, constants or node outputs of g), and returns them in order:
// a value the loss does not depend on gets zeros. Errors name the node and
// op that has no gradient, or whose gradient failed. `g` is left with the
// nodes added so far on error; differentiate a clone.
Expected<std::vector<Value*>> append_gradients(Graph& g, Value* loss, const std::vector<Value*>& wrt);

}  // namespace weec
