// Quantised convolution and matmul: ConvInteger (int32 result), QLinearConv
// and QLinearMatMul. Products and sums are exact integers (int64, wrapping to
// 32 bits where the result is int32). QLinear ops requantise as ONNX's
// reference does: acc * f32(scale_x * scale_w / scale_y) in double, round half
// to even, add the zero point, saturate.
#include <cmath>

#include "ops/conv_util.h"

namespace weec {

namespace {

bool is_q8(DType t) { return t == DType::U8 || t == DType::I8; }

int64_t saturate_q(double v, int64_t zp, DType to) {
  const double lo = to == DType::U8 ? 0 : -128, hi = to == DType::U8 ? 255 : 127;
  if (std::isnan(v)) return 0;
  return (int64_t)std::min(hi, std::max(lo, round_half_even(v) + (double)zp));
}

// Per-tensor or per-output-channel parameter (w_scale, w_zero_point).
Expected<std::vector<double>> per_channel(const NodeContext& ctx, const Tensor* t, int64_t c_out,
                                          double absent, const char* what) {
  if (!t) return std::vector<double>(c_out, absent);
  if (t->numel() == 1) return std::vector<double>(c_out, t->get_double(0));
  if (t->rank() != 1 || t->numel() != c_out)
    return ctx.error("{} must be a scalar or have {} entries, got {}", what, c_out, dims_str(t->dims()));
  std::vector<double> v(c_out);
  for (int64_t i = 0; i < c_out; ++i) v[i] = t->get_double(i);
  return v;
}

Expected<double> scalar_param(const NodeContext& ctx, const Tensor* t, const char* what) {
  if (!t) return 0.0;
  if (t->numel() != 1) return ctx.error("{} must have one element, got {}", what, dims_str(t->dims()));
  return t->get_double(0);
}

// Integer convolution of (x - x_zp) and (w - w_zp[oc]); result in int64 with
// shape (N, C_out, out...).
Expected<std::vector<int64_t>> int_conv(const NodeContext& ctx, const Tensor& x, const Tensor* x_zp,
                                        const Tensor& w, const Tensor* w_zp, nn::ConvProblem& p) {
  if (!is_q8(x.dtype()) || !is_q8(w.dtype())) return ctx.error("x and w must be int8 or uint8");
  if ((x_zp && x_zp->dtype() != x.dtype()) || (w_zp && w_zp->dtype() != w.dtype()))
    return ctx.error("zero points must have their operand's dtype");
  WEEC_TRY(nn::conv_problem(ctx, x.dims(), w.dims(), p));
  WEEC_ASSIGN_OR_RETURN(double xz, scalar_param(ctx, x_zp, "x_zero_point"));
  WEEC_ASSIGN_OR_RETURN(auto wz, per_channel(ctx, w_zp, p.c_out, 0.0, "w_zero_point"));
  std::vector<int64_t> xv(x.numel()), wv(w.numel());
  for (int64_t i = 0; i < x.numel(); ++i) xv[i] = x.get_int(i) - (int64_t)xz;
  const int64_t per_oc = p.c_out ? w.numel() / p.c_out : 0;
  for (int64_t i = 0; i < w.numel(); ++i) wv[i] = w.get_int(i) - (int64_t)wz[i / per_oc];
  Dims out = {p.batch, p.c_out};
  out.insert(out.end(), p.w.out.begin(), p.w.out.end());
  std::vector<int64_t> acc(numel_of(out), 0);
  nn::conv_accumulate<int64_t>(
      p, [&](int64_t i) { return xv[i]; }, [&](int64_t i, int64_t) { return wv[i]; }, acc.data());
  return acc;
}

Dims conv_out_dims(const nn::ConvProblem& p) {
  Dims out = {p.batch, p.c_out};
  out.insert(out.end(), p.w.out.begin(), p.w.out.end());
  return out;
}

// ---- ConvInteger ----

Status convint_infer(InferContext& ctx) {
  if (!is_q8(ctx.input_type(0).dtype) || !is_q8(ctx.input_type(1).dtype))
    return ctx.error("x and w must be int8 or uint8");
  return nn::infer_conv_type(ctx, 0, 1, DType::I32);
}

Status convint_kernel(KernelContext& ctx) {
  auto in = [&](size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; };
  nn::ConvProblem p;
  WEEC_ASSIGN_OR_RETURN(auto acc, int_conv(ctx, ctx.input(0), in(2), ctx.input(1), in(3), p));
  Tensor y(DType::I32, conv_out_dims(p));
  for (size_t i = 0; i < acc.size(); ++i) y.data<int32_t>()[i] = (int32_t)(uint32_t)(uint64_t)acc[i];
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

// ---- QLinearConv ----

Status qconv_infer(InferContext& ctx) {
  if (!is_q8(ctx.input_type(0).dtype) || !is_q8(ctx.input_type(3).dtype))
    return ctx.error("x and w must be int8 or uint8");
  DType out = ctx.input_type(7).dtype;
  if (!is_q8(out)) return ctx.error("y_zero_point must be int8 or uint8");
  return nn::infer_conv_type(ctx, 0, 3, out);
}

Status qconv_kernel(KernelContext& ctx) {
  auto in = [&](size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; };
  nn::ConvProblem p;
  WEEC_ASSIGN_OR_RETURN(auto acc, int_conv(ctx, ctx.input(0), in(2), ctx.input(3), in(5), p));
  const Tensor& yzp_t = ctx.input(7);
  const DType out_t = yzp_t.dtype();
  if (!is_q8(out_t)) return ctx.error("y_zero_point must be int8 or uint8");
  WEEC_ASSIGN_OR_RETURN(double xs, scalar_param(ctx, in(1), "x_scale"));
  WEEC_ASSIGN_OR_RETURN(double ys, scalar_param(ctx, in(6), "y_scale"));
  WEEC_ASSIGN_OR_RETURN(double yzp, scalar_param(ctx, &yzp_t, "y_zero_point"));
  WEEC_ASSIGN_OR_RETURN(auto ws, per_channel(ctx, in(4), p.c_out, 1.0, "w_scale"));
  std::vector<double> bias(p.c_out, 0.0);
  if (const Tensor* b = in(8)) {
    if (b->dtype() != DType::I32 || b->rank() != 1 || b->numel() != p.c_out)
      return ctx.error("B must be i32 with {} entries, got {}{}", p.c_out, dtype_name(b->dtype()),
                       dims_str(b->dims()));
    for (int64_t i = 0; i < p.c_out; ++i) bias[i] = (double)b->get_int(i);
  }
  std::vector<double> mult(p.c_out);
  for (int64_t c = 0; c < p.c_out; ++c) mult[c] = (double)((float)xs * (float)ws[c] / (float)ys);
  Tensor y(out_t, conv_out_dims(p));
  const int64_t plane = numel_of(p.w.out);
  for (int64_t i = 0; i < (int64_t)acc.size(); ++i) {
    int64_t c = plane ? (i / plane) % p.c_out : 0;
    double v = ((double)acc[i] + bias[c]) * mult[c];
    y.set_double(i, (double)saturate_q(v, (int64_t)yzp, out_t));
  }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

// ---- QLinearMatMul ----

Status qmatmul_infer(InferContext& ctx) {
  if (!is_q8(ctx.input_type(0).dtype) || !is_q8(ctx.input_type(3).dtype))
    return ctx.error("a and b must be int8 or uint8");
  DType out = ctx.input_type(7).dtype;
  if (!is_q8(out)) return ctx.error("y_zero_point must be int8 or uint8");
  WEEC_ASSIGN_OR_RETURN(Shape s, nn::matmul_shape(ctx, ctx.input_type(0).shape, ctx.input_type(3).shape));
  ctx.outputs[0] = TensorType{out, s};
  return Status::ok();
}

Status qmatmul_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(3);
  const Tensor& yzp_t = ctx.input(7);
  if (!is_q8(a.dtype()) || !is_q8(b.dtype()) || !is_q8(yzp_t.dtype()))
    return ctx.error("a, b and y_zero_point must be int8 or uint8");
  if (ctx.input(2).dtype() != a.dtype() || ctx.input(5).dtype() != b.dtype())
    return ctx.error("zero points must have their operand's dtype");
  WEEC_ASSIGN_OR_RETURN(nn::MatMulPlan p, nn::matmul_plan(ctx, a.dims(), b.dims()));
  WEEC_ASSIGN_OR_RETURN(auto as, nn::param_for_operand(ctx, ctx.input(1), a.dims(), true));
  WEEC_ASSIGN_OR_RETURN(auto az, nn::param_for_operand(ctx, ctx.input(2), a.dims(), true));
  WEEC_ASSIGN_OR_RETURN(auto bs, nn::param_for_operand(ctx, ctx.input(4), b.dims(), false));
  WEEC_ASSIGN_OR_RETURN(auto bz, nn::param_for_operand(ctx, ctx.input(5), b.dims(), false));
  WEEC_ASSIGN_OR_RETURN(double ys, scalar_param(ctx, &ctx.input(6), "y_scale"));
  WEEC_ASSIGN_OR_RETURN(double yzp, scalar_param(ctx, &yzp_t, "y_zero_point"));
  std::vector<int64_t> av(a.numel()), bv(b.numel()), acc(numel_of(p.out), 0);
  for (int64_t i = 0; i < a.numel(); ++i) av[i] = a.get_int(i) - (int64_t)az[i];
  for (int64_t i = 0; i < b.numel(); ++i) bv[i] = b.get_int(i) - (int64_t)bz[i];
  nn::matmul_loop<int64_t>(p, av.data(), bv.data(), acc.data());
  Tensor y(yzp_t.dtype(), p.out);
  const int64_t m = p.m, n = p.n, k = p.k;
  for (size_t bi = 0; bi < p.a_mat.size(); ++bi)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        // Per-row/column scales are constant along K: read them at k = 0.
        double sa = k ? as[p.a_mat[bi] * m * k + i * k] : 1.0;
        double sb = k ? bs[p.b_mat[bi] * k * n + j] : 1.0;
        double mult = (double)((float)sa * (float)sb / (float)ys);
        int64_t at = ((int64_t)bi * m + i) * n + j;
        y.set_double(at, (double)saturate_q((double)acc[at] * mult, (int64_t)yzp, yzp_t.dtype()));
      }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

std::vector<AttrSpec> conv_attrs() {
  return {attr_string("auto_pad", "NOTSET"),
          attr_optional("dilations", Attribute::Kind::Ints),
          attr_int("group", 1),
          attr_optional("kernel_shape", Attribute::Kind::Ints),
          attr_optional("pads", Attribute::Kind::Ints),
          attr_optional("strides", Attribute::Kind::Ints)};
}

}  // namespace

const OpSchema& schema_ConvInteger() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::ConvInteger, "ConvInteger"};
    m.since_opset = 10;
    m.min_inputs = 2;
    m.max_inputs = 4;
    m.attrs = conv_attrs();
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = convint_infer;
    m.kernel = convint_kernel;
    m.macs = [](const Node& n) { return nn::conv_macs(n, 1); };
    m.doc = "8-bit convolution with zero points, int32 result";
    return m;
  }();
  return s;
}

const OpSchema& schema_QLinearConv() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::QLinearConv, "QLinearConv"};
    m.since_opset = 10;
    m.min_inputs = 8;
    m.max_inputs = 9;
    m.attrs = conv_attrs();
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = qconv_infer;
    m.kernel = qconv_kernel;
    m.macs = [](const Node& n) { return nn::conv_macs(n, 3); };
    m.doc = "quantised convolution, requantised to y_scale/y_zero_point";
    return m;
  }();
  return s;
}

const OpSchema& schema_QLinearMatMul() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::QLinearMatMul, "QLinearMatMul"};
    m.since_opset = 10;
    m.min_inputs = m.max_inputs = 8;
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = qmatmul_infer;
    m.kernel = qmatmul_kernel;
    m.macs = nn::matmul_macs;
    m.doc = "quantised numpy matmul, requantised to y_scale/y_zero_point";
    return m;
  }();
  return s;
}

}  // namespace weec
