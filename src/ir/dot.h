// Graphviz export for `weec dot`: nodes are records (op | name), edges carry
// the value's type, constants are small boxes without their data, graph
// inputs/outputs have their own shapes and subgraphs are clusters.
#pragma once

#include <string>

#include "ir/graph.h"

namespace weec {

std::string graph_to_dot(const Graph& g);

}  // namespace weec
