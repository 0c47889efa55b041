// QConv (weec-internal): integer 1-D/2-D convolution of the int8 pipeline.
// X [N, C, (H,) W] int8/uint8 with zero point x_zero_point; W [M, C/group,
// (kh,) kw] int8 with zero point 0 (symmetric, per-channel scales live in
// the multipliers); optional B int32 [M]. Attributes as Conv (kernel_shape,
// pads, strides, dilations, group; explicit pads only) plus the rescaling of
// qop_util.h (multiplier/shift with 1 or M entries):
//   acc[n, m, p] = B[m] + sum (X - x_zero_point) * W   (padded taps add 0)
//   Y = clamp(y_zero_point + mbqm(acc, multiplier[m], shift[m]), act_min, act_max)
// The C form is in qconv_emit.cc.
#include "ops/qop_util.h"

namespace weec {

namespace {

Status check_dtypes(const NodeContext& ctx, DType x, DType w, const DType* b) {
  if (!qop::is_q8(x)) return ctx.error("X must be int8 or uint8, got {}", dtype_name(x));
  if (w != DType::I8) return ctx.error("W must be int8 (symmetric), got {}", dtype_name(w));
  if (b && *b != DType::I32) return ctx.error("B must be int32, got {}", dtype_name(*b));
  return Status::ok();
}

Status check_rank(const NodeContext& ctx, size_t rank) {
  if (rank == 3 || rank == 4) return Status::ok();
  return ctx.error("QConv handles 1-D and 2-D convolutions (X of rank 3 or 4), got rank {}", rank);
}

Status qconv_infer(InferContext& ctx) {
  const TensorType& xt = ctx.input_type(0);
  DType bt = ctx.has_input(2) ? ctx.input_type(2).dtype : DType::I32;
  WEEC_TRY(check_dtypes(ctx, xt.dtype, ctx.input_type(1).dtype, ctx.has_input(2) ? &bt : nullptr));
  WEEC_TRY(qop::read_zero_point(ctx, "x_zero_point", xt.dtype).status());
  if (xt.shape.rank_known) WEEC_TRY(check_rank(ctx, xt.shape.rank()));
  const Shape& ws = ctx.input_type(1).shape;
  const int64_t c_out = ws.rank_known && ws.rank() > 0 && ws.dims[0].is_known() ? ws.dims[0].value : -1;
  WEEC_ASSIGN_OR_RETURN(qop::Requant rq, qop::read_requant(ctx, c_out));
  return nn::infer_conv_type(ctx, 0, 1, rq.out);
}

struct QConvArgs {
  nn::ConvProblem p;
  int32_t x_zp = 0;
  qop::Requant rq;
};

Expected<QConvArgs> read_args(const NodeContext& ctx, DType xt, const Dims& x, const Dims& w, const Dims* b) {
  QConvArgs a;
  WEEC_TRY(check_rank(ctx, x.size()));
  WEEC_TRY(nn::conv_problem(ctx, x, w, a.p));
  if (b && (b->size() != 1 || (*b)[0] != a.p.c_out))
    return ctx.error("B must be [{}], got {}", a.p.c_out, dims_str(*b));
  WEEC_ASSIGN_OR_RETURN(a.x_zp, qop::read_zero_point(ctx, "x_zero_point", xt));
  WEEC_ASSIGN_OR_RETURN(a.rq, qop::read_requant(ctx, a.p.c_out));
  return a;
}

Status qconv_kernel(KernelContext& ctx) {
  const Tensor &x = ctx.input(0), &w = ctx.input(1);
  const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  DType bt = b ? b->dtype() : DType::I32;
  WEEC_TRY(check_dtypes(ctx, x.dtype(), w.dtype(), b ? &bt : nullptr));
  WEEC_ASSIGN_OR_RETURN(QConvArgs a, read_args(ctx, x.dtype(), x.dims(), w.dims(), b ? &b->dims() : nullptr));
  const nn::ConvProblem& p = a.p;
  Dims out = {p.batch, p.c_out};
  out.insert(out.end(), p.w.out.begin(), p.w.out.end());
  std::vector<int64_t> xv(x.numel()), acc(numel_of(out), 0);
  for (int64_t i = 0; i < x.numel(); ++i) xv[i] = x.get_int(i) - a.x_zp;
  const int8_t* wp = w.data<int8_t>();
  nn::conv_accumulate<int64_t>(
      p, [&](int64_t i) { return xv[i]; }, [&](int64_t i, int64_t) { return (int64_t)wp[i]; }, acc.data());
  Tensor y(a.rq.out, out);
  const int64_t plane = numel_of(p.w.out);
  for (int64_t i = 0; i < (int64_t)acc.size(); ++i) {
    const int64_t oc = plane ? (i / plane) % p.c_out : 0;
    const int64_t v = acc[i] + (b ? b->data<int32_t>()[oc] : 0);
    y.set_double(i, a.rq.apply(v, (size_t)oc));
  }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

Status qconv_emit_c(CEmitContext& c) {
  const Dims b = c.has_input(2) ? c.in_dims(2) : Dims{};
  WEEC_ASSIGN_OR_RETURN(
      QConvArgs a, read_args(c, c.input_dtype(0), c.in_dims(0), c.in_dims(1), c.has_input(2) ? &b : nullptr));
  qop::QConvSpec s{a.p, a.x_zp, a.rq};
  return qop::emit_qconv(c, s);
}

}  // namespace

const OpSchema& schema_QConv() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::QConv, ""};
    m.min_inputs = 2;
    m.max_inputs = 3;
    m.attrs = qop::requant_attrs();
    for (AttrSpec a :
         {attr_optional("dilations", Attribute::Kind::Ints), attr_int("group", 1),
          attr_optional("kernel_shape", Attribute::Kind::Ints), attr_optional("pads", Attribute::Kind::Ints),
          attr_optional("strides", Attribute::Kind::Ints), attr_int("x_zero_point", 0)})
      m.attrs.push_back(a);
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = qconv_infer;
    m.kernel = qconv_kernel;
    m.macs = [](const Node& n) { return nn::conv_macs(n, 1); };
    m.emit_c = qconv_emit_c;
    m.doc = "int8 1-D/2-D convolution: y = clamp(y_zp + mbqm(B + sum (x - x_zp) * w)) (weec-internal)";
    return m;
  }();
  return s;
}

}  // namespace weec
