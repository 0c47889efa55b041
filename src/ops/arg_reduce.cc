// ArgMax, ArgMin: int64 index of the largest/smallest element along `axis`.
// Ties pick the first index, or the last with select_last_index=1 (opset 12).
// NaN counts as the extreme for both ops, as numpy's argmax/argmin (the ONNX
// reference) treat it: the first NaN wins (the last with select_last_index).
#include "ops/op_util.h"

namespace weec {

namespace {

template <typename T>
bool is_nan_value(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  return false;
}

template <typename T>
void arg_reduce(const T* x, int64_t outer, int64_t n, int64_t inner, bool is_max, bool last, int64_t* out) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * n * inner + i;
      int64_t best = 0;
      T bv = p[0];
      for (int64_t j = 1; j < n; ++j) {
        T v = p[j * inner];
        bool take;
        if (is_nan_value(bv))
          take = last && is_nan_value(v);
        else if (is_nan_value(v))
          take = true;
        else
          take = (is_max ? v > bv : v < bv) || (last && v == bv);
        if (take) {
          best = j;
          bv = v;
        }
      }
      out[o * inner + i] = best;
    }
  }
}

Status arg_kernel(KernelContext& ctx, bool is_max) {
  const Tensor& x0 = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), x0.rank()));
  bool keep = ctx.attrs.i("keepdims") != 0;
  bool last = ctx.attrs.i("select_last_index") != 0;
  int64_t outer = 1, inner = 1, n = x0.dim(axis);
  Dims out_dims;
  for (int64_t i = 0; i < x0.rank(); ++i) {
    if (i < axis) outer *= x0.dim(i);
    if (i > axis) inner *= x0.dim(i);
    if (i != axis)
      out_dims.push_back(x0.dim(i));
    else if (keep)
      out_dims.push_back(1);
  }
  Tensor out(DType::I64, out_dims);
  if (out.numel() > 0 && n == 0) return ctx.error("cannot take an index over the empty axis {}", axis);
  Tensor x = is_half(x0.dtype()) ? to_f32(x0) : x0;
  return visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    arg_reduce<T>(x.data<T>(), outer, n, inner, is_max, last, out.data<int64_t>());
    ctx.outputs[0] = std::move(out);
    return Status::ok();
  });
}

Status infer_arg(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  if (in.dtype == DType::String) return ctx.error("string data is not supported");
  ctx.outputs[0] = TensorType{DType::I64, Shape::unknown_rank()};
  if (!in.shape.rank_known) return Status::ok();
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), in.shape.rank()));
  Shape s = Shape::of_rank(0);
  for (int64_t i = 0; i < in.shape.rank(); ++i) {
    if (i != axis)
      s.dims.push_back(in.shape.dims[i]);
    else if (ctx.attrs.i("keepdims") != 0)
      s.dims.push_back(Dim::known(1));
  }
  ctx.outputs[0].shape = s;
  return Status::ok();
}

OpSchema arg_schema(OpKind kind, std::string_view onnx, KernelFn kernel, std::string_view doc) {
  OpSchema s{kind, onnx};
  s.attrs = {attr_int("axis", 0), attr_int("keepdims", 1), attr_int("select_last_index", 0)};
  s.fusion = FusionKind::Reduce;
  s.infer = infer_arg;
  s.kernel = kernel;
  s.doc = doc;
  return s;
}

}  // namespace

const OpSchema& schema_ArgMax() {
  static const OpSchema s = arg_schema(
      OpKind::ArgMax, "ArgMax", [](KernelContext& c) { return arg_kernel(c, true); },
      "int64 index of the maximum along axis; first on ties unless select_last_index");
  return s;
}

const OpSchema& schema_ArgMin() {
  static const OpSchema s = arg_schema(
      OpKind::ArgMin, "ArgMin", [](KernelContext& c) { return arg_kernel(c, false); },
      "int64 index of the minimum along axis; first on ties unless select_last_index");
  return s;
}

}  // namespace weec
