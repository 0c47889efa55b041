// The IR's text form: one node per line with result types and attributes,
// NNVM/MLIR-like. print_graph output parses back with parse_graph (ir/parser.h)
// to an identical text; the grammar is in docs/ir-text-format.md.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "ir/graph.h"

namespace weec {

struct PrintOptions {
  // Constants and tensor attributes with more elements than this print as
  // `<elided 7840 x f32>`: readable for `weec show`, but no longer parseable.
  int64_t elide_constants_over = std::numeric_limits<int64_t>::max();
};

std::string print_graph(const Graph& g, const PrintOptions& options = {});
// One node as print_graph writes it (no indent, no newline): for messages.
std::string print_node(const Node& node, const PrintOptions& options = {});

// Pieces of the syntax, shared with the verifier and the dot exporter.
// `%name`, or `%"..."` (C escapes) unless the name matches [A-Za-z0-9_.]+.
std::string value_ref(std::string_view name);
// `"..."` with C-style escapes (\n \t \r \\ \" \xHH); UTF-8 bytes pass through.
std::string quote_string(std::string_view s);
// Like type_str (ir/types.h), but symbolic dims that are not identifiers are quoted.
std::string type_text(const TensorType& t);
// Shortest text that reads back to the same value, always with '.', an
// exponent, or nan/inf so it cannot be mistaken for an integer: 1.0, 1e-05.
std::string float_text(float f);
std::string double_text(double d);

}  // namespace weec
