// OpKind: the dense enum of every op weec knows, generated from ops/ops.def.
// After import, ops are identified by this enum, never by string.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace weec {

enum class OpKind : uint16_t {
#define WEEC_OP(name) name,
#include "ops/ops.def"
#undef WEEC_OP
};

inline constexpr int kNumOps = 0
#define WEEC_OP(name) +1
#include "ops/ops.def"
#undef WEEC_OP
    ;

std::string_view op_name(OpKind op);
std::optional<OpKind> op_from_name(std::string_view name);

}  // namespace weec
