// Which nodes the fuse pass may group, and the pass itself as a function.
// The roles follow the C backend (src/codegen/c/c_function.cc): a "scalar op"
// is inlined as one C expression per element, an "anchor" writes its output
// through store() where an epilogue is applied, a "reduce sink" reads its
// data through load() where a prologue is inlined. Whether an op can play a
// role depends on its C hooks; the hook lookups are parameters so tests can
// exercise the grouping logic independently of which ops have hooks yet.
#pragma once

#include <string>

#include "core/status.h"
#include "ir/graph.h"

namespace weec {

struct FusionRules {
  // Default: the op schema's emit_scalar / emit_c are set.
  bool (*has_emit_scalar)(OpKind) = nullptr;
  bool (*has_emit_c)(OpKind) = nullptr;
  bool scalar_hook(OpKind op) const;
  bool c_hook(OpKind op) const;
};

// May take part in any group: one output, no subgraphs, static shapes on
// every input and the output, no F16/BF16/String data.
bool is_fusable_node(const Node& node);
// Elementwise/Broadcast op emitted by emit_scalar alone (no emit_c, which the
// backend would prefer): can be an epilogue, a prologue or part of a chain.
bool is_scalar_op(const Node& node, const FusionRules& rules = {});
// OutElementwiseFusable op with emit_c (Conv, Gemm, MatMul, pools).
bool is_anchor(const Node& node, const FusionRules& rules = {});
// Reduce op with emit_c (ReduceSum, ArgMax, ...).
bool is_reduce_sink(const Node& node, const FusionRules& rules = {});

struct FuseStats {
  int anchor = 0;       // anchor + epilogue groups
  int elementwise = 0;  // chains of scalar ops
  int reduce = 0;       // prologue + reduction groups
  int groups() const { return anchor + elementwise + reduce; }
  // "fuse: 3 groups (1 anchor, 1 elementwise, 1 reduce)"
  std::string remark() const;
};

// Rewrites the fusable groups of `graph` into Fused nodes (see fuse.cc for
// the rules). Leaves everything it cannot fuse unchanged.
Expected<FuseStats> fuse_graph(Graph& graph, const FusionRules& rules = {});

}  // namespace weec
