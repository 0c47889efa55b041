// Parses the text IR written by print_graph (ir/printer.h) back into a Graph.
// Errors are "line:col: message" and say what was expected. Safe on any
// input: no asserts or exceptions on bad text, bounded nesting depth.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "core/status.h"
#include "ir/graph.h"
#include "ir/op_kind.h"

namespace weec {

// Resolves an op name to its kind (nullopt: unknown op). A parameter so that
// tests and tools can restrict or extend the accepted ops.
using OpLookup = std::optional<OpKind> (*)(std::string_view name);

Expected<std::unique_ptr<Graph>> parse_graph(std::string_view text, OpLookup lookup = op_from_name);

}  // namespace weec
