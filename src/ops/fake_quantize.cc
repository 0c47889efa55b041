// FakeQuantize (weec-internal): quantise and dequantise in float, the
// building block of quantisation-aware training.
//
//   y = (clamp(round(x / scale) + zero_point, qmin, qmax) - zero_point) * scale
//
// scale and zero_point (float, integer-valued) broadcast to x: one value per
// tensor, or e.g. [C, 1, 1, 1] per output channel of a conv weight. The
// division is in f32 and rounds half to even, as QuantizeLinear: a
// FakeQuantize is exactly a QuantizeLinear -> DequantizeLinear pair with an
// 8-bit (or narrower, by qmin/qmax) type.
//
// Gradient: the straight-through estimator for x (dy where the rounded value
// is inside [qmin, qmax], else 0) and LSQ's for the scale (Esser et al.,
// "Learned Step Size Quantization"): dy * (round(x/s) - x/s) inside, dy *
// (qmin - zp) or (qmax - zp) where clamped, times grad_scale, summed over the
// elements sharing a scale. The zero point has none.
#include <cmath>
#include <optional>

#include "ops/elementwise_util.h"
#include "ops/grad.h"

namespace weec {

namespace {

Status fq_infer(InferContext& ctx) {
  for (size_t i = 0; i < 3; ++i)
    if (!is_float(ctx.input_type(i).dtype)) return ctx.error("{} must be a float tensor", ctx.input_desc(i));
  if (ctx.attrs.i("qmin") >= ctx.attrs.i("qmax")) return ctx.error("qmin must be below qmax");
  return infer_broadcast(ctx);
}

Status fq_kernel(KernelContext& ctx) {
  const Tensor &x = ctx.input(0), &s = ctx.input(1), &z = ctx.input(2);
  const float qmin = (float)ctx.attrs.i("qmin"), qmax = (float)ctx.attrs.i("qmax");
  WEEC_ASSIGN_OR_RETURN(Dims out, broadcast_dims({x.dims(), s.dims(), z.dims()}));
  if (out != x.dims()) return ctx.error("scale and zero point must broadcast to x's dims");
  Tensor y(x.dtype(), out);
  std::vector<Dims> strides = {broadcast_strides(s.dims(), out), broadcast_strides(z.dims(), out)};
  auto fq = [&](float v, float sc, float zp) {
    return (std::min(qmax, std::max(qmin, (float)round_half_even(v / sc) + zp)) - zp) * sc;
  };
  if (x.dtype() == DType::F32 && s.dtype() == DType::F32 && z.dtype() == DType::F32) {
    // The training case (every weight, every step): typed pointers.
    const float *xp = x.data<float>(), *sp = s.data<float>(), *zp = z.data<float>();
    float* yp = y.data<float>();
    for_each_broadcast(out, strides,
                       [&](int64_t i, const int64_t* off) { yp[i] = fq(xp[i], sp[off[0]], zp[off[1]]); });
  } else {
    for_each_broadcast(out, strides, [&](int64_t i, const int64_t* off) {
      y.set_double(
          i, (double)fq((float)x.get_double(i), (float)s.get_double(off[0]), (float)z.get_double(off[1])));
    });
  }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

// FakeQuantizeGrad(x, scale, zero_point, dy) -> dx[, dscale per element]:
// the gradient below as one op, since training runs it over every weight at
// every step. Computed in x's dtype as the equivalent graph of element-wise
// ops would: xs = x / s, r = round(xs), q = r + zp, outside = q < qmin or
// q > qmax; dx = outside ? 0 : dy; dscale = dy * (outside ? (q < qmin ? qmin
// : qmax) - zp : r - xs) * grad_scale (summed onto the scale's dims by the
// caller).
Status fqg_infer(InferContext& ctx) {
  for (size_t i = 0; i < 4; ++i)
    if (!is_float(ctx.input_type(i).dtype)) return ctx.error("{} must be a float tensor", ctx.input_desc(i));
  for (auto& o : ctx.outputs) o = ctx.input_type(0);
  return Status::ok();
}

template <typename T>
void fqg_loop(const Tensor& x, const Tensor& s, const Tensor& z, const Tensor& dy, Tensor& dx, Tensor* ds,
              const std::vector<Dims>& strides, T qmin, T qmax, T gs) {
  const T *xp = x.data<T>(), *sp = s.data<T>(), *zp = z.data<T>(), *dyp = dy.data<T>();
  T* dxp = dx.data<T>();
  T* dsp = ds ? ds->data<T>() : nullptr;
  for_each_broadcast(x.dims(), strides, [&](int64_t i, const int64_t* off) {
    const T xs = xp[i] / sp[off[0]], r = (T)round_half_even(xs), zv = zp[off[1]], q = r + zv;
    const bool below = q < qmin, outside = below || q > qmax;
    dxp[i] = outside ? T(0) : dyp[i];
    if (dsp) dsp[i] = dyp[i] * (outside ? (below ? qmin - zv : qmax - zv) : r - xs) * gs;
  });
}

Status fqg_kernel(KernelContext& ctx) {
  const Tensor &x = ctx.input(0), &s = ctx.input(1), &z = ctx.input(2), &dy = ctx.input(3);
  const DType t = x.dtype();
  if (s.dtype() != t || z.dtype() != t || dy.dtype() != t || dy.dims() != x.dims() ||
      (t != DType::F32 && t != DType::F64))
    return ctx.error("x, scale, zero point and dy must share a dtype (f32 or f64), dy x's dims");
  WEEC_ASSIGN_OR_RETURN(Dims out, broadcast_dims({x.dims(), s.dims(), z.dims()}));
  if (out != x.dims()) return ctx.error("scale and zero point must broadcast to x's dims");
  const std::vector<Dims> strides = {broadcast_strides(s.dims(), out), broadcast_strides(z.dims(), out)};
  Tensor dx(t, out);
  std::optional<Tensor> ds;
  if (ctx.outputs.size() > 1) ds.emplace(t, out);
  const double qmin = (double)ctx.attrs.i("qmin"), qmax = (double)ctx.attrs.i("qmax");
  const double gs = (double)ctx.attrs.f("grad_scale");
  if (t == DType::F32)
    fqg_loop<float>(x, s, z, dy, dx, ds ? &*ds : nullptr, strides, (float)qmin, (float)qmax, (float)gs);
  else
    fqg_loop<double>(x, s, z, dy, dx, ds ? &*ds : nullptr, strides, qmin, qmax, gs);
  ctx.outputs[0] = std::move(dx);
  if (ds) ctx.outputs[1] = std::move(*ds);
  return Status::ok();
}

Status fq_grad(GradContext& c) {
  AttrMap a = {{"qmin", Attribute::of_int(c.attrs.i("qmin"))},
               {"qmax", Attribute::of_int(c.attrs.i("qmax"))},
               {"grad_scale", Attribute::of_float(c.attrs.f("grad_scale"))}};
  std::vector<Value*> g =
      c.op_n(OpKind::FakeQuantizeGrad, {c.x(0), c.x(1), c.x(2), c.dy(0)}, c.wants(1) ? 2 : 1, a);
  if (c.wants(0)) c.set(0, g[0]);
  if (c.wants(1)) c.set(1, c.unbroadcast(g[1], c.dims(c.x(1))));
  return Status::ok();
}

}  // namespace

const OpSchema& schema_FakeQuantize() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::FakeQuantize, ""};
    m.min_inputs = m.max_inputs = 3;
    m.attrs = {attr_int("qmin", -128), attr_int("qmax", 127), attr_float("grad_scale", 1.0f)};
    m.fusion = FusionKind::Broadcast;
    m.infer = fq_infer;
    m.kernel = fq_kernel;
    m.grad = fq_grad;
    m.doc = "(clamp(round(x / scale) + zp, qmin, qmax) - zp) * scale: quantisation-aware training";
    return m;
  }();
  return s;
}

const OpSchema& schema_FakeQuantizeGrad() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::FakeQuantizeGrad, ""};
    m.min_inputs = m.max_inputs = 4;
    m.min_outputs = 1, m.max_outputs = 2;
    m.attrs = {attr_int("qmin", -128), attr_int("qmax", 127), attr_float("grad_scale", 1.0f)};
    m.infer = fqg_infer;
    m.kernel = fqg_kernel;
    m.doc =
        "FakeQuantize's gradient: dx (straight-through) and, as a second output, LSQ's per-element dscale";
    return m;
  }();
  return s;
}

}  // namespace weec
