// Conv: N-D convolution (1-D/2-D/3-D and beyond) with groups (depthwise
// included), strides, dilations, explicit pads or auto_pad, optional bias.
// kernel_shape defaults to W's spatial dims. Float types accumulate in double
// and round once; f16/bf16 likewise.
#include "ops/grad.h"
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

namespace {

// ---- gradient (ops/grad.h) ----
//  dX: ConvTranspose of dY with W and the forward geometry; output_padding
//      restores the rows a strided conv left out.
//  dW: a convolution of X with dY as the kernel, batch and channel axes
//      swapped (the sum over the batch becomes the channel sum), stride and
//      dilation exchanged; cut to the kernel's dims. Depthwise-like groups
//      (one input channel each) do it as one grouped conv; other groups one
//      conv per group.
//  dB: dY summed over all axes but the channel.
std::vector<int64_t> swap01(size_t rank) {
  std::vector<int64_t> p;
  for (size_t a = 0; a < rank; ++a) p.push_back((int64_t)a);
  std::swap(p[0], p[1]);
  return p;
}

// Conv(x, k) with the weight-gradient geometry, cut to kernel dims `kd`.
Value* weight_conv(GradContext& c, const nn::ConvProblem& p, Value* x, Value* k, int64_t group,
                   const Dims& kd) {
  const nn::Window& w = p.w;
  std::vector<int64_t> pads = w.pad_begin;
  pads.insert(pads.end(), w.pad_end.begin(), w.pad_end.end());
  Value* r = c.op(OpKind::Conv, {x, k},
                  {{"strides", Attribute::of_ints(w.dilations)},
                   {"dilations", Attribute::of_ints(w.strides)},
                   {"pads", Attribute::of_ints(pads)},
                   {"group", Attribute::of_int(group)}});
  if (!c.status().is_ok()) return r;
  const Dims rd = c.dims(r);
  std::vector<int64_t> starts, ends, axes;
  for (size_t i = 0; i < kd.size(); ++i)
    if (rd[2 + i] != kd[i]) starts.push_back(0), ends.push_back(kd[i]), axes.push_back((int64_t)(2 + i));
  return axes.empty() ? r : c.op(OpKind::Slice, {r, c.ints(starts), c.ints(ends), c.ints(axes)});
}

Status conv_grad(GradContext& c) {
  const Dims xd = c.dims(c.x(0)), wd = c.dims(c.x(1));
  nn::ConvProblem p;
  WEEC_TRY(nn::conv_problem(c, xd, wd, p));
  const nn::Window& w = p.w;
  const size_t r = w.rank(), rank = xd.size();
  Value* dy = c.dy(0);
  const Dims kd(wd.begin() + 2, wd.end());
  if (c.wants(0)) {
    std::vector<int64_t> pads = w.pad_begin, out_pad(r);
    pads.insert(pads.end(), w.pad_end.begin(), w.pad_end.end());
    for (size_t i = 0; i < r; ++i)
      out_pad[i] = w.in[i] - ((w.out[i] - 1) * w.strides[i] + (w.kernel[i] - 1) * w.dilations[i] + 1 -
                              w.pad_begin[i] - w.pad_end[i]);
    c.set(0, c.op(OpKind::ConvTranspose, {dy, c.x(1)},
                  {{"strides", Attribute::of_ints(w.strides)},
                   {"dilations", Attribute::of_ints(w.dilations)},
                   {"pads", Attribute::of_ints(pads)},
                   {"output_padding", Attribute::of_ints(out_pad)},
                   {"group", Attribute::of_int(p.group)}}));
  }
  if (c.wants(1)) {
    const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group;
    const AttrMap sw = {{"perm", Attribute::of_ints(swap01(rank))}};
    Value* dyt = c.op(OpKind::Transpose, {dy}, sw);  // [M, N, out...]: the kernel
    if (cin_g == 1) {
      // X as one sample of C * N channels (c major): group c reads channel c's N samples.
      Dims one = xd;
      one[0] = 1, one[1] = p.c_in * p.batch;
      Value* xs = c.op(OpKind::Reshape, {c.op(OpKind::Transpose, {c.x(0)}, sw), c.ints(one)});
      Value* g = weight_conv(c, p, xs, dyt, p.group, kd);
      c.set(1, c.op(OpKind::Reshape, {g, c.ints(wd)}));
    } else {
      Value* xt = c.op(OpKind::Transpose, {c.x(0)}, sw);  // [C, N, in...]
      std::vector<Value*> parts;
      for (int64_t g = 0; g < p.group; ++g) {
        Value* xg = p.group == 1 ? xt
                                 : c.op(OpKind::Slice,
                                        {xt, c.ints({g * cin_g}), c.ints({(g + 1) * cin_g}), c.ints({0})});
        Value* kg = p.group == 1 ? dyt
                                 : c.op(OpKind::Slice,
                                        {dyt, c.ints({g * cout_g}), c.ints({(g + 1) * cout_g}), c.ints({0})});
        parts.push_back(c.op(OpKind::Transpose, {weight_conv(c, p, xg, kg, 1, kd)}, sw));  // [M/G, C/G, k...]
      }
      c.set(1, parts.size() == 1 ? parts[0] : c.op(OpKind::Concat, parts, {{"axis", Attribute::of_int(0)}}));
    }
  }
  if (c.wants(2)) {
    std::vector<int64_t> axes = {0};
    for (size_t a = 2; a < rank; ++a) axes.push_back((int64_t)a);
    c.set(2, c.op(OpKind::ReduceSum, {dy, c.ints(axes)}, {{"keepdims", Attribute::of_int(0)}}));
  }
  return Status::ok();
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
    m.grad = conv_grad;
    return m;
  }();
  return s;
}

}  // namespace weec
