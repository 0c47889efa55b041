#include "codegen/c/c_weights.h"

#include <unordered_set>

#include "codegen/c/c_backend.h"
#include "ops/c_emit.h"

namespace weec::cgen {

void WeightTable::add(const Value* v) {
  if (names_.count(v)) return;
  std::unordered_set<std::string> used;
  for (auto& [k, n] : names_) used.insert(n);
  std::string base = "w_" + c_identifier(v->name), name = base;
  for (int k = 1; used.count(name); ++k) name = fmt::format("{}_{}", base, k);
  names_[v] = name;
  order_.push_back(v);
}

int64_t WeightTable::bytes() const {
  int64_t b = 0;
  for (const Value* v : order_) b += (int64_t)v->constant->nbytes();
  return b;
}

std::string WeightTable::definitions() const {
  std::string s;
  for (const Value* v : order_) {
    const Tensor& t = *v->constant;
    DType dt = t.dtype();
    // C has no zero-length arrays: an empty constant gets one unused element.
    int64_t n = std::max<int64_t>(1, t.numel());
    s += fmt::format("static const {} {}[{}] WEEC_ALIGNED = {{", c_type(dt), names_.at(v), n);
    for (int64_t i = 0; i < t.numel(); ++i) {
      s += i % 8 == 0 ? "\n  " : " ";
      if (is_float(dt))
        s += c_literal(t.get_double(i), dt);
      else if (dt == DType::U64)
        s += fmt::format("{}ULL", t.data<uint64_t>()[i]);
      else
        s += c_literal_i64(t.get_int(i), dt);
      if (i + 1 < t.numel()) s += ",";
    }
    if (t.numel() == 0) s += "0";
    s += "\n};\n";
  }
  return s;
}

}  // namespace weec::cgen
