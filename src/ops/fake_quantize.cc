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

Status fq_grad(GradContext& c) {
  Value *x = c.x(0), *s = c.x(1), *z = c.x(2), *dy = c.dy(0);
  const DType t = x->type.dtype;
  const double qmin = (double)c.attrs.i("qmin"), qmax = (double)c.attrs.i("qmax");
  Value* xs = c.op(OpKind::Div, {x, s});
  Value* r = c.op(OpKind::Round, {xs});
  Value* q = c.op(OpKind::Add, {r, z});
  Value *lo = c.scalar(qmin, t), *hi = c.scalar(qmax, t), *zero = c.scalar(0, t);
  Value* below = c.op(OpKind::Less, {q, lo});
  Value* above = c.op(OpKind::Greater, {q, hi});
  Value* outside = c.op(OpKind::Or, {below, above});
  if (c.wants(0)) c.set(0, c.op(OpKind::Where, {outside, zero, dy}));
  if (c.wants(1)) {
    Value* clamped = c.op(OpKind::Where, {below, c.op(OpKind::Sub, {lo, z}), c.op(OpKind::Sub, {hi, z})});
    Value* ds = c.op(OpKind::Where, {outside, clamped, c.op(OpKind::Sub, {r, xs})});
    Value* g = c.op(OpKind::Mul, {dy, ds});
    const float gs = c.attrs.f("grad_scale");
    if (gs != 1.0f) g = c.op(OpKind::Mul, {g, c.scalar(gs, t)});
    c.set(1, c.unbroadcast(g, c.dims(s)));
  }
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

}  // namespace weec
