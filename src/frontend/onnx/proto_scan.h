// Why a model's bytes failed to parse. protobuf only says "no"; a user with a
// truncated download and one with a hostile 10,000-deep model deserve
// different answers.
#pragma once

#include <string>
#include <string_view>

namespace weec {

// Protobuf's default nesting limit, which ParseFromArray enforces.
constexpr int kProtobufNestingLimit = 100;

// Walks the wire format of an onnx.ModelProto without recursion (so any depth
// is safe) and describes the first problem: truncation, a field that runs
// past its enclosing message, a bad wire type, or nesting deeper than
// kProtobufNestingLimit. Falls back to a generic description.
std::string diagnose_unparsable_model(std::string_view bytes);

}  // namespace weec
