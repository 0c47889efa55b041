#include "codegen/c/c_weights.h"

#include <unordered_set>

#include "codegen/c/c_backend.h"
#include "ops/c_emit.h"
#include "ops/q4_weights.h"

namespace weec::cgen {

std::unordered_set<const Value*> int4_weights(const Graph& g) {
  // Constant -> whether every read seen so far reads it as packable weights.
  std::unordered_map<const Value*, bool> weights_only;
  auto read = [&](const Value* v, bool as_weights) {
    if (!v || !v->constant) return;
    auto [it, fresh] = weights_only.emplace(v, as_weights);
    if (!fresh) it->second = it->second && as_weights;
  };
  for (auto& n : g.nodes()) {
    if (n->op != OpKind::Fused) {
      for (size_t i = 0; i < n->inputs.size(); ++i) read(n->inputs[i], qop::reads_int4_weights(n->op, i));
      continue;
    }
    // A fused group reads its external values through the body's inputs.
    const Graph& body = *n->attr("body")->g;
    for (size_t j = 0; j < n->inputs.size() && j < body.inputs.size(); ++j) {
      bool any = false, all = true;
      for (auto& bn : body.nodes())
        for (size_t i = 0; i < bn->inputs.size(); ++i)
          if (bn->inputs[i] == body.inputs[j]) {
            any = true;
            all = all && qop::reads_int4_weights(bn->op, i);
          }
      read(n->inputs[j], any && all);
    }
  }
  for (const Value* v : g.outputs) read(v, false);
  std::unordered_set<const Value*> packed;
  for (auto& [v, only] : weights_only)
    if (only && qop::int4_range(*v->constant)) packed.insert(v);
  return packed;
}

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
  for (const Value* v : order_)
    b += packed(v) ? (v->constant->numel() + 1) / 2 : (int64_t)v->constant->nbytes();
  return b;
}

std::string WeightTable::definitions() const {
  std::string s;
  for (const Value* v : order_) {
    const Tensor& t = *v->constant;
    if (packed(v)) {
      const std::vector<uint8_t> bytes = qop::pack_int4(t);
      s += fmt::format(
          "/* {} 4-bit weights, two per byte: element 2j in the low nibble of byte j, 2j + 1 in the\n"
          " * high nibble, two's complement. */\n",
          t.numel());
      s += fmt::format("static const uint8_t {}[{}] WEEC_ALIGNED = {{", names_.at(v), bytes.size());
      for (size_t i = 0; i < bytes.size(); ++i)
        s += fmt::format("{}0x{:02x}{}", i % 16 == 0 ? "\n  " : " ", bytes[i],
                         i + 1 < bytes.size() ? "," : "");
      s += "\n};\n";
      continue;
    }
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
