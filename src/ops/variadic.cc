// Max, Min, Sum, Mean over 1..N inputs with N-way numpy broadcasting. The
// inputs are folded left to right (broadcasting is associative, so the shape
// equals the N-way broadcast). Max/Min take integers too and propagate NaN
// like numpy.maximum/minimum (NaN wins). Sum/Mean are float only; f16/bf16
// accumulate in f32 and round once at the end, Mean divides the final sum.
#include "ops/elementwise_util.h"

namespace weec {

namespace {

enum class Var { Max, Min, Sum, Mean };

template <typename T>
T combine(Var op, T a, T b) {
  switch (op) {
    case Var::Max:
      if constexpr (std::is_floating_point_v<T>)
        if (std::isnan(a) || std::isnan(b)) return std::isnan(a) ? a : b;
      return a < b ? b : a;
    case Var::Min:
      if constexpr (std::is_floating_point_v<T>)
        if (std::isnan(a) || std::isnan(b)) return std::isnan(a) ? a : b;
      return b < a ? b : a;
    case Var::Sum:
    case Var::Mean:
      return T(a + b);
  }
  return a;
}

Accepts accepted(Var op) { return op == Var::Max || op == Var::Min ? Accepts::Numeric : Accepts::Float; }

Status variadic_kernel(KernelContext& ctx, Var op) {
  const size_t n = ctx.num_inputs();
  const DType dt = ctx.input(0).dtype();
  for (size_t i = 0; i < n; ++i) {
    if (!ctx.has_input(i)) return ctx.error("input {} is missing", i);
    WEEC_TRY(check_accepts(ctx, accepted(op), ctx.input(i).dtype(), i));
    if (ctx.input(i).dtype() != dt)
      return ctx.error("{} has dtype {}, expected {} like input 0", ctx.input_desc(i),
                       dtype_name(ctx.input(i).dtype()), dtype_name(dt));
  }
  const bool half = is_half(dt);
  Tensor acc = half ? to_f32(ctx.input(0)) : ctx.input(0);
  Status st = visit_numeric(acc.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return ctx.error("bool is not supported");
    } else {
      for (size_t i = 1; i < n; ++i) {
        Tensor next = half ? to_f32(ctx.input(i)) : ctx.input(i);
        auto r =
            broadcast_binary<T, T, T>(acc, next, acc.dtype(), [op](T a, T b) { return combine(op, a, b); });
        if (!r) return ctx.error("{}", r.status().message());
        acc = std::move(*r);
      }
      if (op == Var::Mean && n > 1) {
        T* p = acc.data<T>();
        for (int64_t k = 0; k < acc.numel(); ++k) p[k] = T(p[k] / T(n));
      }
      return Status::ok();
    }
  });
  WEEC_TRY(st);
  ctx.outputs[0] = half ? from_f32(acc, dt) : std::move(acc);
  return Status::ok();
}

Status variadic_infer(InferContext& ctx, Var op) {
  const DType dt = ctx.input_type(0).dtype;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error("input {} is missing", i);
    WEEC_TRY(check_accepts(ctx, accepted(op), ctx.input_type(i).dtype, i));
    if (ctx.input_type(i).dtype != dt)
      return ctx.error("{} has dtype {}, expected {} like input 0", ctx.input_desc(i),
                       dtype_name(ctx.input_type(i).dtype), dtype_name(dt));
  }
  return infer_broadcast(ctx);
}

// C form: the same left fold over all inputs (broadcast by the backend).
// Max/Min go through a helper so the fold does not duplicate its operands.
Expected<std::string> variadic_emit(CScalarContext& c, Var op) {
  const DType t = c.input_dtype(0);
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    if (!c.has_input(i)) return c.error("input {} is missing", i);
    WEEC_TRY(check_accepts(c, accepted(op), c.input_dtype(i), i));
    if (c.input_dtype(i) != t)
      return c.error("{} has dtype {}, expected {} like input 0", c.input_desc(i),
                     dtype_name(c.input_dtype(i)), dtype_name(t));
  }
  if (!c_is_float(t) && !is_integer(t))
    return c.error("dtype {} is not supported by the C backend", dtype_name(t));
  std::string fn;
  if ((op == Var::Max || op == Var::Min) && c.in.size() > 1) {  // unused helpers warn under clang
    const bool max = op == Var::Max;
    fn = fmt::format("weec_{}_{}", max ? "max" : "min", c_suffix(t));
    std::string body = max ? "a < b ? b : a" : "b < a ? b : a";
    // NaN wins (numpy.maximum/minimum): the first NaN operand is returned.
    if (c_is_float(t)) {
      std::string isnan = c.math("isnan", DType::F64);
      body = fmt::format("{0}(a) ? a : {0}(b) ? b : {1}", isnan, body);
    }
    c.helper(fn, fmt::format("static inline {0} {1}({0} a, {0} b) {{ return {2}; }}\n", c_type(t), fn, body));
  }
  std::string acc = c.in[0];
  for (size_t i = 1; i < c.in.size(); ++i)
    acc = fn.empty() ? c_wrap_arith('+', acc, c.in[i], t) : fmt::format("{}({}, {})", fn, acc, c.in[i]);
  if (op == Var::Mean && c.in.size() > 1)
    acc = fmt::format("(({})({} / {}))", c_type(t), acc, c_literal((double)c.in.size(), t));
  return acc;
}

OpSchema variadic_schema(OpKind kind, std::string_view onnx, InferFn infer, KernelFn kernel,
                         EmitScalarFn emit, std::string_view doc) {
  OpSchema s{kind, onnx};
  s.min_inputs = 1;
  s.max_inputs = -1;
  s.fusion = FusionKind::Broadcast;
  s.infer = infer;
  s.kernel = kernel;
  s.emit_scalar = emit;
  s.doc = doc;
  return s;
}

}  // namespace

#define WEEC_VARIADIC_OP(Name, doc)                                                        \
  const OpSchema& schema_##Name() {                                                        \
    static const OpSchema s = variadic_schema(                                             \
        OpKind::Name, #Name, [](InferContext& c) { return variadic_infer(c, Var::Name); }, \
        [](KernelContext& c) { return variadic_kernel(c, Var::Name); },                    \
        [](CScalarContext& c) { return variadic_emit(c, Var::Name); }, doc);               \
    return s;                                                                              \
  }
WEEC_VARIADIC_OP(Max, "elementwise max of N inputs, broadcasting; NaN wins")
WEEC_VARIADIC_OP(Min, "elementwise min of N inputs, broadcasting; NaN wins")
WEEC_VARIADIC_OP(Sum, "elementwise sum of N inputs, broadcasting")
WEEC_VARIADIC_OP(Mean, "elementwise mean of N inputs, broadcasting")
#undef WEEC_VARIADIC_OP

}  // namespace weec
