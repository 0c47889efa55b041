// Fused: a group of nodes made by the `fuse` pass (after TVM's FuseOps). Its
// `body` graph takes the group's external inputs (weights included) as
// formal inputs and yields the group's outputs. The interpreter runs the body,
// so a fused graph is checked against the unfused one directly; the C backend
// emits one loop nest per Fused node with no buffer for values inside it.
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {

namespace {

Status infer_fused(InferContext& ctx) {
  const Graph* body = ctx.attrs.graph("body");
  if (!body) return ctx.error("needs a body graph");
  if (body->inputs.size() != ctx.num_inputs())
    return ctx.error("body has {} inputs, node has {}", body->inputs.size(), ctx.num_inputs());
  if (body->outputs.size() != ctx.node.outputs.size())
    return ctx.error("body has {} outputs, node has {}", body->outputs.size(), ctx.node.outputs.size());
  for (size_t i = 0; i < body->inputs.size(); ++i)
    if (!type_compatible(body->inputs[i]->type, ctx.input_type(i)))
      return ctx.error("{} is {}, body input '{}' is {}", ctx.input_desc(i), type_str(ctx.input_type(i)),
                       body->inputs[i]->name, type_str(body->inputs[i]->type));
  for (size_t k = 0; k < body->outputs.size(); ++k) ctx.outputs[k] = body->outputs[k]->type;
  return Status::ok();
}

Status kernel_fused(KernelContext& ctx) {
  const Graph* body = ctx.attrs.graph("body");
  if (!ctx.run_subgraph) return ctx.error("no subgraph runner was supplied");
  auto r = (*ctx.run_subgraph)(*body, ctx.inputs);
  if (!r) return ctx.error("body: {}", r.status().message());
  ctx.outputs = std::move(*r);
  return Status::ok();
}

int64_t macs_fused(const Node& node) {
  int64_t total = 0;
  for (auto& n : node.attr("body")->g->nodes()) total += node_macs(*n);
  return total;
}

}  // namespace

const OpSchema& schema_Fused() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Fused, ""};
    m.min_inputs = 0;
    m.max_inputs = -1;
    m.attrs = {attr_required("body", Attribute::Kind::Graph), attr_string("pattern", "")};
    m.infer = infer_fused;
    m.kernel = kernel_fused;
    m.macs = macs_fused;
    m.doc = "a fused group of nodes (made by the fuse pass); one loop nest in C";
    return m;
  }();
  return s;
}

}  // namespace weec
