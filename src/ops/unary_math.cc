// Elementwise unary math: Abs Neg Exp Log Sqrt Reciprocal Floor Ceil Round
// Sign Erf, the trigonometric and hyperbolic functions, IsNaN, IsInf and Not.
// Floats compute in their own precision (f16/bf16 in f32, rounded once) with
// IEEE semantics: NaN propagates, Log(0) = -inf, Sqrt(-1) = NaN. Round is
// half to even. Abs, Neg and Sign also take integers; those wrap like two's
// complement, so Abs(INT_MIN) == Neg(INT_MIN) == INT_MIN, as numpy.
#include "ops/elementwise_util.h"
#include "ops/grad.h"

namespace weec {

namespace {

enum class UOp {
  Abs,
  Neg,
  Exp,
  Log,
  Sqrt,
  Reciprocal,
  Floor,
  Ceil,
  Round,
  Sign,
  Erf,
  Sin,
  Cos,
  Tan,
  Asin,
  Acos,
  Atan,
  Sinh,
  Cosh,
  Asinh,
  Acosh,
  Atanh
};

template <typename T>
T float_op(UOp op, T x) {
  switch (op) {
    case UOp::Abs:
      return std::fabs(x);
    case UOp::Neg:
      return -x;
    case UOp::Exp:
      return std::exp(x);
    case UOp::Log:
      return std::log(x);
    case UOp::Sqrt:
      return std::sqrt(x);
    case UOp::Reciprocal:
      return T(1) / x;
    case UOp::Floor:
      return std::floor(x);
    case UOp::Ceil:
      return std::ceil(x);
    case UOp::Round:
      return std::nearbyint(x);  // default FP env rounds half to even
    case UOp::Sign:
      return x > 0 ? T(1) : x < 0 ? T(-1) : x;  // NaN and +-0 pass through, as numpy
    case UOp::Erf:
      return std::erf(x);
    case UOp::Sin:
      return std::sin(x);
    case UOp::Cos:
      return std::cos(x);
    case UOp::Tan:
      return std::tan(x);
    case UOp::Asin:
      return std::asin(x);
    case UOp::Acos:
      return std::acos(x);
    case UOp::Atan:
      return std::atan(x);
    case UOp::Sinh:
      return std::sinh(x);
    case UOp::Cosh:
      return std::cosh(x);
    case UOp::Asinh:
      return std::asinh(x);
    case UOp::Acosh:
      return std::acosh(x);
    case UOp::Atanh:
      return std::atanh(x);
  }
  return x;
}

// Integer Abs/Neg/Sign. Negation goes through the unsigned type so INT_MIN
// wraps to itself instead of overflowing (undefined behaviour in C++).
template <typename T>
T int_op(UOp op, T x) {
  using U = std::make_unsigned_t<T>;
  switch (op) {
    case UOp::Abs:
      if constexpr (std::is_signed_v<T>) return x < 0 ? T(U(0) - U(x)) : x;
      return x;
    case UOp::Neg:
      return T(U(0) - U(x));
    case UOp::Sign:
      return x > 0 ? T(1) : x < 0 ? T(-1) : T(0);
    default:
      return x;  // unreachable: other ops reject integers in infer and kernel
  }
}

Status unary_kernel(KernelContext& ctx, UOp op, Accepts acc) {
  const Tensor& x = ctx.input(0);
  WEEC_TRY(check_accepts(ctx, acc, x.dtype()));
  auto r = map_unary<true>(x, [op](auto v) {
    using T = decltype(v);
    if constexpr (std::is_floating_point_v<T>)
      return float_op(op, v);
    else
      return int_op(op, v);
  });
  if (!r) return ctx.error("{}", r.status().message());
  ctx.outputs[0] = std::move(*r);
  return Status::ok();
}

// IsNaN / IsInf: float -> bool. f16/bf16 widen to f32 exactly.
Status classify_kernel(KernelContext& ctx, bool nan, bool neg, bool pos) {
  const Tensor& x0 = ctx.input(0);
  WEEC_TRY(check_accepts(ctx, Accepts::Float, x0.dtype()));
  Tensor x = x0.dtype() == DType::F64 ? x0 : to_f32(x0);
  Tensor out(DType::Bool, x.dims());
  bool* o = out.data<bool>();
  auto run = [&](const auto* in) {
    for (int64_t i = 0; i < x.numel(); ++i) {
      auto v = in[i];
      o[i] = nan ? std::isnan(v) : std::isinf(v) && ((v < 0 && neg) || (v > 0 && pos));
    }
  };
  if (x.dtype() == DType::F64)
    run(x.data<double>());
  else
    run(x.data<float>());
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

Status infer_classify(InferContext& ctx) {
  WEEC_TRY(check_accepts(ctx, Accepts::Float, ctx.input_type(0).dtype));
  ctx.outputs[0] = TensorType{DType::Bool, ctx.input_type(0).shape};
  return Status::ok();
}

// Gradients (ops/grad.h), from y where the derivative is a function of it.
Status unary_grad(GradContext& c) {
  Value *x = c.x(0), *y = c.y(0), *dy = c.dy(0);
  const DType t = x->type.dtype;
  auto mul = [&](Value* a, Value* b) { return c.op(OpKind::Mul, {a, b}); };
  switch (c.node.op) {
    case OpKind::Neg:
      c.set(0, c.op(OpKind::Neg, {dy}));
      break;
    case OpKind::Abs:
      c.set(0, mul(dy, c.op(OpKind::Sign, {x})));
      break;
    case OpKind::Exp:
      c.set(0, mul(dy, y));
      break;
    case OpKind::Log:
      c.set(0, c.op(OpKind::Div, {dy, x}));
      break;
    case OpKind::Sqrt:  // 1 / (2 y)
      c.set(0, c.op(OpKind::Div, {dy, mul(y, c.scalar(2, t))}));
      break;
    case OpKind::Reciprocal:  // -y^2
      c.set(0, c.op(OpKind::Neg, {mul(dy, mul(y, y))}));
      break;
    default:
      return c.error("no gradient");
  }
  return Status::ok();
}

OpSchema unary_schema(OpKind kind, std::string_view onnx, int since, InferFn infer, KernelFn kernel,
                      EmitScalarFn emit, std::string_view doc) {
  OpSchema s{kind, onnx};
  s.since_opset = since;
  s.fusion = FusionKind::Elementwise;
  s.infer = infer;
  s.kernel = kernel;
  s.emit_scalar = emit;
  for (OpKind k : {OpKind::Neg, OpKind::Abs, OpKind::Exp, OpKind::Log, OpKind::Sqrt, OpKind::Reciprocal})
    if (kind == k) s.grad = unary_grad;
  s.doc = doc;
  return s;
}

// libm name of the ops that are one <math.h> call, or "".
const char* libm_name(UOp op) {
  switch (op) {
    case UOp::Abs:
      return "fabs";
    case UOp::Exp:
      return "exp";
    case UOp::Log:
      return "log";
    case UOp::Sqrt:
      return "sqrt";
    case UOp::Floor:
      return "floor";
    case UOp::Ceil:
      return "ceil";
    case UOp::Round:
      return "nearbyint";  // as the kernel: the default FP environment rounds half to even
    case UOp::Erf:
      return "erf";
    case UOp::Sin:
      return "sin";
    case UOp::Cos:
      return "cos";
    case UOp::Tan:
      return "tan";
    case UOp::Asin:
      return "asin";
    case UOp::Acos:
      return "acos";
    case UOp::Atan:
      return "atan";
    case UOp::Sinh:
      return "sinh";
    case UOp::Cosh:
      return "cosh";
    case UOp::Asinh:
      return "asinh";
    case UOp::Acosh:
      return "acosh";
    case UOp::Atanh:
      return "atanh";
    default:
      return "";
  }
}

// C expression of float_op / int_op for one element.
Expected<std::string> unary_emit(CScalarContext& c, UOp op, Accepts acc) {
  const DType t = c.input_dtype(0);
  WEEC_TRY(check_accepts(c, acc, t));
  const std::string& x = c.in[0];
  if (c_is_float(t)) {
    switch (op) {
      case UOp::Neg:
        return fmt::format("(-{})", x);
      case UOp::Reciprocal:
        return fmt::format("({} / {})", c_literal(1, t), x);
      case UOp::Sign:
        return fmt::format("({0} > 0 ? {1} : {0} < 0 ? {2} : {0})", x, c_literal(1, t), c_literal(-1, t));
      default:
        return fmt::format("{}({})", c.math(libm_name(op), t), x);
    }
  }
  if (!is_integer(t)) return c.error("dtype {} is not supported by the C backend", dtype_name(t));
  const std::string T = c_type(t);
  switch (op) {
    case UOp::Abs:
      if (!is_signed(t)) return x;
      return fmt::format("({0} < 0 ? {1} : {0})", x, c_wrap_neg(x, t));
    case UOp::Neg:
      return c_wrap_neg(x, t);
    case UOp::Sign:
      if (!is_signed(t)) return fmt::format("(({})({} != 0))", T, x);
      return fmt::format("(({0})({1} > 0 ? 1 : {1} < 0 ? -1 : 0))", T, x);
    default:
      return c.error("integer operands are not supported");
  }
}

// IsNaN (nan) or IsInf with the sign selection.
Expected<std::string> classify_emit(CScalarContext& c, bool nan, bool neg, bool pos) {
  const DType t = c.input_dtype(0);
  if (!c_is_float(t)) return c.error("dtype {} is not supported by the C backend", dtype_name(t));
  const std::string& x = c.in[0];
  if (nan) return fmt::format("(bool){}({})", c.math("isnan", DType::F64), x);
  std::string p = fmt::format("({} == {})", x, c.infinity(t)),
              n = fmt::format("({} == {})", x, c.infinity(t, true));
  if (pos && neg) return fmt::format("({} || {})", p, n);
  if (pos) return p;
  if (neg) return n;
  return std::string("0");
}

}  // namespace

#define WEEC_UNARY_OP(Name, since, acc, doc)                                                  \
  const OpSchema& schema_##Name() {                                                           \
    static const OpSchema s = unary_schema(                                                   \
        OpKind::Name, #Name, since, [](InferContext& c) { return infer_unary_same(c, acc); }, \
        [](KernelContext& c) { return unary_kernel(c, UOp::Name, acc); },                     \
        [](CScalarContext& c) { return unary_emit(c, UOp::Name, acc); }, doc);                \
    return s;                                                                                 \
  }
WEEC_UNARY_OP(Abs, 1, Accepts::Numeric, "|x|; integers wrap (Abs(INT_MIN) = INT_MIN)")
WEEC_UNARY_OP(Neg, 1, Accepts::FloatOrSignedInt, "-x; integers wrap")
WEEC_UNARY_OP(Exp, 1, Accepts::Float, "e^x")
WEEC_UNARY_OP(Log, 1, Accepts::Float, "natural logarithm")
WEEC_UNARY_OP(Sqrt, 1, Accepts::Float, "square root (NaN for x < 0)")
WEEC_UNARY_OP(Reciprocal, 1, Accepts::Float, "1/x")
WEEC_UNARY_OP(Floor, 1, Accepts::Float, "round toward -inf")
WEEC_UNARY_OP(Ceil, 1, Accepts::Float, "round toward +inf")
WEEC_UNARY_OP(Round, 11, Accepts::Float, "round to nearest, halves to even")
WEEC_UNARY_OP(Sign, 9, Accepts::Numeric, "-1, 0 or 1 (NaN stays NaN)")
WEEC_UNARY_OP(Erf, 9, Accepts::Float, "Gauss error function")
WEEC_UNARY_OP(Sin, 7, Accepts::Float, "sine")
WEEC_UNARY_OP(Cos, 7, Accepts::Float, "cosine")
WEEC_UNARY_OP(Tan, 7, Accepts::Float, "tangent")
WEEC_UNARY_OP(Asin, 7, Accepts::Float, "arcsine")
WEEC_UNARY_OP(Acos, 7, Accepts::Float, "arccosine")
WEEC_UNARY_OP(Atan, 7, Accepts::Float, "arctangent")
WEEC_UNARY_OP(Sinh, 9, Accepts::Float, "hyperbolic sine")
WEEC_UNARY_OP(Cosh, 9, Accepts::Float, "hyperbolic cosine")
WEEC_UNARY_OP(Asinh, 9, Accepts::Float, "inverse hyperbolic sine")
WEEC_UNARY_OP(Acosh, 9, Accepts::Float, "inverse hyperbolic cosine")
WEEC_UNARY_OP(Atanh, 9, Accepts::Float, "inverse hyperbolic tangent")
#undef WEEC_UNARY_OP

const OpSchema& schema_IsNaN() {
  static const OpSchema s = unary_schema(
      OpKind::IsNaN, "IsNaN", 9, infer_classify,
      [](KernelContext& c) { return classify_kernel(c, true, false, false); },
      [](CScalarContext& c) { return classify_emit(c, true, false, false); }, "x is NaN -> bool");
  return s;
}

const OpSchema& schema_IsInf() {
  static const OpSchema s = [] {
    OpSchema m = unary_schema(
        OpKind::IsInf, "IsInf", 10, infer_classify,
        [](KernelContext& c) {
          return classify_kernel(c, false, c.attrs.i("detect_negative") != 0,
                                 c.attrs.i("detect_positive") != 0);
        },
        [](CScalarContext& c) {
          return classify_emit(c, false, c.attrs.i("detect_negative") != 0,
                               c.attrs.i("detect_positive") != 0);
        },
        "x is +-inf -> bool (detect_negative / detect_positive select the signs)");
    m.attrs = {attr_int("detect_negative", 1), attr_int("detect_positive", 1)};
    return m;
  }();
  return s;
}

const OpSchema& schema_Not() {
  static const OpSchema s = unary_schema(
      OpKind::Not, "Not", 1, [](InferContext& c) { return infer_unary_same(c, Accepts::Bool); },
      [](KernelContext& c) -> Status {
        WEEC_TRY(check_accepts(c, Accepts::Bool, c.input(0).dtype()));
        Tensor out(DType::Bool, c.input(0).dims());
        const bool* in = c.input(0).data<bool>();
        bool* o = out.data<bool>();
        for (int64_t i = 0; i < out.numel(); ++i) o[i] = !in[i];
        c.outputs[0] = std::move(out);
        return Status::ok();
      },
      [](CScalarContext& c) -> Expected<std::string> {
        WEEC_TRY(check_accepts(c, Accepts::Bool, c.input_dtype(0)));
        return fmt::format("(!{})", c.in[0]);
      },
      "logical not of bool");
  return s;
}

}  // namespace weec
