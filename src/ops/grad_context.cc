// GradContext (ops/grad.h): the node-emitting helpers every gradient hook uses.
#include "ops/grad.h"
#include "ops/registry.h"

namespace weec {

GradContext::GradContext(Graph& g, const Node& node, const OpSchema& schema, std::vector<Value*> dy,
                         std::vector<bool> wants)
    : NodeContext(node, schema),
      g_(g),
      dy_(std::move(dy)),
      grads_(node.inputs.size(), nullptr),
      wants_(std::move(wants)) {}

void GradContext::set(size_t i, Value* g) {
  if (wants(i) && g) grads_[i] = g;
}

std::vector<Value*> GradContext::op_n(OpKind op, std::vector<Value*> inputs, int outputs, AttrMap attrs) {
  std::vector<Value*> outs;
  const std::string base =
      fmt::format("d_{}_{}", node.outputs.empty() ? "" : node.outputs[0]->name, op_name(op));
  for (int i = 0; i < outputs; ++i) outs.push_back(g_.add_value(g_.unique_name(base)));
  Node* n = g_.add_node(op, std::move(inputs), outs, std::move(attrs));
  if (status_.is_ok()) {
    Status st = infer_node(*n);
    if (!st.is_ok()) status_ = error("gradient: {}", st.message());
  }
  return outs;
}

Value* GradContext::op(OpKind op, std::vector<Value*> inputs, AttrMap attrs) {
  return op_n(op, std::move(inputs), 1, std::move(attrs))[0];
}

Value* GradContext::constant(Tensor t) { return g_.add_constant(g_.unique_name("d_const"), std::move(t)); }

Value* GradContext::scalar(double v, DType t) { return full({}, v, t); }

Value* GradContext::full(const Dims& d, double v, DType t) {
  Tensor c(t, d);
  for (int64_t i = 0; i < c.numel(); ++i) c.set_double(i, v);
  return constant(std::move(c));
}

Value* GradContext::ints(const std::vector<int64_t>& v) {
  Tensor c(DType::I64, {(int64_t)v.size()});
  for (size_t i = 0; i < v.size(); ++i) c.data<int64_t>()[i] = v[i];
  return g_.add_constant(g_.unique_name("d_shape"), std::move(c));
}

Dims GradContext::dims(const Value* v) const { return v->type.shape.static_dims(); }

Value* GradContext::unbroadcast(Value* g, const Dims& shape) {
  const Dims gd = dims(g);
  if (gd == shape) return g;
  // Axes of g that are new (leading) or where shape has 1 and g does not.
  std::vector<int64_t> axes;
  const size_t lead = gd.size() - shape.size();
  for (size_t a = 0; a < gd.size(); ++a)
    if (a < lead || (shape[a - lead] == 1 && gd[a] != 1)) axes.push_back((int64_t)a);
  Value* s = g;
  if (!axes.empty()) s = op(OpKind::ReduceSum, {g, ints(axes)}, {{"keepdims", Attribute::of_int(1)}});
  return op(OpKind::Reshape, {s, ints(shape)});
}

Value* GradContext::transpose_last2(Value* v) {
  const size_t r = dims(v).size();
  std::vector<int64_t> perm;
  for (size_t a = 0; a < r; ++a) perm.push_back((int64_t)a);
  std::swap(perm[r - 2], perm[r - 1]);
  return op(OpKind::Transpose, {v}, {{"perm", Attribute::of_ints(perm)}});
}

}  // namespace weec
