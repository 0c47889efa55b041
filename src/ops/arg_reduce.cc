// ArgMax, ArgMin: int64 index of the largest/smallest element along `axis`.
// Ties pick the first index, or the last with select_last_index=1 (opset 12).
// NaN counts as the extreme for both ops, as numpy's argmax/argmin (the ONNX
// reference) treat it: the first NaN wins (the last with select_last_index).
#include "ops/c_emit.h"
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

// C: the kernel's scan, input 0 read once per element through load(). A
// trailing axis keeps the best value/index in locals; otherwise they live in
// scratch rows so the inner loop runs over contiguous elements.
Status arg_emit_c(CEmitContext& c, bool is_max) {
  Dims in = c.in_dims(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), (int64_t)in.size()));
  const bool last = c.attrs.i("select_last_index") != 0;
  const DType t = c.input_dtype(0);
  int64_t outer = 1, inner = 1, n = in[axis];
  for (int64_t i = 0; i < (int64_t)in.size(); ++i) {
    if (i < axis) outer *= in[i];
    if (i > axis) inner *= in[i];
  }
  if (outer * inner == 0) return Status::ok();
  if (n == 0) return c.error("cannot take an index over the empty axis {}", axis);
  const std::string T = c_type(t);
  // Does element v replace the best value b?
  auto take = [&](const std::string& v, const std::string& b) {
    std::string cmp = is_max ? ">" : "<";
    if (last) cmp += "=";
    if (!is_float(t)) return fmt::format("{} {} {}", v, cmp, b);
    if (last) return fmt::format("({1} != {1} ? {0} != {0} : ({0} != {0} || {0} {2} {1}))", v, b, cmp);
    return fmt::format("{1} == {1} && ({0} != {0} || {0} {2} {1})", v, b, cmp);
  };
  std::string o = c.var("o"), j = c.var("j"), v = c.var("v");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", o, outer);
  if (inner == 1) {
    std::string bv = c.var("bv"), bi = c.var("bi");
    c.w.line("{} {} = {};", T, bv, c.load(0, fmt::format("{} * {}", o, n)));
    c.w.line("int64_t {} = 0;", bi);
    c.w.open("for (int32_t {0} = 1; {0} < {1}; ++{0}) {{", j, n);
    c.w.line("const {} {} = {};", T, v, c.load(0, fmt::format("{} * {} + {}", o, n, j)));
    c.w.open("if ({}) {{", take(v, bv));
    c.w.line("{} = {};", bi, j);
    c.w.line("{} = {};", bv, v);
    c.w.close();
    c.w.close();
    c.store(0, {}, bi, o);
  } else {
    std::string bv = c.scratch(t, inner, "bv"), bi = c.scratch(DType::I64, inner, "bi"), i = c.var("i");
    auto row = [&](const std::string& jj) {
      return fmt::format("({} * {} + {}) * {} + {}", o, n, jj, inner, i);
    };
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, inner);
    c.w.line("{}[{}] = {};", bv, i, c.load(0, row("0")));
    c.w.line("{}[{}] = 0;", bi, i);
    c.w.close();
    c.w.open("for (int32_t {0} = 1; {0} < {1}; ++{0}) {{", j, n);
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, inner);
    c.w.line("const {} {} = {};", T, v, c.load(0, row(j)));
    c.w.open("if ({}) {{", take(v, fmt::format("{}[{}]", bv, i)));
    c.w.line("{}[{}] = {};", bi, i, j);
    c.w.line("{}[{}] = {};", bv, i, v);
    c.w.close();
    c.w.close();
    c.w.close();
    std::string i2 = c.var("i");
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i2, inner);
    c.store(0, {}, fmt::format("{}[{}]", bi, i2), fmt::format("{} * {} + {}", o, inner, i2));
    c.w.close();
  }
  c.w.close();
  return Status::ok();
}

OpSchema arg_schema(OpKind kind, std::string_view onnx, KernelFn kernel, EmitCFn emit_c,
                    std::string_view doc) {
  OpSchema s{kind, onnx};
  s.attrs = {attr_int("axis", 0), attr_int("keepdims", 1), attr_int("select_last_index", 0)};
  s.fusion = FusionKind::Reduce;
  s.infer = infer_arg;
  s.kernel = kernel;
  s.emit_c = emit_c;
  s.doc = doc;
  return s;
}

}  // namespace

const OpSchema& schema_ArgMax() {
  static const OpSchema s = arg_schema(
      OpKind::ArgMax, "ArgMax", [](KernelContext& c) { return arg_kernel(c, true); },
      [](CEmitContext& c) { return arg_emit_c(c, true); },
      "int64 index of the maximum along axis; first on ties unless select_last_index");
  return s;
}

const OpSchema& schema_ArgMin() {
  static const OpSchema s = arg_schema(
      OpKind::ArgMin, "ArgMin", [](KernelContext& c) { return arg_kernel(c, false); },
      [](CEmitContext& c) { return arg_emit_c(c, false); },
      "int64 index of the minimum along axis; first on ties unless select_last_index");
  return s;
}

}  // namespace weec
