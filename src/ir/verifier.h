// Structural checks of the IR, run after import and after every pass in
// debug builds. Ops-agnostic: op-specific checks plug in through
// VerifyOptions::check_node (see verify_graph_with_ops in ops/verify_ops.h).
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace weec {

struct VerifyOptions {
  // Called for every node, subgraph nodes included, once the node passed the
  // structural checks. Its error is returned as is (with the subgraph path).
  Status (*check_node)(const Node& node) = nullptr;
};

// Checks, for the graph and (recursively) its subgraphs:
// - SSA: each value is defined once, as a graph input, a constant or one node
//   output; value names are unique within a graph;
// - every use is defined earlier in node order (so the graph is acyclic and
//   topologically ordered), or in an enclosing graph for subgraphs;
// - graph outputs are defined;
// - ownership links: node->owner, value->owner, value->producer/output_index,
//   subgraph->parent;
// - constants' types equal their data's dtype and dims.
// The first problem found is returned; it names the node, op and value.
Status verify_graph(const Graph& g, const VerifyOptions& options = {});

}  // namespace weec
