// append_gradients (autodiff.h): marks what depends on the values
// differentiated for, then walks the nodes backwards calling each op's hook.
#include "autodiff/autodiff.h"

#include <unordered_map>
#include <unordered_set>

#include "ops/grad.h"
#include "ops/registry.h"

namespace weec {

namespace {

Value* add_constant_like(Graph& g, const Value* v, double fill) {
  Tensor t(v->type.dtype, v->type.shape.static_dims());
  for (int64_t i = 0; i < t.numel(); ++i) t.set_double(i, fill);
  return g.add_constant(g.unique_name("d_" + v->name), std::move(t));
}

}  // namespace

Expected<std::vector<Value*>> append_gradients(Graph& g, Value* loss, const std::vector<Value*>& wrt) {
  if (!loss) return Status::error("gradient: no loss value");
  for (const auto& v : g.values())
    if (!v->type.shape.is_static())
      return Status::error(fmt::format(
          "gradient: value %{} has no static shape (run infer-shapes with bound inputs)", v->name));
  for (const Value* v : wrt)
    if (!is_float(v->type.dtype))
      return Status::error(
          fmt::format("gradient: %{} is {}, not a float tensor", v->name, dtype_name(v->type.dtype)));
  // Forward: which values depend on a value of wrt.
  std::unordered_set<const Value*> depends(wrt.begin(), wrt.end());
  const std::vector<Node*> order = [&] {
    std::vector<Node*> n;
    for (auto& p : g.nodes()) n.push_back(p.get());
    return n;
  }();
  for (Node* n : order) {
    bool any = false;
    for (const Value* v : n->inputs) any = any || (v && depends.count(v));
    if (any)
      for (const Value* v : n->outputs)
        if (is_float(v->type.dtype)) depends.insert(v);
  }
  // Backward: gradients of values, summed over their uses.
  std::unordered_map<const Value*, Value*> grad;
  Builder b(g, infer_node);
  grad[loss] = add_constant_like(g, loss, 1.0);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& n = **it;
    std::vector<Value*> dy;
    bool flows = false;
    for (const Value* v : n.outputs) {
      auto f = grad.find(v);
      dy.push_back(f == grad.end() ? nullptr : f->second);
      flows = flows || f != grad.end();
    }
    std::vector<bool> wants;
    bool any = false;
    for (const Value* v : n.inputs) {
      wants.push_back(v && depends.count(v) && is_float(v->type.dtype));
      any = any || wants.back();
    }
    if (!flows || !any) continue;
    const OpSchema& schema = op_schema(n.op);
    if (!schema.grad)
      return Status::error(
          fmt::format("{}: gradient: {} has no gradient in weec", n.describe(), op_name(n.op)));
    GradContext ctx(g, n, schema, dy, wants);
    WEEC_TRY(schema.grad(ctx));
    WEEC_TRY(ctx.status());
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      Value* gi = ctx.grads()[i];
      if (!wants[i] || !gi) continue;
      if (gi->type.shape.static_dims() != n.inputs[i]->type.shape.static_dims() ||
          gi->type.dtype != n.inputs[i]->type.dtype)
        return Status::error(fmt::format("{}: gradient of input {} has type {}, expected {}", n.describe(), i,
                                         type_str(gi->type), type_str(n.inputs[i]->type)));
      auto f = grad.find(n.inputs[i]);
      if (f == grad.end())
        grad[n.inputs[i]] = gi;
      else
        f->second = b.op(OpKind::Add, {f->second, gi});
    }
  }
  WEEC_TRY(b.status());
  std::vector<Value*> out;
  for (Value* v : wrt) {
    auto f = grad.find(v);
    out.push_back(f != grad.end() ? f->second : add_constant_like(g, v, 0.0));
  }
  return out;
}

}  // namespace weec
