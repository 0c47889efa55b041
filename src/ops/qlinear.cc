// Quantised convolution and matmul: ConvInteger (int32 result), QLinearConv
// and QLinearMatMul. Products and sums are exact integers (int64, wrapping to
// 32 bits where the result is int32). QLinear ops requantise as ONNX's
// reference does: acc * f32(scale_x * scale_w / scale_y) in double, round half
// to even, add the zero point, saturate.
#include <cmath>

#include "ops/nn_emit.h"

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

// ---- C emission ----

// Element of a per-tensor or 1-D per-`len` parameter input ("" when the
// optional input is absent); per-`len` elements are indexed by the
// placeholder "@i", substituted with subst() where the index is known.
Expected<std::string> param_at(CEmitContext& c, size_t i, int64_t len, const char* what) {
  if (!c.has_input(i)) return std::string();
  if (c.in_count(i) == 1) return fmt::format("{}[0]", c.in(i));
  if (c.in_dims(i).size() == 1 && c.in_count(i) == len) return fmt::format("{}[@i]", c.in(i));
  return c.error("{} {} is neither per tensor nor 1-D with {} entries", what, dims_str(c.in_dims(i)), len);
}

std::string subst(std::string e, const std::string& index) {
  size_t p = e.find("@i");
  return p == std::string::npos ? e : e.replace(p, 2, index);
}

// Integer conv of (x - x_zp) and (w - w_zp[oc]) through the shared loop nest,
// accumulating exactly (int32, or int64 where int32 could overflow).
Status int_conv_spec(CEmitContext& c, size_t x_in, size_t xz_in, size_t w_in, size_t wz_in,
                     nn::ConvEmitSpec& s) {
  if (!is_q8(c.input_dtype(x_in)) || !is_q8(c.input_dtype(w_in)))
    return c.error("x and w must be int8 or uint8");
  WEEC_TRY(nn::conv_problem(c, c.in_dims(x_in), c.in_dims(w_in), s.p));
  s.x_in = x_in;
  s.w_in = w_in;
  WEEC_ASSIGN_OR_RETURN(std::string xz, param_at(c, xz_in, 1, "x_zero_point"));
  WEEC_ASSIGN_OR_RETURN(std::string wz, param_at(c, wz_in, s.p.c_out, "w_zero_point"));
  s.acc = nn::int_acc_type(s.p.c_in / s.p.group * numel_of(s.p.w.kernel));
  std::string xzv = c.var("xz"), wzv = c.var("wz");
  auto shifted = [](const std::string& zp, const std::string& name) {
    return [zp, name](const std::string& raw) {
      return zp.empty() ? fmt::format("(int32_t){}", raw) : fmt::format("((int32_t){} - {})", raw, name);
    };
  };
  s.x_value = shifted(xz, xzv);
  s.w_value = shifted(wz, wzv);
  // Zero points hoisted per output channel (w_zero_point may be per channel).
  s.per_channel = [&c, xz, wz, xzv, wzv](const std::string& oc) {
    if (!xz.empty()) c.w.line("const int32_t {} = (int32_t){};", xzv, xz);
    if (!wz.empty()) c.w.line("const int32_t {} = (int32_t){};", wzv, subst(wz, oc));
  };
  return Status::ok();
}

Status convint_emit_c(CEmitContext& c) {
  nn::ConvEmitSpec s;
  WEEC_TRY(int_conv_spec(c, 0, 2, 1, 3, s));
  if (s.acc == DType::I64)  // the kernel wraps the exact sum to 32 bits
    s.finish = [](const std::string& acc, const std::string&) {
      return fmt::format("(int32_t)(uint32_t){}", acc);
    };
  return nn::emit_conv(c, s);
}

Status qconv_emit_c(CEmitContext& c) {
  nn::ConvEmitSpec s;
  WEEC_TRY(int_conv_spec(c, 0, 2, 3, 5, s));
  const DType out = c.output_dtype();
  if (!is_q8(out)) return c.error("y_zero_point must be int8 or uint8");
  WEEC_ASSIGN_OR_RETURN(std::string xs, param_at(c, 1, 1, "x_scale"));
  WEEC_ASSIGN_OR_RETURN(std::string ws, param_at(c, 4, s.p.c_out, "w_scale"));
  WEEC_ASSIGN_OR_RETURN(std::string ys, param_at(c, 6, 1, "y_scale"));
  WEEC_ASSIGN_OR_RETURN(std::string yz, param_at(c, 7, 1, "y_zero_point"));
  if (c.has_input(8) && (c.input_dtype(8) != DType::I32 || c.in_count(8) != s.p.c_out))
    return c.error("B must be i32 with {} entries", s.p.c_out);
  const std::string bias = c.has_input(8) ? c.in(8) : "", rq = nn::requantize_helper(c, out), T = c_type(out);
  std::string mult = c.var("mult"), bv = c.var("bias"), yzv = c.var("yz");
  auto base_channel = s.per_channel;
  s.per_channel = [=, &c](const std::string& oc) {
    base_channel(oc);
    // The kernel's f32 product and quotient, widened once.
    c.w.line("const double {} = (double)({} * {} / {});", mult, xs, subst(ws, oc), ys);
    c.w.line("const int32_t {} = (int32_t){};", yzv, yz);
    if (!bias.empty()) c.w.line("const double {} = (double){}[{}];", bv, bias, oc);
  };
  s.finish = [=](const std::string& acc, const std::string&) {
    std::string v = bias.empty() ? fmt::format("(double){} * {}", acc, mult)
                                 : fmt::format("((double){} + {}) * {}", acc, bv, mult);
    return fmt::format("({}){}({}, {})", T, rq, v, yzv);
  };
  return nn::emit_conv(c, s);
}

Status qmatmul_emit_c(CEmitContext& c) {
  if (!is_q8(c.input_dtype(0)) || !is_q8(c.input_dtype(3)) || !is_q8(c.output_dtype()))
    return c.error("a, b and y_zero_point must be int8 or uint8");
  const Dims a = c.in_dims(0), b = c.in_dims(3);
  const int64_t m = a.size() > 1 ? a[a.size() - 2] : 1, n = b.size() > 1 ? b.back() : 1;
  // Per-row parameters of A index by the row, per-column ones of B by the column.
  WEEC_ASSIGN_OR_RETURN(std::string as, param_at(c, 1, m, "a_scale"));
  WEEC_ASSIGN_OR_RETURN(std::string az, param_at(c, 2, m, "a_zero_point"));
  WEEC_ASSIGN_OR_RETURN(std::string bs, param_at(c, 4, n, "b_scale"));
  WEEC_ASSIGN_OR_RETURN(std::string bz, param_at(c, 5, n, "b_zero_point"));
  WEEC_ASSIGN_OR_RETURN(std::string ys, param_at(c, 6, 1, "y_scale"));
  WEEC_ASSIGN_OR_RETURN(std::string yz, param_at(c, 7, 1, "y_zero_point"));
  nn::MatMulEmitSpec s;
  s.a_in = 0;
  s.b_in = 3;
  s.acc = nn::int_acc_type(a.back());
  s.a_value = [=](const std::string& raw, const std::string& row) {
    return fmt::format("((int32_t){} - (int32_t){})", raw, subst(az, row));
  };
  s.b_value = [=](const std::string& raw, const std::string& col) {
    return fmt::format("((int32_t){} - (int32_t){})", raw, subst(bz, col));
  };
  const std::string rq = nn::requantize_helper(c, c.output_dtype()), T = c_type(c.output_dtype());
  s.finish = [=](const std::string& acc, const std::string& row, const std::string& col) {
    std::string mult = fmt::format("(double)({} * {} / {})", subst(as, row), subst(bs, col), ys);
    return fmt::format("({}){}((double){} * {}, (int32_t){})", T, rq, acc, mult, yz);
  };
  return nn::emit_matmul(c, s);
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
    m.emit_c = convint_emit_c;
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
    m.emit_c = qconv_emit_c;
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
    m.emit_c = qmatmul_emit_c;
    m.macs = nn::matmul_macs;
    m.doc = "quantised numpy matmul, requantised to y_scale/y_zero_point";
    return m;
  }();
  return s;
}

}  // namespace weec
