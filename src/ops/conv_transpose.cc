// ConvTranspose: the gradient of Conv w.r.t. its input, computed as a scatter:
// Y[n, oc, i*s + k*d - pad_begin] += X[n, ic, i] * W[ic, oc_local, k].
// Output size is s*(in-1) + output_padding + (k-1)*d + 1 - pads, or given by
// output_shape / auto_pad, in which case the pads are derived as the spec says
// (SAME_UPPER puts the smaller half first). A negative total padding (asked
// for an output larger than the full result) extends the end with zeros.
#include "ops/nn_emit.h"

namespace weec {

namespace {

struct TransposeProblem {
  int64_t batch = 0, c_in = 0, c_out = 0, group = 1;
  nn::Window w;  // w.in: X's spatial dims, w.out: Y's
};

Status transpose_problem(const NodeContext& ctx, const Dims& x, const Dims& wd, TransposeProblem& p) {
  if (x.size() < 2) return ctx.error("input must have rank >= 2, got {}", x.size());
  if (wd.size() != x.size())
    return ctx.error("weight rank {} differs from input rank {}", wd.size(), x.size());
  const size_t r = x.size() - 2;
  p.batch = x[0];
  p.c_in = x[1];
  p.group = ctx.attrs.i("group");
  if (p.group < 1) return ctx.error("group must be positive, got {}", p.group);
  p.c_out = wd[1] >= 0 ? wd[1] * p.group : -1;
  if (p.c_in >= 0 && wd[0] >= 0 && p.c_in != wd[0])
    return ctx.error("input has {} channels but weight has {}", p.c_in, wd[0]);
  if (p.c_in >= 0 && p.c_in % p.group != 0)
    return ctx.error("{} input channels are not divisible by group {}", p.c_in, p.group);
  nn::Window& w = p.w;
  w.in.assign(x.begin() + 2, x.end());
  w.kernel.assign(wd.begin() + 2, wd.end());
  if (ctx.attrs.has("kernel_shape")) {
    const auto& ks = ctx.attrs.ints("kernel_shape");
    if (ks.size() != r) return ctx.error("kernel_shape has {} dims, expected {}", ks.size(), r);
    for (size_t i = 0; i < r; ++i) {
      if (w.kernel[i] >= 0 && w.kernel[i] != ks[i])
        return ctx.error("kernel_shape {} disagrees with weight shape {}", dims_str(ks), dims_str(wd));
      w.kernel[i] = ks[i];
    }
  }
  w.out.assign(r, -1);
  for (auto k : w.kernel)
    if (k < 0) return Status::ok();  // unknown kernel: only the rank is known
  WEEC_TRY(nn::read_window_attrs(ctx, r, w));
  WEEC_ASSIGN_OR_RETURN(nn::AutoPad ap, nn::read_auto_pad(ctx));
  Dims out_pad(r, 0);
  if (ctx.attrs.has("output_padding")) {
    out_pad = ctx.attrs.ints("output_padding");
    if (out_pad.size() != r) return ctx.error("output_padding has {} values, expected {}", out_pad.size(), r);
  }
  Dims out_shape;
  if (ctx.attrs.has("output_shape")) {
    out_shape = ctx.attrs.ints("output_shape");
    if (out_shape.size() == r + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    if (out_shape.size() != r)
      return ctx.error("output_shape has {} values, expected {}", out_shape.size(), r);
  }
  for (size_t i = 0; i < r; ++i) {
    if (w.in[i] < 0) continue;
    int64_t full = w.strides[i] * (w.in[i] - 1) + out_pad[i] + (w.kernel[i] - 1) * w.dilations[i] + 1;
    int64_t out = -1;
    if (!out_shape.empty())
      out = out_shape[i];
    else if (ap == nn::AutoPad::SameUpper || ap == nn::AutoPad::SameLower)
      out = w.in[i] * w.strides[i];
    if (out >= 0) {
      int64_t total = full - out, half = nn::floor_div(total, 2);
      w.pad_begin[i] = ap == nn::AutoPad::SameUpper ? half : total - half;
      w.pad_end[i] = total - w.pad_begin[i];
    } else if (ap == nn::AutoPad::Valid) {
      w.pad_begin[i] = w.pad_end[i] = 0;
      out = full;
    } else {
      out = full - w.pad_begin[i] - w.pad_end[i];
    }
    if (out < 0) return ctx.error("output size {} along spatial dim {} is negative", out, i);
    w.out[i] = out;
  }
  return Status::ok();
}

Status convt_infer(InferContext& ctx) {
  const TensorType& xt = ctx.input_type(0);
  WEEC_TRY(nn::require_float(ctx, xt.dtype));
  if (ctx.input_type(1).dtype != xt.dtype) return ctx.error("X and W dtypes differ");
  if (!xt.shape.rank_known) {
    ctx.outputs[0] = TensorType{xt.dtype, Shape::unknown_rank()};
    return Status::ok();
  }
  Dims x = nn::known_dims(xt.shape);
  const TensorType& wt = ctx.input_type(1);
  Dims w = wt.shape.rank_known ? nn::known_dims(wt.shape) : Dims(x.size(), -1);
  TransposeProblem p;
  WEEC_TRY(transpose_problem(ctx, x, w, p));
  Shape s = Shape::of_rank(x.size());
  s.dims[0] = xt.shape.dims[0];
  s.dims[1] = nn::dim_or_unknown(p.c_out);
  for (size_t i = 0; i < p.w.rank(); ++i) s.dims[2 + i] = nn::dim_or_unknown(p.w.out[i]);
  ctx.outputs[0] = TensorType{xt.dtype, s};
  return Status::ok();
}

Status convt_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& wt = ctx.input(1);
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  if (wt.dtype() != x.dtype()) return ctx.error("X and W dtypes differ");
  TransposeProblem p;
  WEEC_TRY(transpose_problem(ctx, x.dims(), wt.dims(), p));
  const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (b && (b->rank() != 1 || b->dim(0) != p.c_out))
    return ctx.error("bias shape {} does not match {} output channels", dims_str(b->dims()), p.c_out);
  const nn::Window& w = p.w;
  const size_t r = w.rank();
  Dims out_dims = {p.batch, p.c_out};
  out_dims.insert(out_dims.end(), w.out.begin(), w.out.end());
  std::vector<double> acc(numel_of(out_dims), 0.0);
  std::vector<double> xv = nn::to_doubles(x), wv = nn::to_doubles(wt);
  const int64_t in_n = numel_of(w.in), out_n = numel_of(w.out), k_n = numel_of(w.kernel);
  const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group;
  // Box over input positions i whose tap k lands inside Y: 0 <= i*s + shift < out.
  nn::BoxMap m;
  m.lo.resize(r), m.hi.resize(r), m.shift.resize(r);
  m.step = w.strides;
  m.src_stride = strides_of(w.out);  // "src" here is the scattered-to Y offset
  m.dst_stride = strides_of(w.in);
  const int64_t s_last = r ? w.strides[r - 1] : 1;
  std::vector<int64_t> kpos(r, 0);
  for (int64_t k = 0; k < k_n; ++k) {
    for (size_t i = 0; i < r; ++i) {
      int64_t shift = kpos[i] * w.dilations[i] - w.pad_begin[i];
      m.shift[i] = shift;
      m.lo[i] = std::max<int64_t>(0, nn::ceil_div(-shift, w.strides[i]));
      m.hi[i] = std::min<int64_t>(w.in[i], nn::floor_div(w.out[i] - 1 - shift, w.strides[i]) + 1);
    }
    const int64_t shift_last = r ? m.shift[r - 1] : 0;
    for (int64_t n = 0; n < p.batch; ++n)
      for (int64_t ic = 0; ic < p.c_in; ++ic) {
        const int64_t g = ic / cin_g;
        const double* xp = xv.data() + (n * p.c_in + ic) * in_n;
        for (int64_t ocl = 0; ocl < cout_g; ++ocl) {
          const int64_t oc = g * cout_g + ocl;
          const double wk = wv[(ic * cout_g + ocl) * k_n + k];
          double* yp = acc.data() + (n * p.c_out + oc) * out_n;
          nn::for_each_run(m, [&](int64_t y_off, int64_t x_off, int64_t lo, int64_t hi) {
            double* yb = yp + y_off + shift_last;
            for (int64_t i = lo; i < hi; ++i) yb[i * s_last] += wk * xp[x_off + i];
          });
        }
      }
    for (size_t i = r; i-- > 0;) {
      if (++kpos[i] < w.kernel[i]) break;
      kpos[i] = 0;
    }
  }
  if (b) {
    std::vector<double> bv = nn::to_doubles(*b);
    for (int64_t n = 0; n < p.batch; ++n)
      for (int64_t c = 0; c < p.c_out; ++c) {
        double* o = acc.data() + (n * p.c_out + c) * out_n;
        for (int64_t i = 0; i < out_n; ++i) o[i] += bv[c];
      }
  }
  ctx.outputs[0] = nn::from_doubles(x.dtype(), out_dims, acc);
  return Status::ok();
}

int64_t convt_macs(const Node& n) {
  const Value* x = n.input(0);
  const Value* w = n.input(1);
  if (!x || !w || !x->type.shape.is_static() || !w->type.shape.is_static()) return 0;
  Dims wd = w->type.shape.static_dims();
  if (wd.empty() || wd[0] == 0) return 0;
  return numel_of(x->type.shape.static_dims()) * (numel_of(wd) / wd[0]);
}

// The shared conv loop nest in its scatter form; the bias initialises each
// channel's accumulator.
Status convt_emit_c(CEmitContext& c) {
  TransposeProblem t;
  WEEC_TRY(transpose_problem(c, c.in_dims(0), c.in_dims(1), t));
  nn::ConvEmitSpec s;
  s.p.batch = t.batch;
  s.p.c_in = t.c_in;
  s.p.c_out = t.c_out;
  s.p.group = t.group;
  s.p.w = t.w;
  s.transposed = true;
  s.acc = c.output_dtype();
  if (c.has_input(2)) {
    if (c.in_count(2) != t.c_out) return c.error("bias must have {} elements", t.c_out);
    std::string b = c.in(2);
    s.init = [b](const std::string& oc) { return fmt::format("{}[{}]", b, oc); };
  }
  return nn::emit_conv(c, s);
}

}  // namespace

const OpSchema& schema_ConvTranspose() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::ConvTranspose, "ConvTranspose"};
    m.min_inputs = 2;
    m.max_inputs = 3;
    m.attrs = {attr_string("auto_pad", "NOTSET"),
               attr_optional("dilations", Attribute::Kind::Ints),
               attr_int("group", 1),
               attr_optional("kernel_shape", Attribute::Kind::Ints),
               attr_optional("output_padding", Attribute::Kind::Ints),
               attr_optional("output_shape", Attribute::Kind::Ints),
               attr_optional("pads", Attribute::Kind::Ints),
               attr_optional("strides", Attribute::Kind::Ints)};
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = convt_infer;
    m.kernel = convt_kernel;
    m.emit_c = convt_emit_c;
    m.macs = convt_macs;
    m.doc = "N-D transposed convolution with output_padding/output_shape, groups, dilations";
    return m;
  }();
  return s;
}

}  // namespace weec
