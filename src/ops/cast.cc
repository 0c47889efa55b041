// Cast (attribute `to`: an ONNX TensorProto.DataType code) and CastLike (the
// dtype of input 1). Conversions, element by element:
// - float -> integer truncates toward zero; out-of-range values and +-inf
//   saturate to the integer's limits and NaN becomes 0 (C++ leaves all three
//   undefined; saturation is what a C backend can reproduce portably).
// - integer -> narrower integer wraps (two's complement), as numpy.
// - anything -> bool is x != 0 (so NaN -> true); bool -> number is 0 / 1.
// - -> f16/bf16 rounds once, to nearest even, from the exact source value
//   (f64 sources do not pass through f32). Overflow gives +-inf.
// - number -> string: floats in shortest round-trip form ("0.1", "1e-05"),
//   integral ones with ".0" ("100.0"), "NaN", "INF", "-INF"; integers in
//   decimal; bool as "1" / "0".
// - string -> number: decimal or scientific notation; "NaN", "INF", "+INF",
//   "-INF" (any case) and "inf"/"infinity"; integers parse exactly when the
//   string is an integer literal, else as a float that is then converted as
//   above; bool also accepts "true"/"false". Unparsable strings are an error.
// Opset < 6 spelled `to` as a string ("FLOAT"); the import hook maps it.
#include <charconv>
#include <cstring>

#include "ops/elementwise_util.h"

namespace weec {

namespace {

struct OnnxType {
  int code;
  std::string_view name;
  DType dtype;
};
constexpr OnnxType kOnnxTypes[] = {
    {1, "FLOAT", DType::F32},    {2, "UINT8", DType::U8},       {3, "INT8", DType::I8},
    {4, "UINT16", DType::U16},   {5, "INT16", DType::I16},      {6, "INT32", DType::I32},
    {7, "INT64", DType::I64},    {8, "STRING", DType::String},  {9, "BOOL", DType::Bool},
    {10, "FLOAT16", DType::F16}, {11, "DOUBLE", DType::F64},    {12, "UINT32", DType::U32},
    {13, "UINT64", DType::U64},  {16, "BFLOAT16", DType::BF16},
};

std::optional<DType> dtype_of_code(int64_t code) {
  for (auto& t : kOnnxTypes)
    if (t.code == code) return t.dtype;
  return std::nullopt;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper((unsigned char)a[i]) != std::toupper((unsigned char)b[i])) return false;
  return true;
}

// Rounds |d| to nearest even in a binary format with `mant` stored mantissa
// bits and exponent bias `bias` (f16: 10, 15; bf16: 7, 127); returns the bits.
// Scaling by powers of two is exact in double, so one nearbyint is the only rounding.
uint16_t round_to_16bit_float(double d, int mant, int bias) {
  const uint16_t sign = std::signbit(d) ? 0x8000 : 0;
  const uint16_t exp_mask = (uint16_t)(((1 << (15 - mant)) - 1) << mant);
  if (std::isnan(d)) return sign | exp_mask | (uint16_t)(1 << (mant - 1));
  double a = std::fabs(d);
  if (std::isinf(a)) return sign | exp_mask;
  if (a == 0) return sign;
  int e;
  std::frexp(a, &e);
  e -= 1;  // a = m * 2^e with m in [1, 2)
  const int min_exp = 1 - bias;
  if (e < min_exp) {  // subnormal; rounding up to 2^mant yields the smallest normal's bits
    return sign | (uint16_t)std::nearbyint(std::ldexp(a, mant - min_exp));
  }
  double r = std::nearbyint(std::ldexp(a, mant - e));  // in [2^mant, 2^(mant+1)]
  if (r == std::ldexp(1.0, mant + 1)) {
    r /= 2;
    ++e;
  }
  if (e > bias) return sign | exp_mask;  // overflow -> inf
  return sign | (uint16_t)((e + bias) << mant) | (uint16_t)(r - std::ldexp(1.0, mant));
}

uint16_t to_16bit(double d, DType to) {
  return to == DType::F16 ? round_to_16bit_float(d, 10, 15) : round_to_16bit_float(d, 7, 127);
}
double from_16bit(uint16_t bits, DType from) {
  return from == DType::F16 ? half_to_float(bits) : bfloat16_to_float(bits);
}

template <typename To, typename From>
To cast_scalar(From x) {
  if constexpr (std::is_same_v<To, bool>)
    return x != From(0);
  else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>)
    return saturate_cast<To>((double)x);
  else
    return static_cast<To>(x);
}

// ---- strings ----

// Shortest round-trip digits of a finite value (fmt's "{}").
std::string shortest(double v, DType from) {
  if (from == DType::F64) return fmt::format("{}", v);
  if (is_half(from)) {
    // Fewest digits that round back to the same 16-bit value, printed the way f32 would print them.
    uint16_t bits = to_16bit(v, from);
    for (int p = 1; p <= 9; ++p) {
      std::string s = fmt::format("{:.{}g}", v, p);
      float f = 0;
      std::from_chars(s.data(), s.data() + s.size(), f);
      if (to_16bit(f, from) == bits) return fmt::format("{}", f);
    }
  }
  return fmt::format("{}", (float)v);
}

std::string float_to_string(double v, DType from) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v < 0 ? "-INF" : "INF";
  std::string s = shortest(v, from);
  // Integral values keep a ".0" ("100.0", not "100"), as numpy's str() that made the ONNX test data.
  if (s.find_first_not_of("-0123456789") == std::string::npos) s += ".0";
  return s;
}

template <typename T>
bool parse_whole(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace((unsigned char)s.front())) s.remove_prefix(1);
  while (!s.empty() && std::isspace((unsigned char)s.back())) s.remove_suffix(1);
  return s;
}

// from_chars takes no leading '+'; drop one (but not from "+-1").
std::string_view drop_plus(std::string_view s) {
  return s.size() > 1 && s[0] == '+' && s[1] != '+' && s[1] != '-' ? s.substr(1) : s;
}

// Parses a numeric literal (from_chars also takes "inf", "infinity", "nan" in any case).
bool parse_double(std::string_view s, double& out) { return parse_whole(drop_plus(trim(s)), out); }

template <typename To>
bool parse_to(const std::string& str, To& out) {
  std::string_view s = drop_plus(trim(str));
  if constexpr (std::is_same_v<To, bool>) {
    if (iequals(s, "true") || iequals(s, "false")) {
      out = iequals(s, "true");
      return true;
    }
  } else if constexpr (std::is_integral_v<To>) {
    // Integer literals convert exactly (wrapping like an integer cast).
    if constexpr (std::is_unsigned_v<To>) {
      uint64_t u;
      if (parse_whole(s, u)) return out = static_cast<To>(u), true;
    }
    int64_t i;
    if (parse_whole(s, i)) return out = static_cast<To>(i), true;
  } else if constexpr (std::is_same_v<To, float>) {
    if (parse_whole(s, out)) return true;  // directly, so there is one rounding
  }
  double d;
  if (!parse_whole(s, d)) return false;
  out = cast_scalar<To>(d);
  return true;
}

Expected<Tensor> cast_from_string(const Tensor& in, DType to) {
  Tensor out(to, in.dims());
  for (int64_t i = 0; i < in.numel(); ++i) {
    const std::string& s = in.strings()[i];
    bool ok = true;
    if (is_half(to)) {
      double d;
      ok = parse_double(s, d);
      if (ok) out.data<uint16_t>()[i] = to_16bit(d, to);
    } else {
      Status st = visit_numeric(to, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T v{};
        ok = parse_to<T>(s, v);
        out.data<T>()[i] = v;
        return Status::ok();
      });
      (void)st;  // `to` is numeric here
    }
    if (!ok) return error("cannot convert string '{}' to {}", s, dtype_name(to));
  }
  return out;
}

Tensor cast_to_string(const Tensor& in) {
  Tensor out(DType::String, in.dims());
  DType from = in.dtype();
  for (int64_t i = 0; i < in.numel(); ++i) {
    std::string& o = out.strings()[i];
    if (is_float(from))
      o = float_to_string(in.get_double(i), from);
    else if (from == DType::U64)
      o = fmt::format("{}", in.data<uint64_t>()[i]);
    else
      o = fmt::format("{}", in.get_int(i));  // ints exact; bool 1 / 0
  }
  return out;
}

}  // namespace

Expected<Tensor> onnx_cast(const Tensor& in, DType to) {
  if (in.dtype() == to) return in;
  if (to == DType::String) return cast_to_string(in);
  if (in.dtype() == DType::String) return cast_from_string(in, to);
  if (is_half(to)) {
    Tensor out(to, in.dims());
    uint16_t* o = out.data<uint16_t>();
    // get_double is exact for every float source and for integers below 2^53.
    for (int64_t i = 0; i < in.numel(); ++i) o[i] = to_16bit(in.get_double(i), to);
    return out;
  }
  Tensor src = in;
  if (is_half(in.dtype())) {  // widen exactly, then convert as f32
    src = Tensor(DType::F32, in.dims());
    for (int64_t i = 0; i < in.numel(); ++i)
      src.data<float>()[i] = (float)from_16bit(in.data<uint16_t>()[i], in.dtype());
  }
  Tensor out(to, in.dims());
  Status st = visit_numeric(src.dtype(), [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    return visit_numeric(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      const From* s = src.data<From>();
      To* d = out.data<To>();
      for (int64_t i = 0; i < src.numel(); ++i) d[i] = cast_scalar<To>(s[i]);
      return Status::ok();
    });
  });
  if (!st) return st;
  return out;
}

namespace {

Expected<DType> cast_target(const NodeContext& ctx) {
  int64_t code = ctx.attrs.i("to");
  auto dt = dtype_of_code(code);
  if (!dt) return ctx.error("'to' = {} is not a supported ONNX data type code", code);
  return *dt;
}

Status cast_infer(InferContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(DType to, cast_target(ctx));
  ctx.outputs[0] = TensorType{to, ctx.input_type(0).shape};
  return Status::ok();
}

Status cast_kernel(KernelContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(DType to, cast_target(ctx));
  auto r = onnx_cast(ctx.input(0), to);
  if (!r) return ctx.error("{}", r.status().message());
  ctx.outputs[0] = std::move(*r);
  return Status::ok();
}

// C form of cast_scalar: float -> integer via the saturating helper, -> bool
// as x != 0, everything else a C conversion (integers wrap, as numpy; to
// float rounds to nearest like the kernel's static_cast).
Expected<std::string> cast_emit(CScalarContext& c, DType to) {
  const DType from = c.input_dtype(0);
  for (DType t : {from, to})
    if (!c_is_float(t) && !is_integer(t) && t != DType::Bool)
      return c.error("cast between {} and {} is not supported by the C backend", dtype_name(from),
                     dtype_name(to));
  const std::string& x = c.in[0];
  if (from == to) return x;
  if (to == DType::Bool) return fmt::format("({} != 0)", x);
  if (c_is_float(from) && !c_is_float(to)) return fmt::format("{}((double){})", c_saturate_fn(c, to), x);
  return fmt::format("(({}){})", c_type(to), x);
}

// Opset < 6: `to` was a string naming the type ("FLOAT", "INT64", ...).
Status cast_import(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  auto it = attrs.find("to");
  if (it != attrs.end() && it->second.kind == Attribute::Kind::String) {
    const std::string& name = it->second.s;
    const OnnxType* found = nullptr;
    for (auto& t : kOnnxTypes)
      if (iequals(t.name, name)) found = &t;
    if (!found) return ctx.error("Cast 'to' = \"{}\" is not a supported type name", name);
    it->second = Attribute::of_int(found->code);
  }
  ctx.emit(OpKind::Cast, ctx.inputs, ctx.outputs, attrs);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Cast() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Cast, "Cast"};
    m.attrs = {attr_required("to", Attribute::Kind::Int)};
    m.fusion = FusionKind::Elementwise;
    m.infer = cast_infer;
    m.kernel = cast_kernel;
    m.import = cast_import;
    m.emit_scalar = [](CScalarContext& c) -> Expected<std::string> {
      WEEC_ASSIGN_OR_RETURN(DType to, cast_target(c));
      return cast_emit(c, to);
    };
    m.doc = "convert to dtype `to` (ONNX code); float->int truncates and saturates, NaN->0";
    return m;
  }();
  return s;
}

const OpSchema& schema_CastLike() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::CastLike, "CastLike"};
    m.since_opset = 15;
    m.min_inputs = m.max_inputs = 2;
    m.fusion = FusionKind::Elementwise;
    m.infer = [](InferContext& c) -> Status {
      c.outputs[0] = TensorType{c.input_type(1).dtype, c.input_type(0).shape};
      return Status::ok();
    };
    m.kernel = [](KernelContext& c) -> Status {
      auto r = onnx_cast(c.input(0), c.input(1).dtype());
      if (!r) return c.error("{}", r.status().message());
      c.outputs[0] = std::move(*r);
      return Status::ok();
    };
    m.emit_scalar = [](CScalarContext& c) { return cast_emit(c, c.input_dtype(1)); };
    m.doc = "convert input 0 to the dtype of input 1 (rules as Cast)";
    return m;
  }();
  return s;
}

}  // namespace weec
