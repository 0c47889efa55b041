// Reverse-mode differentiation hooks. An op with a gradient sets
// OpSchema::grad to a function that, given the gradients of the loss with
// respect to the node's outputs (dy), emits ordinary IR nodes computing the
// gradients with respect to the inputs that need one, and hands them to
// set(). src/autodiff runs the hooks in reverse execution order and sums the
// gradients of values used more than once. Shapes are static: the pass runs
// on an inferred graph and every emitted node is inferred as it is added.
#pragma once

#include <vector>

#include "ops/op.h"

namespace weec {

class GradContext : public NodeContext {
 public:
  GradContext(Graph& g, const Node& node, const OpSchema& schema, std::vector<Value*> dy,
              std::vector<bool> wants);

  Value* x(size_t i) const { return node.inputs[i]; }   // forward input i (may be null)
  Value* y(size_t k) const { return node.outputs[k]; }  // forward output k
  // d loss / d output k, or nullptr where no gradient flows back to it.
  Value* dy(size_t k) const { return k < dy_.size() ? dy_[k] : nullptr; }
  // Whether input i needs a gradient (it depends on a value differentiated for).
  bool wants(size_t i) const { return i < wants_.size() && wants_[i]; }
  // The gradient of input i (same shape and dtype); ignored unless wants(i).
  void set(size_t i, Value* g);
  const std::vector<Value*>& grads() const { return grads_; }

  // Emitting nodes: shape inference runs on each; the first error is kept
  // and returned by status().
  Value* op(OpKind op, std::vector<Value*> inputs, AttrMap attrs = {});
  std::vector<Value*> op_n(OpKind op, std::vector<Value*> inputs, int outputs, AttrMap attrs = {});
  Value* constant(Tensor t);
  Value* scalar(double v, DType t);               // a 0-d constant
  Value* ints(const std::vector<int64_t>& v);     // a 1-D int64 constant
  Value* full(const Dims& d, double v, DType t);  // a constant filled with v
  // Static dims of v (the pass checks every shape is static first).
  Dims dims(const Value* v) const;
  // g summed over the axes along which `shape` was broadcast to g's shape,
  // then reshaped to `shape` (numpy broadcasting rules).
  Value* unbroadcast(Value* g, const Dims& shape);
  // Permutes the last two axes.
  Value* transpose_last2(Value* v);
  Status status() const { return status_; }

 private:
  Graph& g_;
  std::vector<Value*> dy_, grads_;
  std::vector<bool> wants_;
  Status status_;
};

}  // namespace weec
