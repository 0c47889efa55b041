// Shape, Size, ConstantOfShape, Range, EyeLike: ops that read or produce
// shapes. Shape and Size of a statically shaped input are what a folding pass
// turns into constants, which is how Shape -> Gather -> Concat -> Reshape
// chains end up static; here inference only types them.
#include <algorithm>
#include <cmath>

#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

// ---- Shape ----

// [start, end) of the dims Shape returns, clamped as ONNX says (opset 15).
std::pair<int64_t, int64_t> shape_range(const NodeContext& ctx, int64_t rank) {
  int64_t start = ctx.attrs.i("start");
  int64_t end = ctx.attrs.has("end") ? ctx.attrs.i("end") : rank;
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  return {start, std::max(start, end)};
}

Status infer_shape(InferContext& ctx) {
  const Shape& in = ctx.input_type(0).shape;
  Shape out = Shape::of_rank(1);
  if (in.rank_known) {
    auto [start, end] = shape_range(ctx, in.rank());
    out.dims[0] = Dim::known(end - start);
  }
  ctx.outputs[0] = TensorType{DType::I64, out};
  return Status::ok();
}

Status kernel_shape(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  auto [start, end] = shape_range(ctx, in.rank());
  std::vector<int64_t> v(in.dims().begin() + start, in.dims().begin() + end);
  ctx.outputs[0] = int64_vector(v);
  return Status::ok();
}

// ---- Size ----

Status infer_size(InferContext& ctx) {
  ctx.outputs[0] = static_type(DType::I64, {});
  return Status::ok();
}

Status kernel_size(KernelContext& ctx) {
  ctx.outputs[0] = Tensor::scalar<int64_t>(ctx.input(0).numel());
  return Status::ok();
}

// ---- ConstantOfShape ----

Expected<Dims> shape_from_tensor(const NodeContext& ctx, const Tensor& t) {
  if (t.rank() != 1) return ctx.error("shape input must be 1-D, got {}", dims_str(t.dims()));
  Dims dims = t.to_int_vector();
  for (int64_t d : dims)
    if (d < 0) return ctx.error("shape {} has a negative dim", dims_str(dims));
  return dims;
}

DType fill_dtype(const NodeContext& ctx) {
  const Tensor* v = ctx.attrs.tensor("value");
  return v ? v->dtype() : DType::F32;
}

Status infer_constant_of_shape(InferContext& ctx) {
  const Tensor* v = ctx.attrs.tensor("value");
  if (v && v->numel() != 1) return ctx.error("value must have exactly one element, has {}", v->numel());
  TensorType out{fill_dtype(ctx), Shape::unknown_rank()};
  if (const Tensor* sh = ctx.input_constant(0)) {
    WEEC_ASSIGN_OR_RETURN(Dims dims, shape_from_tensor(ctx, *sh));
    out.shape = Shape::of(dims);
  } else if (auto n = static_length(ctx.input_type(0)); n && ctx.input_type(0).shape.rank() == 1) {
    out.shape = Shape::of_rank(*n);
  }
  ctx.outputs[0] = out;
  return Status::ok();
}

Status kernel_constant_of_shape(KernelContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(Dims dims, shape_from_tensor(ctx, ctx.input(0)));
  Tensor out(fill_dtype(ctx), dims);
  if (const Tensor* v = ctx.attrs.tensor("value")) {
    if (v->numel() != 1) return ctx.error("value must have exactly one element, has {}", v->numel());
    ElemCopy copy(*v, out);
    for (int64_t i = 0; i < out.numel(); ++i) copy(i, 0);
  }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- Range ----

// Element count, as the spec: max(ceil((limit - start) / delta), 0). Integer
// operands use exact integer arithmetic; floats compute the difference in
// their own type, as ONNX Runtime does.
template <typename T>
Expected<int64_t> range_count(const NodeContext& ctx, T start, T limit, T delta) {
  if (delta == T(0)) return ctx.error("delta is zero");
  if constexpr (std::is_integral_v<T>) {
    int64_t diff = (int64_t)limit - (int64_t)start, d = (int64_t)delta;
    if ((diff > 0) != (d > 0) || diff == 0) return int64_t(0);
    int64_t ad = d < 0 ? -d : d, adiff = diff < 0 ? -diff : diff;
    return (adiff + ad - 1) / ad;
  } else {
    double n = std::ceil((double)(T)(limit - start) / (double)delta);
    if (!(n > 0)) return int64_t(0);  // also NaN
    if (n > 1e12) return ctx.error("range of {} elements is too large", n);
    return (int64_t)n;
  }
}

Status check_range_inputs(const NodeContext& ctx, const std::vector<DType>& types) {
  if (types[0] != types[1] || types[0] != types[2])
    return ctx.error("start, limit and delta must share a dtype");
  DType t = types[0];
  if (t != DType::F32 && t != DType::F64 && t != DType::I16 && t != DType::I32 && t != DType::I64)
    return ctx.error("dtype {} is not supported (f32, f64, i16, i32, i64)", dtype_name(t));
  return Status::ok();
}

template <typename F>
Status visit_range(DType t, F&& f) {
  switch (t) {
    case DType::F32:
      return f(TypeTag<float>{});
    case DType::F64:
      return f(TypeTag<double>{});
    case DType::I16:
      return f(TypeTag<int16_t>{});
    case DType::I32:
      return f(TypeTag<int32_t>{});
    default:
      return f(TypeTag<int64_t>{});
  }
}

Status infer_range(InferContext& ctx) {
  DType t = ctx.input_type(0).dtype;
  WEEC_TRY(check_range_inputs(ctx, {t, ctx.input_type(1).dtype, ctx.input_type(2).dtype}));
  Shape out = Shape::of_rank(1);
  const Tensor *s = ctx.input_constant(0), *l = ctx.input_constant(1), *d = ctx.input_constant(2);
  if (s && l && d && s->numel() == 1 && l->numel() == 1 && d->numel() == 1) {
    WEEC_TRY(visit_range(t, [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      WEEC_ASSIGN_OR_RETURN(int64_t n,
                            range_count<T>(ctx, s->data<T>()[0], l->data<T>()[0], d->data<T>()[0]));
      out.dims[0] = Dim::known(n);
      return Status::ok();
    }));
  }
  ctx.outputs[0] = TensorType{t, out};
  return Status::ok();
}

Status kernel_range(KernelContext& ctx) {
  const Tensor &s = ctx.input(0), &l = ctx.input(1), &d = ctx.input(2);
  WEEC_TRY(check_range_inputs(ctx, {s.dtype(), l.dtype(), d.dtype()}));
  if (s.numel() != 1 || l.numel() != 1 || d.numel() != 1)
    return ctx.error("start, limit and delta must be scalars");
  return visit_range(s.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    T start = s.data<T>()[0], delta = d.data<T>()[0];
    WEEC_ASSIGN_OR_RETURN(int64_t n, range_count<T>(ctx, start, l.data<T>()[0], delta));
    Tensor out(s.dtype(), {n});
    T* o = out.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_integral_v<T>)
        o[i] = (T)((int64_t)start + i * (int64_t)delta);
      else
        o[i] = (T)((double)start + (double)i * (double)delta);
    }
    ctx.outputs[0] = std::move(out);
    return Status::ok();
  });
}

// ---- EyeLike ----

Expected<DType> eye_dtype(const NodeContext& ctx, DType input) {
  if (!ctx.attrs.has("dtype")) return input;
  auto t = dtype_from_onnx_code(ctx.attrs.i("dtype"));
  if (!t || *t == DType::String) return ctx.error("dtype {} is not supported", ctx.attrs.i("dtype"));
  return *t;
}

Status infer_eye_like(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  if (in.shape.rank_known && in.shape.rank() != 2)
    return ctx.error("input must be 2-D, got {}", type_str(in));
  WEEC_ASSIGN_OR_RETURN(DType t, eye_dtype(ctx, in.dtype));
  ctx.outputs[0] = TensorType{t, in.shape.rank_known ? in.shape : Shape::of_rank(2)};
  return Status::ok();
}

Status kernel_eye_like(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  if (in.rank() != 2) return ctx.error("input must be 2-D, got {}", dims_str(in.dims()));
  WEEC_ASSIGN_OR_RETURN(DType t, eye_dtype(ctx, in.dtype()));
  Tensor out(t, in.dims());
  int64_t k = ctx.attrs.i("k"), rows = in.dim(0), cols = in.dim(1);
  for (int64_t i = 0; i < rows; ++i) {
    int64_t j = i + k;
    if (j >= 0 && j < cols) out.set_double(i * cols + j, 1.0);
  }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- C emission: shapes are static here, so Shape, Size, ConstantOfShape
// and EyeLike write known values; Range computes from its scalar inputs. ----

Status emit_shape(CEmitContext& c) {
  Dims in = c.in_dims(0);
  auto [start, end] = shape_range(c, (int64_t)in.size());
  for (int64_t d = start; d < end; ++d)
    c.store(0, {}, c_literal_i64(in[d], DType::I64), fmt::format("{}", d - start));
  return Status::ok();
}

Status emit_size(CEmitContext& c) {
  c.store(0, {}, c_literal_i64(c.in_count(0), DType::I64), "0");
  return Status::ok();
}

Status emit_constant_of_shape(CEmitContext& c) {
  const Tensor* v = c.attrs.tensor("value");
  if (v && v->numel() != 1) return c.error("value must have exactly one element, has {}", v->numel());
  std::string value = v ? element_literal(*v, 0) : c_literal(0, c.output_dtype());
  if (c.out_count(0) == 0) return Status::ok();
  std::vector<std::string> i = c.open_loops({c.out_count(0)});
  c.store(0, {}, value, i[0]);
  c.close_loops(1);
  return Status::ok();
}

// The element count is the static output dim; the values follow the kernel's
// formula (integers exactly in int64, floats in double).
Status emit_range(CEmitContext& c) {
  DType t = c.output_dtype();
  WEEC_TRY(check_range_inputs(c, {c.input_dtype(0), c.input_dtype(1), c.input_dtype(2)}));
  if (c.in_count(0) != 1 || c.in_count(2) != 1) return c.error("start and delta must be scalars");
  int64_t n = c.out_count(0);
  if (n == 0) return Status::ok();
  std::vector<std::string> i = c.open_loops({n});
  std::string value = is_float(t) ? fmt::format("({})((double){}[0] + (double){} * (double){}[0])", c_type(t),
                                                c.in(0), i[0], c.in(2))
                                  : fmt::format("({})((int64_t){}[0] + (int64_t){} * (int64_t){}[0])",
                                                c_type(t), c.in(0), i[0], c.in(2));
  c.store(0, {}, value, i[0]);
  c.close_loops(1);
  return Status::ok();
}

Status emit_eye_like(CEmitContext& c) {
  Dims out = c.out_dims(0);
  if (out.size() != 2) return c.error("input must be 2-D, got {}", dims_str(out));
  if (c.out_count(0) == 0) return Status::ok();
  DType t = c.output_dtype();
  std::string one = t == DType::Bool ? "1" : c_literal(1, t), zero = t == DType::Bool ? "0" : c_literal(0, t);
  std::vector<std::string> v = c.open_loops(out);
  int64_t k = c.attrs.i("k");
  std::string diag = k == 0 ? fmt::format("{} == {}", v[1], v[0])
                            : fmt::format("{} == {} {} {}", v[1], v[0], k < 0 ? "-" : "+", k < 0 ? -k : k);
  c.store(0, v, fmt::format("{} ? {} : {}", diag, one, zero));
  c.close_loops(2);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Shape() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Shape, "Shape"};
    m.attrs = {attr_int("start", 0), attr_optional("end", Attribute::Kind::Int)};
    m.infer = infer_shape;
    m.kernel = kernel_shape;
    m.emit_c = emit_shape;
    m.doc = "the input's dims [start, end) as i64";
    return m;
  }();
  return s;
}

const OpSchema& schema_Size() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Size, "Size"};
    m.infer = infer_size;
    m.kernel = kernel_size;
    m.emit_c = emit_size;
    m.doc = "the input's element count as an i64 scalar";
    return m;
  }();
  return s;
}

const OpSchema& schema_ConstantOfShape() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::ConstantOfShape, "ConstantOfShape"};
    m.since_opset = 9;
    m.attrs = {attr_optional("value", Attribute::Kind::Tensor)};
    m.infer = infer_constant_of_shape;
    m.kernel = kernel_constant_of_shape;
    m.emit_c = emit_constant_of_shape;
    m.doc = "tensor of the given shape filled with `value` (default f32 0)";
    return m;
  }();
  return s;
}

const OpSchema& schema_Range() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Range, "Range"};
    m.since_opset = 11;
    m.min_inputs = m.max_inputs = 3;
    m.infer = infer_range;
    m.kernel = kernel_range;
    m.emit_c = emit_range;
    m.doc = "start, start + delta, ... up to limit (exclusive)";
    return m;
  }();
  return s;
}

const OpSchema& schema_EyeLike() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::EyeLike, "EyeLike"};
    m.since_opset = 9;
    m.attrs = {attr_optional("dtype", Attribute::Kind::Int), attr_int("k", 0)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_eye_like;
    m.kernel = kernel_eye_like;
    m.emit_c = emit_eye_like;
    m.doc = "2-D identity-like matrix (ones on diagonal k) shaped like the input";
    return m;
  }();
  return s;
}

}  // namespace weec
