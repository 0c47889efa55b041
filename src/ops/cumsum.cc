// CumSum (opset 11+): running sum along the axis given by the scalar `axis`
// input; exclusive=1 leaves out the element itself, reverse=1 sums from the
// end. Sums run sequentially in the element type (f16/bf16 in f32, rounding
// each output once), like numpy.cumsum; integers wrap modulo 2^bits.
#include "ops/c_emit.h"
#include "ops/op_util.h"

namespace weec {

namespace {

template <typename T>
T add(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return T(U(a) + U(b));  // wraps instead of signed-overflow UB
  } else {
    return a + b;
  }
}

Status cumsum_kernel(KernelContext& ctx) {
  const Tensor& x0 = ctx.input(0);
  const Tensor& ax = ctx.input(1);
  if (!is_integer(ax.dtype()) || ax.numel() != 1) return ctx.error("axis must be one integer");
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ax.get_int(0), x0.rank()));
  bool exclusive = ctx.attrs.i("exclusive") != 0, reverse = ctx.attrs.i("reverse") != 0;
  int64_t outer = 1, inner = 1, n = x0.dim(axis);
  for (int64_t i = 0; i < x0.rank(); ++i) {
    if (i < axis) outer *= x0.dim(i);
    if (i > axis) inner *= x0.dim(i);
  }
  bool half = is_half(x0.dtype());
  Tensor x = half ? to_f32(x0) : x0;
  Tensor y(x.dtype(), x.dims());
  WEEC_TRY(visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return ctx.error("bool data is not supported");
    } else {
      const T* p = x.data<T>();
      T* q = y.data<T>();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          T acc = T(0);
          for (int64_t k = 0; k < n; ++k) {
            int64_t j = reverse ? n - 1 - k : k;
            int64_t off = (o * n + j) * inner + i;
            if (exclusive) {
              q[off] = acc;
              acc = add(acc, p[off]);
            } else {
              acc = add(acc, p[off]);
              q[off] = acc;
            }
          }
        }
      }
      return Status::ok();
    }
  }));
  ctx.outputs[0] = half ? from_f32(y, x0.dtype()) : std::move(y);
  return Status::ok();
}

Status infer_cumsum(InferContext& ctx) {
  const TensorType& x = ctx.input_type(0);
  if (x.dtype == DType::Bool || x.dtype == DType::String)
    return ctx.error("{} data is not supported", dtype_name(x.dtype));
  const TensorType& ax = ctx.input_type(1);
  if (!is_integer(ax.dtype)) return ctx.error("axis must be an integer, got {}", dtype_name(ax.dtype));
  if (const Tensor* c = ctx.input_constant(1); c && x.shape.rank_known) {
    if (c->numel() != 1) return ctx.error("axis must be one integer");
    WEEC_TRY(normalize_axis(ctx, c->get_int(0), x.shape.rank()).status());
  }
  ctx.outputs[0] = x;
  return Status::ok();
}

// The unsigned type of the same width (wrap-around arithmetic in C).
DType unsigned_of(DType t) {
  switch (t) {
    case DType::I8:
      return DType::U8;
    case DType::I16:
      return DType::U16;
    case DType::I32:
      return DType::U32;
    case DType::I64:
      return DType::U64;
    default:
      return t;
  }
}

// C: each output row along the axis is the previous output row plus one input
// row, in the element type (integers through their unsigned type, so they wrap
// like the kernel); the innermost loop runs over contiguous elements.
Status cumsum_emit_c(CEmitContext& c) {
  const Tensor* ax = c.input_constant(1);
  if (!ax) return c.error("axis must be a constant for the C backend");
  if (!is_integer(ax->dtype()) || ax->numel() != 1) return c.error("axis must be one integer");
  Dims in = c.in_dims(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, ax->get_int(0), (int64_t)in.size()));
  const DType t = c.input_dtype(0);
  if (t == DType::Bool) return c.error("bool data is not supported");
  const bool exclusive = c.attrs.i("exclusive") != 0, reverse = c.attrs.i("reverse") != 0;
  int64_t outer = 1, inner = 1, n = in[axis];
  for (int64_t i = 0; i < (int64_t)in.size(); ++i) {
    if (i < axis) outer *= in[i];
    if (i > axis) inner *= in[i];
  }
  if (outer * inner * n == 0) return Status::ok();
  const std::string T = c_type(t), x = c.in(0), y = c.out(0);
  auto add = [&](const std::string& a, const std::string& b) {
    if (is_float(t)) return fmt::format("{} + {}", a, b);
    std::string U = c_type(unsigned_of(t));
    return fmt::format("({})(({}){} + ({}){})", T, U, a, U, b);
  };
  std::string o = c.var("o"), k = c.var("k"), i = c.var("i"), cur = c.var("cur"), prev = c.var("prev");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", o, outer);
  // The first row along the axis (the last one when reversed).
  std::string first = fmt::format("{} * {} + {}", o, n * inner, reverse ? (n - 1) * inner : 0);
  c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{3} + {0}] = {4};", i, inner, y, first,
           exclusive ? c_literal(0, t) : fmt::format("{}[{} + {}]", x, first, i));
  c.w.open("for (int32_t {0} = 1; {0} < {1}; ++{0}) {{", k, n);
  c.w.line("const int32_t {} = {} * {} + ({}) * {};", cur, o, n * inner,
           reverse ? fmt::format("{} - {}", n - 1, k) : k, inner);
  c.w.line("const int32_t {} = {} {} {};", prev, cur, reverse ? "+" : "-", inner);
  c.w.line(
      "for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{3} + {0}] = {4};", i, inner, y, cur,
      add(fmt::format("{}[{} + {}]", y, prev, i), fmt::format("{}[{} + {}]", x, exclusive ? prev : cur, i)));
  c.w.close();
  c.w.close();
  return Status::ok();
}

}  // namespace

const OpSchema& schema_CumSum() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::CumSum, "CumSum"};
    m.since_opset = 11;
    m.min_inputs = m.max_inputs = 2;
    m.attrs = {attr_int("exclusive", 0), attr_int("reverse", 0)};
    m.fusion = FusionKind::Opaque;
    m.infer = infer_cumsum;
    m.kernel = cumsum_kernel;
    m.emit_c = cumsum_emit_c;
    m.doc = "running sum along the axis input; exclusive and reverse variants";
    return m;
  }();
  return s;
}

}  // namespace weec
