// Comparisons (Equal Greater Less GreaterOrEqual LessOrEqual -> bool), logic
// (And Or Xor on bool) and Where, all with numpy broadcasting. Comparisons
// follow IEEE: any comparison with NaN is false. f16/bf16 compare in f32
// (exact). Equal also takes bool and string operands. Opset < 7 forms with
// `broadcast`/`axis` attributes are rewritten to numpy broadcasting on import.
#include "ops/elementwise_util.h"

namespace weec {

namespace {

enum class Cmp { Equal, Greater, Less, GreaterOrEqual, LessOrEqual, And, Or, Xor };

template <typename T>
bool compare(Cmp op, T a, T b) {
  switch (op) {
    case Cmp::Equal:
      return a == b;
    case Cmp::Greater:
      return a > b;
    case Cmp::Less:
      return a < b;
    case Cmp::GreaterOrEqual:
      return a >= b;
    case Cmp::LessOrEqual:
      return a <= b;
    case Cmp::And:
      return a && b;
    case Cmp::Or:
      return a || b;
    case Cmp::Xor:
      return a != b;
  }
  return false;
}

bool is_logic(Cmp op) { return op == Cmp::And || op == Cmp::Or || op == Cmp::Xor; }

// Operand dtypes allowed: logic ops bool only; Equal anything; the ordered
// comparisons numeric (bool is ordered too, harmlessly; ONNX excludes it).
Status check_operands(const NodeContext& ctx, Cmp op, DType a, DType b) {
  if (a != b) return ctx.error("operand dtypes differ: {} and {}", dtype_name(a), dtype_name(b));
  if (is_logic(op)) return check_accepts(ctx, Accepts::Bool, a);
  if (op != Cmp::Equal && a == DType::String)
    return ctx.error("string operands can only be compared for equality");
  return Status::ok();
}

Status compare_kernel(KernelContext& ctx, Cmp op) {
  const Tensor& a0 = ctx.input(0);
  const Tensor& b0 = ctx.input(1);
  WEEC_TRY(check_operands(ctx, op, a0.dtype(), b0.dtype()));
  if (a0.dtype() == DType::String) {
    auto dims = broadcast_dims({a0.dims(), b0.dims()});
    if (!dims) return ctx.error("{}", dims.status().message());
    Tensor out(DType::Bool, *dims);
    bool* o = out.data<bool>();
    std::vector<Dims> strides = {broadcast_strides(a0.dims(), *dims), broadcast_strides(b0.dims(), *dims)};
    for_each_broadcast(*dims, strides, [&](int64_t i, const int64_t* off) {
      o[i] = a0.strings()[off[0]] == b0.strings()[off[1]];
    });
    ctx.outputs[0] = std::move(out);
    return Status::ok();
  }
  bool half = is_half(a0.dtype());
  Tensor a = half ? to_f32(a0) : a0, b = half ? to_f32(b0) : b0;
  return visit_numeric(a.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    auto r = broadcast_binary<T, T, bool>(a, b, DType::Bool, [op](T x, T y) { return compare(op, x, y); });
    if (!r) return ctx.error("{}", r.status().message());
    ctx.outputs[0] = std::move(*r);
    return Status::ok();
  });
}

Status compare_infer(InferContext& ctx, Cmp op) {
  WEEC_TRY(check_operands(ctx, op, ctx.input_type(0).dtype, ctx.input_type(1).dtype));
  auto s = broadcast_shapes({ctx.input_type(0).shape, ctx.input_type(1).shape});
  if (!s) return ctx.error("{}", s.status().message());
  ctx.outputs[0] = TensorType{DType::Bool, *s};
  return Status::ok();
}

// C form: IEEE comparisons for floats; integer and bool ordered comparisons
// through helpers (see c_compare); strings are rejected by the backend.
Expected<std::string> compare_emit(CScalarContext& c, Cmp op) {
  const DType t = c.input_dtype(0);
  WEEC_TRY(check_operands(c, op, t, c.input_dtype(1)));
  if (!c_is_float(t) && !is_integer(t) && t != DType::Bool)
    return c.error("dtype {} is not supported by the C backend", dtype_name(t));
  const std::string &a = c.in[0], &b = c.in[1];
  switch (op) {
    case Cmp::Equal:
      return fmt::format("({} == {})", a, b);
    case Cmp::Greater:
      return c_compare(c, ">", a, b, t);
    case Cmp::Less:
      return c_compare(c, "<", a, b, t);
    case Cmp::GreaterOrEqual:
      return c_compare(c, ">=", a, b, t);
    case Cmp::LessOrEqual:
      return c_compare(c, "<=", a, b, t);
    case Cmp::And:
      return fmt::format("({} && {})", a, b);
    case Cmp::Or:
      return fmt::format("({} || {})", a, b);
    case Cmp::Xor:
      return fmt::format("({} != {})", a, b);
  }
  return c.error("unknown comparison");
}

OpSchema compare_schema(OpKind kind, std::string_view onnx, int since, InferFn infer, KernelFn kernel,
                        EmitScalarFn emit, ImportFn import, std::string_view doc) {
  OpSchema s{kind, onnx};
  s.since_opset = since;
  s.min_inputs = s.max_inputs = 2;
  s.fusion = FusionKind::Broadcast;
  s.infer = infer;
  s.kernel = kernel;
  s.import = import;
  s.emit_scalar = emit;
  s.doc = doc;
  return s;
}

}  // namespace

#define WEEC_COMPARE_OP(Name, since, import, doc)                                                \
  const OpSchema& schema_##Name() {                                                              \
    static const OpSchema s = compare_schema(                                                    \
        OpKind::Name, #Name, since, [](InferContext& c) { return compare_infer(c, Cmp::Name); }, \
        [](KernelContext& c) { return compare_kernel(c, Cmp::Name); },                           \
        [](CScalarContext& c) { return compare_emit(c, Cmp::Name); }, import, doc);              \
    return s;                                                                                    \
  }
#define WEEC_LEGACY(Name) [](ImportContext& c) { return import_legacy_broadcast(c, OpKind::Name); }
WEEC_COMPARE_OP(Equal, 1, WEEC_LEGACY(Equal), "a == b -> bool, broadcasting (numbers, bool, strings)")
WEEC_COMPARE_OP(Greater, 1, WEEC_LEGACY(Greater), "a > b -> bool, broadcasting")
WEEC_COMPARE_OP(Less, 1, WEEC_LEGACY(Less), "a < b -> bool, broadcasting")
WEEC_COMPARE_OP(GreaterOrEqual, 12, nullptr, "a >= b -> bool, broadcasting")
WEEC_COMPARE_OP(LessOrEqual, 12, nullptr, "a <= b -> bool, broadcasting")
WEEC_COMPARE_OP(And, 1, WEEC_LEGACY(And), "logical and of bools, broadcasting")
WEEC_COMPARE_OP(Or, 1, WEEC_LEGACY(Or), "logical or of bools, broadcasting")
WEEC_COMPARE_OP(Xor, 1, WEEC_LEGACY(Xor), "logical xor of bools, broadcasting")
#undef WEEC_LEGACY
#undef WEEC_COMPARE_OP

// ---- Where(cond, x, y): cond ? x : y with 3-way broadcasting ----

namespace {

Status where_kernel(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  if (c.dtype() != DType::Bool) return ctx.error("condition must be bool, got {}", dtype_name(c.dtype()));
  if (x.dtype() != y.dtype())
    return ctx.error("X and Y dtypes differ: {} and {}", dtype_name(x.dtype()), dtype_name(y.dtype()));
  auto dims = broadcast_dims({c.dims(), x.dims(), y.dims()});
  if (!dims) return ctx.error("{}", dims.status().message());
  Tensor out(x.dtype(), *dims);
  std::vector<Dims> strides = {broadcast_strides(c.dims(), *dims), broadcast_strides(x.dims(), *dims),
                               broadcast_strides(y.dims(), *dims)};
  const bool* pc = c.data<bool>();
  if (x.dtype() == DType::String) {
    for_each_broadcast(*dims, strides, [&](int64_t i, const int64_t* off) {
      out.strings()[i] = pc[off[0]] ? x.strings()[off[1]] : y.strings()[off[2]];
    });
  } else {  // any fixed-size dtype: copy the element's bytes
    const size_t es = dtype_size(x.dtype());
    const auto* px = static_cast<const uint8_t*>(x.raw());
    const auto* py = static_cast<const uint8_t*>(y.raw());
    auto* po = static_cast<uint8_t*>(out.raw());
    for_each_broadcast(*dims, strides, [&](int64_t i, const int64_t* off) {
      const uint8_t* src = pc[off[0]] ? px + off[1] * es : py + off[2] * es;
      std::memcpy(po + i * es, src, es);
    });
  }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

Status where_infer(InferContext& ctx) {
  if (ctx.input_type(0).dtype != DType::Bool)
    return ctx.error("condition must be bool, got {}", dtype_name(ctx.input_type(0).dtype));
  if (ctx.input_type(1).dtype != ctx.input_type(2).dtype)
    return ctx.error("X and Y dtypes differ: {} and {}", dtype_name(ctx.input_type(1).dtype),
                     dtype_name(ctx.input_type(2).dtype));
  auto s = broadcast_shapes({ctx.input_type(0).shape, ctx.input_type(1).shape, ctx.input_type(2).shape});
  if (!s) return ctx.error("{}", s.status().message());
  ctx.outputs[0] = TensorType{ctx.input_type(1).dtype, *s};
  return Status::ok();
}

Expected<std::string> where_emit(CScalarContext& c) {
  if (c.input_dtype(0) != DType::Bool)
    return c.error("condition must be bool, got {}", dtype_name(c.input_dtype(0)));
  if (c.input_dtype(1) != c.input_dtype(2))
    return c.error("X and Y dtypes differ: {} and {}", dtype_name(c.input_dtype(1)),
                   dtype_name(c.input_dtype(2)));
  return fmt::format("({} ? {} : {})", c.in[0], c.in[1], c.in[2]);
}

}  // namespace

const OpSchema& schema_Where() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Where, "Where"};
    m.since_opset = 9;
    m.min_inputs = m.max_inputs = 3;
    m.fusion = FusionKind::Broadcast;
    m.infer = where_infer;
    m.kernel = where_kernel;
    m.emit_scalar = where_emit;
    m.doc = "cond ? x : y, 3-way broadcasting; any dtype for x, y";
    return m;
  }();
  return s;
}

}  // namespace weec
