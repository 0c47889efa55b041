#include "ir/op_kind.h"

#include <array>

namespace weec {

namespace {
constexpr std::array<std::string_view, kNumOps> kOpNames = {
#define WEEC_OP(name) #name,
#include "ops/ops.def"
#undef WEEC_OP
};
}  // namespace

std::string_view op_name(OpKind op) { return kOpNames[(size_t)op]; }

std::optional<OpKind> op_from_name(std::string_view name) {
  for (size_t i = 0; i < kOpNames.size(); ++i)
    if (kOpNames[i] == name) return (OpKind)i;
  return std::nullopt;
}

}  // namespace weec
