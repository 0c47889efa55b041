// The verifier with op knowledge: structural checks (ir/verifier.h) plus, per
// node, the schema's arity/attribute checks and agreement of the stored
// output types with what the op's inference computes now.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace weec {

// validate_node + "types agree" for one node; the VerifyOptions::check_node hook.
Status check_node_with_ops(const Node& node);
Status verify_graph_with_ops(const Graph& g);

}  // namespace weec
