#include "ops/verify_ops.h"

#include "ir/printer.h"
#include "ir/verifier.h"
#include "ops/registry.h"

namespace weec {

Status check_node_with_ops(const Node& node) {
  const OpSchema& s = op_schema(node.op);
  WEEC_TRY(validate_node(node));
  if (!s.infer) return error("{}: op has no type inference", node.describe());
  // Inference into a fresh context, so the node's stored types stay untouched.
  InferContext ctx(node, s);
  WEEC_TRY(s.infer(ctx));
  if (ctx.outputs.size() != node.outputs.size())
    return error("{}: inference produced {} types for {} outputs", node.describe(), ctx.outputs.size(),
                 node.outputs.size());
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    const Value* out = node.outputs[i];
    if (out && !type_compatible(out->type, ctx.outputs[i]))
      return error("{}: output {} {} has type {} but inference gives {}", node.describe(), i,
                   value_ref(out->name), type_text(out->type), type_text(ctx.outputs[i]));
  }
  return Status::ok();
}

Status verify_graph_with_ops(const Graph& g) {
  VerifyOptions options;
  options.check_node = check_node_with_ops;
  return verify_graph(g, options);
}

}  // namespace weec
