// Conv: N-D convolution (1-D/2-D/3-D and beyond) with groups (depthwise
// included), strides, dilations, explicit pads or auto_pad, optional bias.
// kernel_shape defaults to W's spatial dims. Float types accumulate in double
// and round once; f16/bf16 likewise.
#include "ops/nn_emit.h"

namespace weec {

namespace {

Status conv_infer(InferContext& ctx) {
  WEEC_TRY(nn::require_float(ctx, ctx.input_type(0).dtype));
  if (ctx.input_type(1).dtype != ctx.input_type(0).dtype) return ctx.error("X and W dtypes differ");
  return nn::infer_conv_type(ctx, 0, 1, ctx.input_type(0).dtype);
}

Status conv_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  if (w.dtype() != x.dtype()) return ctx.error("X and W dtypes differ");
  nn::ConvProblem p;
  WEEC_TRY(nn::conv_problem(ctx, x.dims(), w.dims(), p));
  const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (b && (b->rank() != 1 || b->dim(0) != p.c_out))
    return ctx.error("bias shape {} does not match {} output channels", dims_str(b->dims()), p.c_out);
  Dims out_dims = {p.batch, p.c_out};
  out_dims.insert(out_dims.end(), p.w.out.begin(), p.w.out.end());
  std::vector<double> acc(numel_of(out_dims), 0.0);
  std::vector<double> xv = nn::to_doubles(x), wv = nn::to_doubles(w);
  nn::conv_accumulate<double>(
      p, [&](int64_t i) { return xv[i]; }, [&](int64_t i, int64_t) { return wv[i]; }, acc.data());
  if (b) {
    std::vector<double> bv = nn::to_doubles(*b);
    const int64_t plane = numel_of(p.w.out);
    for (int64_t n = 0; n < p.batch; ++n)
      for (int64_t c = 0; c < p.c_out; ++c) {
        double* o = acc.data() + (n * p.c_out + c) * plane;
        for (int64_t i = 0; i < plane; ++i) o[i] += bv[c];
      }
  }
  ctx.outputs[0] = nn::from_doubles(x.dtype(), out_dims, acc);
  return Status::ok();
}

// Float conv through the shared loop nest, accumulating in the output dtype;
// the bias initialises each channel's accumulator.
Status conv_emit_c(CEmitContext& c) {
  nn::ConvEmitSpec s;
  WEEC_TRY(nn::conv_problem(c, c.in_dims(0), c.in_dims(1), s.p));
  s.acc = c.output_dtype();
  if (c.has_input(2)) {
    if (c.in_count(2) != s.p.c_out) return c.error("bias must have {} elements", s.p.c_out);
    std::string b = c.in(2);
    s.init = [b](const std::string& oc) { return fmt::format("{}[{}]", b, oc); };
  }
  return nn::emit_conv(c, s);
}

}  // namespace

const OpSchema& schema_Conv() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Conv, "Conv"};
    m.min_inputs = 2;
    m.max_inputs = 3;
    m.attrs = {attr_string("auto_pad", "NOTSET"),
               attr_optional("dilations", Attribute::Kind::Ints),
               attr_int("group", 1),
               attr_optional("kernel_shape", Attribute::Kind::Ints),
               attr_optional("pads", Attribute::Kind::Ints),
               attr_optional("strides", Attribute::Kind::Ints)};
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = conv_infer;
    m.kernel = conv_kernel;
    m.macs = [](const Node& n) { return nn::conv_macs(n, 1); };
    m.emit_c = conv_emit_c;
    m.doc = "N-D convolution with groups, strides, dilations, pads/auto_pad and optional bias";
    return m;
  }();
  return s;
}

}  // namespace weec
