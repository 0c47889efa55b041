#include "ops/c_emit.h"

#include <cmath>
#include <limits>

namespace weec {

std::string c_type(DType t) {
  switch (t) {
    case DType::F32:
      return "float";
    case DType::F64:
      return "double";
    case DType::I8:
      return "int8_t";
    case DType::U8:
      return "uint8_t";
    case DType::I16:
      return "int16_t";
    case DType::U16:
      return "uint16_t";
    case DType::I32:
      return "int32_t";
    case DType::U32:
      return "uint32_t";
    case DType::I64:
      return "int64_t";
    case DType::U64:
      return "uint64_t";
    case DType::Bool:
      return "bool";
    default:
      return "";
  }
}

namespace {

std::string float_text(double v, bool is_f32) {
  std::string s = is_f32 ? fmt::format("{}", (float)v) : fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  if (is_f32) s += "f";
  return v < 0 ? "(" + s + ")" : s;
}

}  // namespace

std::string c_literal_i64(int64_t v, DType t) {
  switch (t) {
    case DType::F32:
    case DType::F64:
      return float_text((double)v, t == DType::F32);
    case DType::Bool:
      return v ? "1" : "0";
    case DType::I64:
      if (v == std::numeric_limits<int64_t>::min()) return "(-9223372036854775807LL - 1)";
      return v < 0 ? fmt::format("({}LL)", v) : fmt::format("{}LL", v);
    case DType::U64:
      return fmt::format("{}ULL", (uint64_t)v);
    case DType::U32:
      return fmt::format("{}u", (uint32_t)v);
    case DType::I32:
      if (v == std::numeric_limits<int32_t>::min()) return "(-2147483647 - 1)";
      [[fallthrough]];
    default:
      return v < 0 ? fmt::format("({})", v) : fmt::format("{}", v);
  }
}

std::string c_literal(double v, DType t) {
  if (t == DType::F32 || t == DType::F64) {
    if (std::isnan(v)) return t == DType::F32 ? "NAN" : "(double)NAN";
    if (std::isinf(v)) {
      std::string s = t == DType::F32 ? "INFINITY" : "(double)INFINITY";
      return v < 0 ? "(-" + s + ")" : s;
    }
    return float_text(v, t == DType::F32);
  }
  if (t == DType::U64) return fmt::format("{}ULL", (uint64_t)v);
  return c_literal_i64((int64_t)v, t);
}

std::string c_lowest(DType t) {
  switch (t) {
    case DType::F32:
      return "(-3.40282347e+38f)";
    case DType::F64:
      return "(-1.7976931348623157e+308)";
    case DType::I8:
      return "(-128)";
    case DType::I16:
      return "(-32768)";
    case DType::I32:
      return c_literal_i64(std::numeric_limits<int32_t>::min(), t);
    case DType::I64:
      return c_literal_i64(std::numeric_limits<int64_t>::min(), t);
    default:
      return "0";
  }
}

std::string c_highest(DType t) {
  switch (t) {
    case DType::F32:
      return "3.40282347e+38f";
    case DType::F64:
      return "1.7976931348623157e+308";
    case DType::I8:
      return "127";
    case DType::U8:
      return "255";
    case DType::I16:
      return "32767";
    case DType::U16:
      return "65535";
    case DType::I32:
      return "2147483647";
    case DType::U32:
      return "4294967295u";
    case DType::I64:
      return "9223372036854775807LL";
    case DType::U64:
      return "18446744073709551615ULL";
    case DType::Bool:
      return "1";
    default:
      return "0";
  }
}

bool CModuleNeeds::has_helper(const std::string& name) const {
  for (auto& h : helpers)
    if (h.first == name) return true;
  return false;
}

std::string CEmitBase::math(const std::string& fn, DType t) {
  std::string name = t == DType::F32 ? fn + "f" : fn;
  needs.libm.insert(name);
  return name;
}

const std::string& CEmitBase::helper(const std::string& name, const std::string& definition) {
  for (auto& h : needs.helpers)
    if (h.first == name) return h.first;
  needs.helpers.emplace_back(name, definition);
  return needs.helpers.back().first;
}

std::string CEmitBase::infinity(DType t, bool negative) {
  needs.libm.insert("INFINITY");
  return c_literal(negative ? -HUGE_VAL : HUGE_VAL, t);
}

std::string CEmitBase::nan(DType t) {
  needs.libm.insert("NAN");
  return c_literal(std::nan(""), t);
}

Dims CEmitContext::in_dims(size_t i) const { return node.inputs[i]->type.shape.static_dims(); }

Dims CEmitContext::out_dims(size_t k) const { return node.outputs[k]->type.shape.static_dims(); }

int64_t CEmitContext::in_count(size_t i) const {
  int64_t n = 1;
  for (int64_t d : node.inputs[i]->type.shape.static_dims()) n *= d;
  return n;
}

int64_t CEmitContext::out_count(size_t k) const {
  int64_t n = 1;
  for (int64_t d : node.outputs[k]->type.shape.static_dims()) n *= d;
  return n;
}

std::vector<std::string> CEmitContext::open_loops(const Dims& dims, const std::string& hint) {
  std::vector<std::string> vars;
  for (int64_t d : dims) {
    std::string v = var(hint);
    w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", v, d);
    vars.push_back(v);
  }
  return vars;
}

void CEmitContext::close_loops(size_t n) {
  for (size_t i = 0; i < n; ++i) w.close();
}

std::string CEmitContext::flat_index(const Dims& dims, const std::vector<std::string>& idx) {
  if (dims.empty()) return "0";
  std::string s;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (d == 0)
      s = idx[0];
    else if (s == "0")
      s = idx[d];
    else
      s = fmt::format("({}) * {} + {}", s, dims[d], idx[d]);
  }
  return s;
}

}  // namespace weec
