// simplify-inference (d): a constant Mul/Add in front of a Gemm, MatMul or
// Conv folded into its weights and bias (see fold_input_affine.cc).
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace weec {

// Folds `n` (a Mul or Add with one constant operand) into the op reading its
// output, if it is that op's input 0 and its only use. Returns whether it did
// (then `n` is removed).
Expected<bool> fold_input_affine(Graph& g, Node* n);

}  // namespace weec
