#include "ops/qop_util.h"

#include <algorithm>

namespace weec::qop {

IntRange dtype_range(DType t) {
  switch (t) {
    case DType::I8:
      return {-128, 127};
    case DType::U8:
      return {0, 255};
    case DType::I16:
      return {-32768, 32767};
    case DType::U16:
      return {0, 65535};
    case DType::I32:
      return {INT32_MIN, INT32_MAX};
    default:
      return {0, 0};
  }
}

Expected<DType> read_out_dtype(const NodeContext& ctx) {
  switch (ctx.attrs.i("out_dtype")) {
    case 3:
      return DType::I8;
    case 2:
      return DType::U8;
    case 5:
      return DType::I16;
    case 6:
      return DType::I32;
    default:
      return ctx.error("out_dtype {} is not one of 3 (int8), 2 (uint8), 5 (int16), 6 (int32)",
                       ctx.attrs.i("out_dtype"));
  }
}

Expected<int32_t> read_zero_point(const NodeContext& ctx, const std::string& name, DType t) {
  const int64_t zp = ctx.attrs.i(name);
  const IntRange r = dtype_range(t);
  if (zp < r.lo || zp > r.hi)
    return ctx.error("{} {} is outside the range of {} [{}, {}]", name, zp, dtype_name(t), r.lo, r.hi);
  return (int32_t)zp;
}

int64_t max_abs_offset(DType t, int64_t zp) {
  const IntRange r = dtype_range(t);
  return std::max(zp - r.lo, r.hi - zp);
}

std::vector<AttrSpec> requant_attrs() {
  return {attr_int("y_zero_point", 0),
          attr_required("multiplier", Attribute::Kind::Ints),
          attr_required("shift", Attribute::Kind::Ints),
          attr_optional("act_min", Attribute::Kind::Int),
          attr_optional("act_max", Attribute::Kind::Int),
          attr_int("out_dtype", 3)};
}

Expected<Requant> read_requant(const NodeContext& ctx, int64_t channels, bool multiplier_optional) {
  Requant r;
  WEEC_ASSIGN_OR_RETURN(r.out, read_out_dtype(ctx));
  WEEC_ASSIGN_OR_RETURN(r.zp, read_zero_point(ctx, "y_zero_point", r.out));
  const auto& m = ctx.attrs.ints("multiplier");
  const auto& s = ctx.attrs.ints("shift");
  const bool absent = !ctx.attrs.has("multiplier") && !ctx.attrs.has("shift");
  if (!(multiplier_optional && absent) && (m.empty() || m.size() != s.size()))
    return ctx.error("multiplier and shift must have the same, non-zero number of entries (got {} and {})",
                     m.size(), s.size());
  if (m.size() > 1 && channels == 0) return ctx.error("multiplier must have one entry (per tensor)");
  if (m.size() > 1 && channels > 0 && (int64_t)m.size() != channels)
    return ctx.error("multiplier has {} entries; expected 1 or {} (one per output channel)", m.size(),
                     channels);
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] < INT32_MIN || m[i] > INT32_MAX) return ctx.error("multiplier {} does not fit int32", m[i]);
    if (s[i] < -31 || s[i] > 30) return ctx.error("shift {} is outside [-31, 30]", s[i]);
    r.m0.push_back((int32_t)m[i]);
    r.shift.push_back((int32_t)s[i]);
  }
  const IntRange range = dtype_range(r.out);
  const int64_t lo = ctx.attrs.has("act_min") ? std::max(ctx.attrs.i("act_min"), range.lo) : range.lo;
  const int64_t hi = ctx.attrs.has("act_max") ? std::min(ctx.attrs.i("act_max"), range.hi) : range.hi;
  if (lo > hi)
    return ctx.error("act_min..act_max [{}, {}] leaves nothing of {}'s range", ctx.attrs.i("act_min"),
                     ctx.attrs.i("act_max"), dtype_name(r.out));
  r.lo = (int32_t)lo;
  r.hi = (int32_t)hi;
  return r;
}

// ---- C ----

std::string sat32_c(CEmitBase& c) {
  return c.helper("weec_sat32",
                  "static int32_t weec_sat32(int64_t v) {\n"
                  "  return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;\n"
                  "}\n");
}

void register_c_helpers(CEmitBase& c) {
  c.helper(quant::kCHelpersName, quant::c_helpers_text());
  // clamp(zp + mbqm(acc), lo, hi), the sum in int64 so no zero point can overflow it.
  c.helper("weec_requant",
           "static int32_t weec_requant(int32_t acc, int32_t m0, int32_t shift, int32_t zp, int32_t lo,\n"
           "                            int32_t hi) {\n"
           "  const int64_t y = (int64_t)weec_mbqm(acc, m0, shift) + zp;\n"
           "  return y < lo ? lo : y > hi ? hi : (int32_t)y;\n"
           "}\n");
}

std::string requant_c(CEmitBase& c, const Requant& r, const std::string& acc, const std::string& m0,
                      const std::string& shift) {
  register_c_helpers(c);
  auto lit = [](int64_t v) { return c_literal_i64(v, DType::I32); };
  return fmt::format("({})weec_requant({}, {}, {}, {}, {}, {})", c_type(r.out), acc, m0, shift, lit(r.zp),
                     lit(r.lo), lit(r.hi));
}

std::string RequantC::m0(const Requant& r, const std::string& ch) const {
  return m0_table.empty() ? c_literal_i64(r.m0[0], DType::I32) : fmt::format("{}[{}]", m0_table, ch);
}
std::string RequantC::shift(const Requant& r, const std::string& ch) const {
  return shift_table.empty() ? c_literal_i64(r.shift[0], DType::I32) : fmt::format("{}[{}]", shift_table, ch);
}

std::string static_table(CEmitContext& c, const std::string& hint, DType t, const std::vector<int64_t>& v) {
  const std::string name = c.var(hint);
  c.w.line("static const {} {}[{}] = {{", c_type(t), name, std::max<size_t>(1, v.size()));
  for (size_t i = 0; i < v.size(); i += 12) {
    std::string row;
    for (size_t j = i; j < std::min(v.size(), i + 12); ++j) row += c_literal_i64(v[j], t) + ", ";
    c.w.line("  {}", row);
  }
  if (v.empty()) c.w.line("  0");
  c.w.line("}};");
  return name;
}

RequantC declare_requant_tables(CEmitContext& c, const Requant& r) {
  RequantC t;
  if (!r.per_channel()) return t;
  t.m0_table = static_table(c, "m0_", DType::I32, std::vector<int64_t>(r.m0.begin(), r.m0.end()));
  t.shift_table = static_table(c, "shift_", DType::I32, std::vector<int64_t>(r.shift.begin(), r.shift.end()));
  return t;
}

}  // namespace weec::qop
