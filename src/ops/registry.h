// Lookup of op schemas, and the generic per-node checks built on them.
#pragma once

#include "ops/op.h"

namespace weec {

const OpSchema& op_schema(OpKind op);
// Schema for an ONNX (domain, op_type), or nullptr. Domain "ai.onnx" == "".
const OpSchema* find_onnx_schema(std::string_view domain, std::string_view op_type);

// Arity and attributes (names, kinds, required ones present) against the schema.
Status validate_node(const Node& node);
// Runs the op's shape/type inference and stores the output types. When the
// input types are unknown (rank) inference may leave outputs partly unknown.
Status infer_node(Node& node);
// infer_node over the graph in order (and over subgraphs).
Status infer_graph(Graph& graph);
// Static MAC count of a node (0 if the op defines none or shapes are unknown).
int64_t node_macs(const Node& node);

}  // namespace weec
