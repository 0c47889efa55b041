// Activations: Relu Sigmoid Tanh Softplus Softsign LeakyRelu Elu Selu Celu
// HardSigmoid HardSwish ThresholdedRelu Shrink PRelu Clip. Floats compute in
// their own precision (f16/bf16 in f32, rounded once). NaN propagates through
// every op except Shrink (NaN -> 0: its comparisons are false), matching the
// ONNX numpy references. Clip's opset < 11 min/max attributes become constant
// inputs in the import hook; PRelu's opset < 7 per-channel slope ([C] for an
// [N,C,...] input) is reshaped to [C,1,...] so numpy broadcasting applies.
#include "ops/elementwise_util.h"
#include "ops/grad.h"

namespace weec {

namespace {

// Runs f on every element; f is a generic lambda over the storage type.
template <typename F>
Status activation_kernel(KernelContext& ctx, Accepts acc, F&& f) {
  WEEC_TRY(check_accepts(ctx, acc, ctx.input(0).dtype()));
  auto r = acc == Accepts::Float ? map_unary<false>(ctx.input(0), f) : map_unary<true>(ctx.input(0), f);
  if (!r) return ctx.error("{}", r.status().message());
  ctx.outputs[0] = std::move(*r);
  return Status::ok();
}

// v clamped to [lo, hi] (hi wins if lo > hi, as numpy.clip); NaN passes through.
template <typename T>
T clamp_nan(T v, T lo, T hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

Status infer_float(InferContext& c) { return infer_unary_same(c, Accepts::Float); }

// ---- gradients (ops/grad.h): from y where that is cheaper than from x ----

Status activation_grad(GradContext& c) {
  Value *x = c.x(0), *y = c.y(0), *dy = c.dy(0);
  const DType t = x->type.dtype;
  Value *zero = c.scalar(0, t), *one = c.scalar(1, t);
  auto positive = [&] { return c.op(OpKind::Greater, {x, zero}); };
  switch (c.node.op) {
    case OpKind::Relu:
      c.set(0, c.op(OpKind::Where, {positive(), dy, zero}));
      break;
    case OpKind::LeakyRelu:
      c.set(0,
            c.op(OpKind::Where, {positive(), dy, c.op(OpKind::Mul, {dy, c.scalar(c.attrs.f("alpha"), t)})}));
      break;
    case OpKind::Sigmoid:  // y (1 - y)
      c.set(0, c.op(OpKind::Mul, {dy, c.op(OpKind::Mul, {y, c.op(OpKind::Sub, {one, y})})}));
      break;
    case OpKind::Tanh:  // 1 - y^2
      c.set(0, c.op(OpKind::Mul, {dy, c.op(OpKind::Sub, {one, c.op(OpKind::Mul, {y, y})})}));
      break;
    default:
      return c.error("no gradient");
  }
  return Status::ok();
}

GradFn activation_grad_of(OpKind k) {
  const bool has = k == OpKind::Relu || k == OpKind::LeakyRelu || k == OpKind::Sigmoid || k == OpKind::Tanh;
  return has ? activation_grad : nullptr;
}

OpSchema activation_schema(OpKind kind, std::string_view onnx, int since, KernelFn kernel, EmitScalarFn emit,
                           std::vector<AttrSpec> attrs, std::string_view doc, InferFn infer = infer_float) {
  OpSchema s{kind, onnx};
  s.since_opset = since;
  s.attrs = std::move(attrs);
  s.fusion = FusionKind::Elementwise;
  s.infer = infer;
  s.kernel = kernel;
  s.emit_scalar = emit;
  s.grad = activation_grad_of(kind);
  s.doc = doc;
  return s;
}

// ---- kernels; attributes are read once, outside the element loop ----

Status relu(KernelContext& c) {
  return activation_kernel(c, Accepts::FloatOrSignedInt, [](auto x) {
    using T = decltype(x);
    return x < T(0) ? T(0) : x;
  });
}
Status sigmoid(KernelContext& c) {
  return activation_kernel(c, Accepts::Float, [](auto x) {
    using T = decltype(x);  // two forms so exp never overflows to inf/inf
    return x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
  });
}
Status tanh_k(KernelContext& c) {
  return activation_kernel(c, Accepts::Float, [](auto x) { return std::tanh(x); });
}
Status softplus(KernelContext& c) {
  return activation_kernel(c, Accepts::Float, [](auto x) {
    // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x.
    return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  });
}
Status softsign(KernelContext& c) {
  return activation_kernel(c, Accepts::Float, [](auto x) { return x / (decltype(x)(1) + std::fabs(x)); });
}
Status leaky_relu(KernelContext& c) {
  double alpha = c.attrs.f("alpha");
  return activation_kernel(c, Accepts::Float, [alpha](auto x) { return x < 0 ? decltype(x)(alpha) * x : x; });
}
Status elu(KernelContext& c) {
  double alpha = c.attrs.f("alpha");
  return activation_kernel(c, Accepts::Float,
                           [alpha](auto x) { return x < 0 ? decltype(x)(alpha) * std::expm1(x) : x; });
}
Status selu(KernelContext& c) {
  double alpha = c.attrs.f("alpha"), gamma = c.attrs.f("gamma");
  return activation_kernel(c, Accepts::Float, [=](auto x) {
    using T = decltype(x);
    return T(gamma) * (x > 0 ? x : T(alpha) * std::expm1(x));
  });
}
Status celu(KernelContext& c) {
  double alpha = c.attrs.f("alpha");
  if (alpha == 0) return c.error("alpha must be nonzero");
  return activation_kernel(c, Accepts::Float, [alpha](auto x) {
    using T = decltype(x);  // max(0,x) + min(0, alpha*(e^(x/alpha) - 1))
    return x > 0 ? x : T(alpha) * std::expm1(x / T(alpha));
  });
}
Status hard_sigmoid(KernelContext& c) {
  double alpha = c.attrs.f("alpha"), beta = c.attrs.f("beta");
  return activation_kernel(c, Accepts::Float, [=](auto x) {
    using T = decltype(x);
    return clamp_nan<T>(T(alpha) * x + T(beta), T(0), T(1));
  });
}
Status hard_swish(KernelContext& c) {
  return activation_kernel(c, Accepts::Float, [](auto x) {
    using T = decltype(x);
    return x * clamp_nan<T>(x * T(1.0 / 6.0) + T(0.5), T(0), T(1));
  });
}
Status thresholded_relu(KernelContext& c) {
  double alpha = c.attrs.f("alpha");
  return activation_kernel(c, Accepts::Float, [alpha](auto x) {
    using T = decltype(x);
    return x <= T(alpha) ? T(0) : x;  // NaN passes through, as numpy.clip in the reference
  });
}
// Shrink accepts integers too: compute in double, convert back (truncating).
Status shrink(KernelContext& c) {
  double lambd = c.attrs.f("lambd"), bias = c.attrs.f("bias");
  return activation_kernel(c, Accepts::Numeric, [=](auto x) {
    using T = decltype(x);
    double v = (double)x;
    double y = v < -lambd ? v + bias : v > lambd ? v - bias : 0.0;
    if constexpr (std::is_floating_point_v<T>)
      return T(y);
    else
      return saturate_cast<T>(y);
  });
}

// ---- C scalar forms: the kernels above, one element, in the input's precision ----

// x of a float-only activation, after checking the dtype reached the backend as f32/f64.
Expected<std::string> float_input(CScalarContext& c) {
  if (!c_is_float(c.input_dtype(0)))
    return c.error("dtype {} is not supported by the C backend", dtype_name(c.input_dtype(0)));
  return c.in[0];
}

// An attribute as a literal of dtype t (the kernel converts the float attribute the same way).
std::string attr_literal(CScalarContext& c, const char* name, DType t) {
  return c_literal(c.attrs.f(name), t);
}

Expected<std::string> emit_sigmoid(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  const DType t = c.input_dtype(0);
  std::string e = c.math("exp", t), one = c_literal(1, t);
  return fmt::format("({0} >= 0 ? {2} / ({2} + {1}(-{0})) : {1}({0}) / ({2} + {1}({0})))", x, e, one);
}
// tanh of a float without libm, within 1.5 ulp of the exact value over every
// float (checked exhaustively against double tanh), and written without
// branches (selects on integer masks, not `?:` on float expressions, which gcc
// turns into branches it then cannot vectorise) so loops calling it run 8 or 16
// wide: libm's tanhf is a call per element. |x| < 0.625: x + x^3 P(x^2);
// otherwise (1 - e) / (1 + e) with e = exp(-2|x|) = 2^-n exp(r), |r| <= ln2/2,
// ln2 split in two so n*ln2_hi is exact. Sign and NaN are put back at the end;
// |x| is clamped to 9.5, past which tanh rounds to 1. The coefficients are
// least-squares fits of relative error (weighted towards minimax) on Chebyshev
// nodes: 1.6e-8 for P, 7.5e-9 for exp.
const char* kTanhF32 = R"(static inline float weec_tanhf(float x) {
  union { float f; uint32_t u; } xb, ab, sm, bg, p;
  uint32_t keep, use_small, is_nan;
  float a, s, y, nf, r, er, e;
  int32_t n;
  xb.f = x;
  ab.u = xb.u & 0x7fffffffu;
  keep = 0u - (uint32_t)(ab.u < 0x41180000u); /* |x| < 9.5 (NaN is not) */
  ab.u = (ab.u & keep) | (0x41180000u & ~keep);
  a = ab.f;
  s = a * a;
  sm.f = a + a * s * (-0.333333292487f + s * (0.133327944960f + s * (-0.0538540636233f +
                       s * (0.0210100569444f + s * -0.00611316064701f))));
  y = a + a;
  n = (int32_t)(y * 1.44269504089f + 0.5f);
  nf = (float)n;
  r = (nf * 0.693359375f - y) + nf * -2.12194440e-4f;
  er = 1.0f + r + r * r * (0.500000002689f + r * (0.166665770059f + r * (0.0416663755441f +
                           r * (0.00836317526374f + r * 0.00139410891062f))));
  p.u = (uint32_t)(127 - n) << 23;
  e = er * p.f;
  bg.f = (1.0f - e) / (1.0f + e);
  use_small = 0u - (uint32_t)(a < 0.625f);
  is_nan = 0u - (uint32_t)(x != x);
  p.u = ((sm.u & use_small) | (bg.u & ~use_small)) | (xb.u & 0x80000000u);
  p.u = (p.u & ~is_nan) | (xb.u & is_nan);
  return p.f;
}
)";

Expected<std::string> emit_tanh(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  if (c.input_dtype(0) == DType::F32) return fmt::format("{}({})", c.helper("weec_tanhf", kTanhF32), x);
  return fmt::format("{}({})", c.math("tanh", c.input_dtype(0)), x);
}
Expected<std::string> emit_softplus(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  const DType t = c.input_dtype(0);
  return fmt::format("({0} > 0 ? {0} + {1}({2}(-{0})) : {1}({2}({0})))", x, c.math("log1p", t),
                     c.math("exp", t));
}
Expected<std::string> emit_softsign(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  const DType t = c.input_dtype(0);
  return fmt::format("({0} / ({1} + {2}({0})))", x, c_literal(1, t), c.math("fabs", t));
}
Expected<std::string> emit_leaky_relu(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  return fmt::format("({0} < 0 ? {1} * {0} : {0})", x, attr_literal(c, "alpha", c.input_dtype(0)));
}
Expected<std::string> emit_elu(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  const DType t = c.input_dtype(0);
  return fmt::format("({0} < 0 ? {1} * {2}({0}) : {0})", x, attr_literal(c, "alpha", t), c.math("expm1", t));
}
Expected<std::string> emit_selu(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  const DType t = c.input_dtype(0);
  return fmt::format("({1} * ({0} > 0 ? {0} : {2} * {3}({0})))", x, attr_literal(c, "gamma", t),
                     attr_literal(c, "alpha", t), c.math("expm1", t));
}
Expected<std::string> emit_celu(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  const DType t = c.input_dtype(0);
  if (c.attrs.f("alpha") == 0) return c.error("alpha must be nonzero");
  return fmt::format("({0} > 0 ? {0} : {1} * {2}({0} / {1}))", x, attr_literal(c, "alpha", t),
                     c.math("expm1", t));
}
Expected<std::string> emit_hard_sigmoid(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  const DType t = c.input_dtype(0);
  return fmt::format("{}({} * {} + {}, {}, {})", c_clamp_fn(c, t), attr_literal(c, "alpha", t), x,
                     attr_literal(c, "beta", t), c_literal(0, t), c_literal(1, t));
}
Expected<std::string> emit_hard_swish(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  const DType t = c.input_dtype(0);
  return fmt::format("({0} * {1}({0} * {2} + {3}, {4}, {5}))", x, c_clamp_fn(c, t), c_literal(1.0 / 6.0, t),
                     c_literal(0.5, t), c_literal(0, t), c_literal(1, t));
}
Expected<std::string> emit_thresholded_relu(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(std::string x, float_input(c));
  const DType t = c.input_dtype(0);
  return fmt::format("({0} <= {1} ? {2} : {0})", x, attr_literal(c, "alpha", t), c_literal(0, t));
}
// In double like the kernel, then back: floats round, integers saturate.
Expected<std::string> emit_shrink(CScalarContext& c) {
  const DType t = c.input_dtype(0);
  if (!c_is_float(t) && !is_integer(t))
    return c.error("dtype {} is not supported by the C backend", dtype_name(t));
  const double lambd = c.attrs.f("lambd"), bias = c.attrs.f("bias");
  std::string v = fmt::format("((double){})", c.in[0]);
  std::string y =
      fmt::format("({0} < {1} ? {0} + {2} : {0} > {3} ? {0} - {2} : 0.0)", v, c_literal(-lambd, DType::F64),
                  c_literal(bias, DType::F64), c_literal(lambd, DType::F64));
  if (c_is_float(t)) return fmt::format("(({}){})", c_type(t), y);
  return fmt::format("{}({})", c_saturate_fn(c, t), y);
}

Status infer_float_or_signed(InferContext& c) { return infer_unary_same(c, Accepts::FloatOrSignedInt); }
Status infer_numeric(InferContext& c) { return infer_unary_same(c, Accepts::Numeric); }

// Opset < 6 Selu had other defaults (alpha 1.6732, gamma 1.0507); make them explicit.
Status import_selu(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  if (ctx.opset < 6) {
    attrs.try_emplace("alpha", Attribute::of_float(1.6732f));
    attrs.try_emplace("gamma", Attribute::of_float(1.0507f));
  }
  ctx.emit(OpKind::Selu, ctx.inputs, ctx.outputs, attrs);
  return Status::ok();
}

}  // namespace

#define WEEC_ACTIVATION(Name, since, kernel, emit, doc, ...)                             \
  const OpSchema& schema_##Name() {                                                      \
    static const OpSchema s =                                                            \
        activation_schema(OpKind::Name, #Name, since, kernel, emit, {__VA_ARGS__}, doc); \
    return s;                                                                            \
  }
WEEC_ACTIVATION(Sigmoid, 1, sigmoid, emit_sigmoid, "1 / (1 + e^-x)")
WEEC_ACTIVATION(Tanh, 1, tanh_k, emit_tanh, "hyperbolic tangent")
WEEC_ACTIVATION(Softplus, 1, softplus, emit_softplus, "log(1 + e^x)")
WEEC_ACTIVATION(Softsign, 1, softsign, emit_softsign, "x / (1 + |x|)")
WEEC_ACTIVATION(LeakyRelu, 1, leaky_relu, emit_leaky_relu, "x < 0 ? alpha*x : x", attr_float("alpha", 0.01f))
WEEC_ACTIVATION(Elu, 1, elu, emit_elu, "x < 0 ? alpha*(e^x - 1) : x", attr_float("alpha", 1.0f))
WEEC_ACTIVATION(Celu, 12, celu, emit_celu, "max(0,x) + min(0, alpha*(e^(x/alpha) - 1))",
                attr_float("alpha", 1.0f))
WEEC_ACTIVATION(HardSigmoid, 1, hard_sigmoid, emit_hard_sigmoid, "max(0, min(1, alpha*x + beta))",
                attr_float("alpha", 0.2f), attr_float("beta", 0.5f))
WEEC_ACTIVATION(HardSwish, 14, hard_swish, emit_hard_swish, "x * max(0, min(1, x/6 + 1/2))")
WEEC_ACTIVATION(ThresholdedRelu, 10, thresholded_relu, emit_thresholded_relu, "x > alpha ? x : 0",
                attr_float("alpha", 1.0f))
#undef WEEC_ACTIVATION

const OpSchema& schema_Relu() {
  static const OpSchema s = [] {
    OpSchema m = activation_schema(OpKind::Relu, "Relu", 1, relu, nullptr, {}, "max(x, 0); NaN stays NaN",
                                   infer_float_or_signed);
    // x < 0 is false for NaN, so NaN passes through as in the kernel.
    m.emit_scalar = [](CScalarContext& c) -> Expected<std::string> {
      return fmt::format("({0} < 0 ? 0 : {0})", c.in[0]);
    };
    return m;
  }();
  return s;
}

const OpSchema& schema_Shrink() {
  static const OpSchema s = activation_schema(
      OpKind::Shrink, "Shrink", 9, shrink, emit_shrink, {attr_float("lambd", 0.5f), attr_float("bias", 0.0f)},
      "x < -lambd ? x + bias : x > lambd ? x - bias : 0", infer_numeric);
  return s;
}

const OpSchema& schema_Selu() {
  static const OpSchema s = [] {
    // Opset 6 defaults, as float32: 1.67326319217681884765625, 1.05070102214813232421875.
    OpSchema m = activation_schema(
        OpKind::Selu, "Selu", 1, selu, emit_selu,
        {attr_float("alpha", 1.67326319217681884765625f), attr_float("gamma", 1.05070102214813232421875f)},
        "gamma * (x > 0 ? x : alpha*(e^x - 1))");
    m.import = import_selu;
    return m;
  }();
  return s;
}

// ---- PRelu: y = x < 0 ? slope*x : x, slope unidirectionally broadcast to x ----

namespace {

Status prelu_kernel(KernelContext& c) {
  const Tensor& x0 = c.input(0);
  const Tensor& s0 = c.input(1);
  WEEC_TRY(check_accepts(c, Accepts::Numeric, x0.dtype()));
  if (s0.dtype() != x0.dtype())
    return c.error("slope dtype {} differs from input dtype {}", dtype_name(s0.dtype()),
                   dtype_name(x0.dtype()));
  auto dims = broadcast_dims({x0.dims(), s0.dims()});
  if (!dims || *dims != x0.dims())
    return c.error("slope shape {} does not broadcast to input shape {}", dims_str(s0.dims()),
                   dims_str(x0.dims()));
  bool half = is_half(x0.dtype());
  Tensor x = half ? to_f32(x0) : x0, sl = half ? to_f32(s0) : s0;
  return visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return c.error("bool is not supported");
    } else {
      auto r = broadcast_binary<T, T, T>(x, sl, x.dtype(), [](T v, T k) {
        if constexpr (std::is_integral_v<T>)
          return v < T(0) ? T(WrapT<T>(k) * WrapT<T>(v)) : v;  // wraps, without signed overflow
        else
          return v < T(0) ? T(k * v) : v;
      });
      if (!r) return c.error("{}", r.status().message());
      c.outputs[0] = half ? from_f32(*r, x0.dtype()) : std::move(*r);
      return Status::ok();
    }
  });
}

Status prelu_infer(InferContext& c) {
  const TensorType& x = c.input_type(0);
  const TensorType& sl = c.input_type(1);
  WEEC_TRY(check_accepts(c, Accepts::Numeric, x.dtype));
  if (sl.dtype != x.dtype)
    return c.error("slope dtype {} differs from input dtype {}", dtype_name(sl.dtype), dtype_name(x.dtype));
  if (x.shape.rank_known && sl.shape.rank_known) {
    auto b = broadcast_shapes({x.shape, sl.shape});
    if (!b || b->rank() != x.shape.rank())
      return c.error("slope shape {} does not broadcast to input shape {}", shape_str(sl.shape),
                     shape_str(x.shape));
    for (int64_t i = 0; i < x.shape.rank(); ++i) {
      const Dim &bd = b->dims[i], &xd = x.shape.dims[i];
      if (bd.is_known() && xd.is_known() && bd.value != xd.value)
        return c.error("slope shape {} does not broadcast to input shape {}", shape_str(sl.shape),
                       shape_str(x.shape));
    }
  }
  c.outputs[0] = x;
  return Status::ok();
}

// Before opset 7 a 1-D slope of length C was per channel (axis 1), not
// numpy-aligned to the last axis: reshape it to [C,1,...,1].
Status prelu_import(ImportContext& ctx) {
  std::vector<Value*> ins = ctx.inputs;
  if (ctx.opset < 7 && ins.size() == 2 && ins[0] && ins[1]) {
    const TensorType* st = (ins[1] ? &ins[1]->type : nullptr);
    if (!st || !st->shape.rank_known) return ctx.error("legacy PRelu (opset < 7) needs the slope's rank");
    // A single slope value broadcasts either way; a higher-rank slope is taken as numpy-aligned.
    bool per_channel =
        st->shape.rank() == 1 && !(st->shape.dims[0].is_known() && st->shape.dims[0].value == 1);
    if (per_channel) {
      const TensorType* xt = (ins[0] ? &ins[0]->type : nullptr);
      if (!xt || !xt->shape.rank_known)
        return ctx.error("legacy PRelu (opset < 7) with a per-channel slope needs the input's rank");
      int64_t extra = xt->shape.rank() - 2;
      if (extra > 0) {
        if (ins[1]->constant) {
          Tensor t = *ins[1]->constant;
          Dims d = t.dims();
          d.resize(d.size() + extra, 1);
          t.reshape(d);
          ins[1] = ctx.constant("slope", std::move(t));
        } else {
          std::vector<int64_t> axes;
          for (int64_t i = 0; i < extra; ++i) axes.push_back(1 + i);
          Value* axes_v = ctx.constant("axes", Tensor::from_vector<int64_t>({extra}, axes));
          Value* s2 = ctx.temp("slope");
          ctx.emit(OpKind::Unsqueeze, {ins[1], axes_v}, {s2}, {});
          ins[1] = s2;
        }
      }
    }
  }
  ctx.emit(OpKind::PRelu, ins, ctx.outputs, ctx.attrs);
  return Status::ok();
}

// x < 0 ? slope*x : x; the product wraps for integers as in the kernel.
Expected<std::string> prelu_emit(CScalarContext& c) {
  const DType t = c.input_dtype(0);
  if (!c_is_float(t) && !is_integer(t))
    return c.error("dtype {} is not supported by the C backend", dtype_name(t));
  if (c.input_dtype(1) != t)
    return c.error("slope dtype {} differs from input dtype {}", dtype_name(c.input_dtype(1)), dtype_name(t));
  const std::string& x = c.in[0];
  if (!c_is_float(t) && !is_signed(t)) return x;  // never negative
  return fmt::format("({0} < 0 ? {1} : {0})", x, c_wrap_arith('*', c.in[1], x, t));
}

}  // namespace

const OpSchema& schema_PRelu() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::PRelu, "PRelu"};
    m.min_inputs = m.max_inputs = 2;
    m.fusion = FusionKind::Broadcast;
    m.infer = prelu_infer;
    m.kernel = prelu_kernel;
    m.import = prelu_import;
    m.emit_scalar = prelu_emit;
    m.doc = "x < 0 ? slope*x : x; slope broadcasts to x";
    return m;
  }();
  return s;
}

// ---- Clip: min(max(x, lo), hi) with optional scalar inputs lo, hi ----

namespace {

// A scalar bound in the compute type T (inputs normally share x's dtype; other
// numeric dtypes are converted rather than rejected).
template <typename T>
T bound_as(const Tensor& t) {
  if (t.dtype() == dtype_of<T>()) return t.data<T>()[0];
  if constexpr (std::is_floating_point_v<T>)
    return (T)t.get_double(0);
  else if (is_integer(t.dtype()) || t.dtype() == DType::Bool)
    return (T)t.get_int(0);
  else
    return saturate_cast<T>(t.get_double(0));
}

Status clip_kernel(KernelContext& c) {
  const Tensor& x0 = c.input(0);
  WEEC_TRY(check_accepts(c, Accepts::Numeric, x0.dtype()));
  for (size_t i = 1; i < 3; ++i) {
    if (!c.has_input(i)) continue;
    if (c.input(i).numel() != 1)
      return c.error("{} must be a scalar, got shape {}", c.input_desc(i), dims_str(c.input(i).dims()));
    if (c.input(i).dtype() == DType::String) return c.error("{} must be numeric", c.input_desc(i));
  }
  bool half = is_half(x0.dtype());
  Tensor x = half ? to_f32(x0) : x0;
  Tensor lo_t = c.has_input(1) && half ? to_f32(c.input(1)) : Tensor();
  Tensor hi_t = c.has_input(2) && half ? to_f32(c.input(2)) : Tensor();
  return visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return c.error("bool is not supported");
    } else {
      // Missing bounds: no clipping (infinities for floats, so +-inf survive).
      T lo = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                  : std::numeric_limits<T>::lowest();
      T hi = std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                  : std::numeric_limits<T>::max();
      if (c.has_input(1)) lo = bound_as<T>(half ? lo_t : c.input(1));
      if (c.has_input(2)) hi = bound_as<T>(half ? hi_t : c.input(2));
      Tensor out(x.dtype(), x.dims());
      const T* in = x.data<T>();
      T* o = out.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) o[i] = clamp_nan(in[i], lo, hi);
      c.outputs[0] = half ? from_f32(out, x0.dtype()) : std::move(out);
      return Status::ok();
    }
  });
}

Status clip_infer(InferContext& c) {
  const TensorType& x = c.input_type(0);
  WEEC_TRY(check_accepts(c, Accepts::Numeric, x.dtype));
  for (size_t i = 1; i < c.num_inputs(); ++i) {
    if (!c.has_input(i)) continue;
    const TensorType& b = c.input_type(i);
    if (b.dtype != x.dtype)
      return c.error("{} has dtype {}, expected {} like the input", c.input_desc(i), dtype_name(b.dtype),
                     dtype_name(x.dtype));
    if (b.shape.is_static() && numel_of(b.shape.static_dims()) != 1)
      return c.error("{} must be a scalar, got shape {}", c.input_desc(i), shape_str(b.shape));
  }
  c.outputs[0] = x;
  return Status::ok();
}

// Opset < 11: bounds were float attributes. Opset 6-10 default them to
// -FLT_MAX / FLT_MAX (so +-inf inputs clip to those); opset 1-5 have no
// default (no bound). Each bound becomes a scalar constant of x's dtype, or,
// when x's dtype cannot be inferred yet, an f32 constant cast like x.
Status clip_import(ImportContext& ctx) {
  if (ctx.opset >= 11) {
    ctx.emit(OpKind::Clip, ctx.inputs, ctx.outputs, ctx.attrs);
    return Status::ok();
  }
  if (ctx.inputs.size() != 1 || !ctx.inputs[0])
    return ctx.error("Clip before opset 11 takes exactly one input");
  const TensorType* xt = (ctx.inputs[0] ? &ctx.inputs[0]->type : nullptr);
  auto bound = [&](const char* name, float def) -> Value* {
    auto it = ctx.attrs.find(name);
    float v = def;
    if (it != ctx.attrs.end())
      v = it->second.f;
    else if (ctx.opset < 6)
      return nullptr;
    if (xt) {
      Tensor t(xt->dtype, {});
      t.set_double(0, v);
      return ctx.constant(name, std::move(t));
    }
    Value* f = ctx.constant(name, Tensor::scalar<float>(v));
    Value* cast = ctx.temp(name);
    ctx.emit(OpKind::CastLike, {f, ctx.inputs[0]}, {cast}, {});
    return cast;
  };
  for (auto& [k, a] : ctx.attrs)
    if ((k != "min" && k != "max") || a.kind != Attribute::Kind::Float)
      return ctx.error("unexpected attribute '{}' on legacy Clip", k);
  Value* lo = bound("min", -std::numeric_limits<float>::max());
  Value* hi = bound("max", std::numeric_limits<float>::max());
  std::vector<Value*> ins = {ctx.inputs[0], lo, hi};
  while (ins.size() > 1 && !ins.back()) ins.pop_back();
  ctx.emit(OpKind::Clip, ins, ctx.outputs, {});
  return Status::ok();
}

// clamp_nan(x, lo, hi); a missing bound is -inf/+inf (floats) or the type's
// limit (integers), which clips nothing, as in the kernel.
Expected<std::string> clip_emit(CScalarContext& c) {
  const DType t = c.input_dtype(0);
  if (!c_is_float(t) && !is_integer(t))
    return c.error("dtype {} is not supported by the C backend", dtype_name(t));
  for (size_t i = 1; i < c.in.size(); ++i)
    if (c.has_input(i) && c.input_dtype(i) != t)
      return c.error("{} has dtype {}, expected {} like the input", c.input_desc(i),
                     dtype_name(c.input_dtype(i)), dtype_name(t));
  auto bound = [&](size_t i, bool upper) {
    if (i < c.in.size() && c.has_input(i)) return c.in[i];
    if (c_is_float(t)) return c.infinity(t, !upper);
    return upper ? c_highest(t) : c_lowest(t);
  };
  return fmt::format("{}({}, {}, {})", c_clamp_fn(c, t), c.in[0], bound(1, false), bound(2, true));
}

}  // namespace

const OpSchema& schema_Clip() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Clip, "Clip"};
    m.min_inputs = 1;
    m.max_inputs = 3;
    m.fusion = FusionKind::Broadcast;
    m.infer = clip_infer;
    m.kernel = clip_kernel;
    m.import = clip_import;
    m.emit_scalar = clip_emit;
    m.doc = "min(max(x, min), max); missing bounds do not clip; NaN stays NaN";
    return m;
  }();
  return s;
}

}  // namespace weec
