// Softmax, LogSoftmax, Hardmax.
//
// IR form: one input, attribute `axis` (default -1); the op normalises along
// that single axis (ONNX opset 13 semantics). Before opset 13 the ops coerced
// the input to 2-D at `axis` (default 1) and normalised over the flattened
// trailing block [axis, rank); the import hook expresses that as
//   Reshape(x, [outer, inner]) -> Op(axis=1) -> Reshape(orig dims)
// when the input shape is static, as Flatten -> Op -> Reshape(Shape(x)) when
// it is not, and as a single Op when axis is already the last axis.
//
// Softmax subtracts the row maximum before exp, so large inputs do not
// overflow; it computes in f64 and rounds once. Hardmax sets 1 at the first
// maximum of each row (numpy argmax order: a NaN counts as the maximum).
#include <limits>

#include "ops/c_emit.h"
#include "ops/grad.h"
#include "ops/op_util.h"

namespace weec {

namespace {

enum class Soft { Softmax, LogSoftmax, Hardmax };

template <typename T>
void soft_rows(Soft kind, const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  std::vector<double> e(n);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * n * inner + i;
      T* q = y + o * n * inner + i;
      if (kind == Soft::Hardmax) {
        int64_t best = 0;
        for (int64_t j = 1; j < n; ++j) {
          double b = (double)p[best * inner], v = (double)p[j * inner];
          if (!std::isnan(b) && (std::isnan(v) || v > b)) best = j;
        }
        for (int64_t j = 0; j < n; ++j) q[j * inner] = T(j == best ? 1 : 0);
        continue;
      }
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n; ++j) {
        double v = (double)p[j * inner];
        if (!std::isnan(mx) && (std::isnan(v) || v > mx)) mx = v;
      }
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        e[j] = std::exp((double)p[j * inner] - mx);
        sum += e[j];
      }
      double log_sum = std::log(sum);
      for (int64_t j = 0; j < n; ++j)
        q[j * inner] = kind == Soft::Softmax ? T(e[j] / sum) : T((double)p[j * inner] - mx - log_sum);
    }
  }
}

Status soft_kernel(KernelContext& ctx, Soft kind) {
  const Tensor& x0 = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), x0.rank()));
  int64_t outer = 1, inner = 1, n = x0.dim(axis);
  for (int64_t i = 0; i < x0.rank(); ++i) {
    if (i < axis) outer *= x0.dim(i);
    if (i > axis) inner *= x0.dim(i);
  }
  bool half = is_half(x0.dtype());
  Tensor x = half ? to_f32(x0) : x0;
  Tensor y(x.dtype(), x.dims());
  if (x.dtype() == DType::F32)
    soft_rows<float>(kind, x.data<float>(), y.data<float>(), outer, n, inner);
  else if (x.dtype() == DType::F64)
    soft_rows<double>(kind, x.data<double>(), y.data<double>(), outer, n, inner);
  else
    return ctx.error("dtype {} is not supported (floating point only)", dtype_name(x0.dtype()));
  ctx.outputs[0] = half ? from_f32(y, x0.dtype()) : std::move(y);
  return Status::ok();
}

Status infer_soft(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  if (!is_float(in.dtype))
    return ctx.error("dtype {} is not supported (floating point only)", dtype_name(in.dtype));
  if (in.shape.rank_known) WEEC_TRY(normalize_axis(ctx, ctx.attrs.i("axis"), in.shape.rank()).status());
  ctx.outputs[0] = in;
  return Status::ok();
}

// Opset < 13: normalise over the flattened block [axis, rank).
Status import_soft(ImportContext& ctx, OpKind kind) {
  if (ctx.opset >= 13) {
    ctx.emit(kind, ctx.inputs, ctx.outputs, ctx.attrs);
    return Status::ok();
  }
  auto it = ctx.attrs.find("axis");
  int64_t axis = it == ctx.attrs.end() ? 1 : it->second.i;
  Value* x = ctx.inputs[0];
  const Shape& s = x->type.shape;
  AttrMap allowzero = {{"allowzero", Attribute::of_int(1)}};  // shapes may hold 0-sized dims
  if (s.rank_known) {
    int64_t r = s.rank();
    if (axis < -r || axis >= r) return ctx.error("axis {} is out of range for rank {}", axis, r);
    if (axis < 0) axis += r;
    if (axis == r - 1) {  // the trailing block is one axis: both semantics agree
      ctx.emit(kind, {x}, ctx.outputs, {{"axis", Attribute::of_int(axis)}});
      return Status::ok();
    }
    if (s.is_static()) {
      Dims d = s.static_dims();
      int64_t outer = 1, inner = 1;
      for (int64_t i = 0; i < r; ++i) (i < axis ? outer : inner) *= d[i];
      Value* shape2d = ctx.constant("shape2d", Tensor::from_vector<int64_t>({2}, {outer, inner}));
      Value* flat = ctx.temp("flat");
      ctx.emit(OpKind::Reshape, {x, shape2d}, {flat}, allowzero);
      Value* y = ctx.temp("y2d");
      ctx.emit(kind, {flat}, {y}, {{"axis", Attribute::of_int(1)}});
      Value* orig = ctx.constant("shape", Tensor::from_vector<int64_t>({r}, d));
      ctx.emit(OpKind::Reshape, {y, orig}, ctx.outputs, allowzero);
      return Status::ok();
    }
  }
  Value* flat = ctx.temp("flat");
  ctx.emit(OpKind::Flatten, {x}, {flat}, {{"axis", Attribute::of_int(axis)}});
  Value* y = ctx.temp("y2d");
  ctx.emit(kind, {flat}, {y}, {{"axis", Attribute::of_int(1)}});
  Value* shape = ctx.temp("shape");
  ctx.emit(OpKind::Shape, {x}, {shape}, {});
  ctx.emit(OpKind::Reshape, {y, shape}, ctx.outputs, allowzero);
  return Status::ok();
}

// C: one row (stride `inner` along the axis) at a time. exp runs in the
// element type; the sum accumulates in double and each output rounds once.
Status soft_emit_c(CEmitContext& c, Soft kind) {
  Dims in = c.in_dims(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), (int64_t)in.size()));
  const DType t = c.input_dtype(0);
  if (t != DType::F32 && t != DType::F64) return c.error("dtype {} is not supported", dtype_name(t));
  int64_t outer = 1, inner = 1, n = in[axis];
  for (int64_t i = 0; i < (int64_t)in.size(); ++i) {
    if (i < axis) outer *= in[i];
    if (i > axis) inner *= in[i];
  }
  if (outer * inner * n == 0) return Status::ok();
  const std::string T = c_type(t);
  std::string o = c.var("o"), i = c.var("i"), xr = c.var("xr"), yr = c.var("yr");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", o, outer);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, inner);
  c.w.line("const {} * {} = {} + {} * {} + {};", T, xr, c.in(0), o, n * inner, i);
  c.w.line("{} * {} = {} + {} * {} + {};", T, yr, c.out(0), o, n * inner, i);
  auto at = [&](const std::string& p, const std::string& j) {
    return inner == 1 ? fmt::format("{}[{}]", p, j) : fmt::format("{}[{} * {}]", p, j, inner);
  };
  auto loop = [&](const std::string& j, int64_t from = 0) {
    c.w.open("for (int32_t {0} = {1}; {0} < {2}; ++{0}) {{", j, from, n);
  };
  std::string j = c.var("j");
  if (kind == Soft::Hardmax) {  // first maximum; a NaN counts as the maximum
    std::string best = c.var("best");
    c.w.line("int32_t {} = 0;", best);
    loop(j, 1);
    c.w.line("const {} b = {}, v = {};", T, at(xr, best), at(xr, j));
    c.w.line("if (b == b && (v != v || v > b)) {} = {};", best, j);
    c.w.close();
    loop(j);
    c.w.line("{} = {} == {} ? {} : {};", at(yr, j), j, best, c_literal(1, t), c_literal(0, t));
    c.w.close();
  } else {
    std::string mx = c.var("mx"), sum = c.var("sum");
    c.w.line("{} {} = {};", T, mx, c.infinity(t, true));
    loop(j);
    c.w.line("const {} v = {};", T, at(xr, j));
    c.w.line("if ({0} == {0} && (v != v || v > {0})) {0} = v;", mx);
    c.w.close();
    c.w.line("double {} = 0.0;", sum);
    loop(j);
    c.w.line("const {} e = {}({} - {});", T, c.math("exp", t), at(xr, j), mx);
    if (kind == Soft::Softmax) c.w.line("{} = e;", at(yr, j));
    c.w.line("{} += (double)e;", sum);
    c.w.close();
    if (kind == Soft::Softmax) {
      loop(j);
      c.w.line("{0} = ({1})((double){0} / {2});", at(yr, j), T, sum);
      c.w.close();
    } else {
      std::string ls = c.var("ls");
      c.w.line("const double {} = {}({});", ls, c.math("log", DType::F64), sum);
      loop(j);
      c.w.line("{} = ({})((double){} - (double){} - {});", at(yr, j), T, at(xr, j), mx, ls);
      c.w.close();
    }
  }
  c.w.close();
  c.w.close();
  return Status::ok();
}

// Gradients (ops/grad.h) from the output y along the axis:
//   softmax:     dx = y * (dy - sum(dy * y))
//   log_softmax: dx = dy - exp(y) * sum(dy)
Status soft_grad(GradContext& c) {
  Value *y = c.y(0), *dy = c.dy(0);
  Value* axes = c.ints({c.attrs.i("axis")});
  const AttrMap keep = {{"keepdims", Attribute::of_int(1)}};
  if (c.node.op == OpKind::Softmax) {
    Value* s = c.op(OpKind::ReduceSum, {c.op(OpKind::Mul, {dy, y}), axes}, keep);
    c.set(0, c.op(OpKind::Mul, {y, c.op(OpKind::Sub, {dy, s})}));
  } else {
    Value* s = c.op(OpKind::ReduceSum, {dy, axes}, keep);
    c.set(0, c.op(OpKind::Sub, {dy, c.op(OpKind::Mul, {c.op(OpKind::Exp, {y}), s})}));
  }
  return Status::ok();
}

OpSchema soft_schema(OpKind kind, std::string_view onnx, KernelFn kernel, ImportFn import, EmitCFn emit_c,
                     std::string_view doc) {
  OpSchema s{kind, onnx};
  s.attrs = {attr_int("axis", -1)};
  s.fusion = FusionKind::Opaque;
  s.infer = infer_soft;
  s.kernel = kernel;
  s.import = import;
  s.emit_c = emit_c;
  if (kind != OpKind::Hardmax) s.grad = soft_grad;
  s.doc = doc;
  return s;
}

}  // namespace

#define WEEC_SOFT_OP(Name, doc)                                                           \
  const OpSchema& schema_##Name() {                                                       \
    static const OpSchema s = soft_schema(                                                \
        OpKind::Name, #Name, [](KernelContext& c) { return soft_kernel(c, Soft::Name); }, \
        [](ImportContext& c) { return import_soft(c, OpKind::Name); },                    \
        [](CEmitContext& c) { return soft_emit_c(c, Soft::Name); }, doc);                 \
    return s;                                                                             \
  }
WEEC_SOFT_OP(Softmax, "exp(x - max) / sum along axis (opset 13 semantics)")
WEEC_SOFT_OP(LogSoftmax, "x - max - log(sum(exp(x - max))) along axis (opset 13 semantics)")
WEEC_SOFT_OP(Hardmax, "1 at the first maximum along axis, 0 elsewhere (opset 13 semantics)")
#undef WEEC_SOFT_OP

}  // namespace weec
