#include "passes/fusion_rules.h"

#include <fmt/format.h>

#include "ops/registry.h"

namespace weec {

bool FusionRules::scalar_hook(OpKind op) const {
  return has_emit_scalar ? has_emit_scalar(op) : op_schema(op).emit_scalar != nullptr;
}

bool FusionRules::c_hook(OpKind op) const {
  return has_emit_c ? has_emit_c(op) : op_schema(op).emit_c != nullptr;
}

namespace {

// The C backend rejects these dtypes, so a group holding one could not be emitted.
bool c_dtype(DType t) { return t != DType::F16 && t != DType::BF16 && t != DType::String; }

bool fusable_value(const Value* v) { return c_dtype(v->type.dtype) && v->type.shape.is_static(); }

bool has_subgraph(const Node& n) {
  for (auto& [key, a] : n.attrs)
    if (a.g || !a.graphs.empty()) return true;
  return false;
}

}  // namespace

bool is_fusable_node(const Node& node) {
  if (node.op == OpKind::Fused || node.outputs.size() != 1 || !node.outputs[0]) return false;
  if (has_subgraph(node) || !fusable_value(node.outputs[0])) return false;
  for (const Value* in : node.inputs)
    if (in && !fusable_value(in)) return false;
  return true;
}

bool is_scalar_op(const Node& node, const FusionRules& rules) {
  FusionKind k = op_schema(node.op).fusion;
  if (k != FusionKind::Elementwise && k != FusionKind::Broadcast) return false;
  // An op with emit_c is emitted through it, never inlined as an expression.
  return rules.scalar_hook(node.op) && !rules.c_hook(node.op) && is_fusable_node(node);
}

bool is_anchor(const Node& node, const FusionRules& rules) {
  return op_schema(node.op).fusion == FusionKind::OutElementwiseFusable && rules.c_hook(node.op) &&
         is_fusable_node(node);
}

bool is_reduce_sink(const Node& node, const FusionRules& rules) {
  return op_schema(node.op).fusion == FusionKind::Reduce && rules.c_hook(node.op) && is_fusable_node(node) &&
         node.has_input(0);
}

std::string FuseStats::remark() const {
  return fmt::format("fuse: {} groups ({} anchor, {} elementwise, {} reduce)", groups(), anchor, elementwise,
                     reduce);
}

}  // namespace weec
