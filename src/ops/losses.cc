// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12+).
//
// Shapes: input/scores [N, C, d1..dk], target/labels [N, d1..dk] (int32 or
// int64), optional weight [C]. Per element, loss = -w[t] * input[n, t, d...]
// with w = 1 when no weight is given, and loss = 0 (weight 0) where
// t == ignore_index. reduction "none" keeps the [N, d1..dk] losses, "sum" adds
// them, "mean" divides the sum by the sum of the per-element weights (the
// element count when there are no weights and no ignore_index; NaN if every
// element is ignored, as in the ONNX reference). SoftmaxCrossEntropyLoss
// first takes log_softmax over axis 1 and may also return it (output 1).
// Everything computes in f64 and rounds once to the input dtype.
#include <limits>

#include "ops/c_emit.h"
#include "ops/grad.h"
#include "ops/op_util.h"

namespace weec {

namespace {

Status check_reduction(const NodeContext& ctx) {
  const std::string& r = ctx.attrs.s("reduction");
  if (r != "none" && r != "sum" && r != "mean") return ctx.error("unknown reduction '{}'", r);
  return Status::ok();
}

// logp: f64 [N, C, D...]; writes the loss (f64) for the node's reduction.
Expected<Tensor> nll(const KernelContext& ctx, const Tensor& logp, const Tensor& target,
                     const Tensor* weight) {
  WEEC_TRY(check_reduction(ctx));
  if (logp.rank() < 2) return ctx.error("input must have rank >= 2, got {}", dims_str(logp.dims()));
  if (target.dtype() != DType::I32 && target.dtype() != DType::I64)
    return ctx.error("target must be int32 or int64");
  const int64_t N = logp.dim(0), C = logp.dim(1);
  Dims want = {N};
  for (int64_t i = 2; i < logp.rank(); ++i) want.push_back(logp.dim(i));
  if (target.dims() != want)
    return ctx.error("target has shape {}, expected {}", dims_str(target.dims()), dims_str(want));
  if (weight && weight->dims() != Dims{C})
    return ctx.error("weight has shape {}, expected [{}]", dims_str(weight->dims()), C);
  const int64_t D = numel_of(want) / std::max<int64_t>(N, 1);
  bool has_ii = ctx.attrs.has("ignore_index");
  int64_t ii = ctx.attrs.i("ignore_index");
  Tensor w = weight ? convert(*weight, DType::F64) : Tensor();
  Tensor loss(DType::F64, want);
  double* pl = loss.data<double>();
  const double* px = logp.data<double>();
  double sum = 0, wsum = 0;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t d = 0; d < D; ++d) {
      int64_t t = target.get_int(n * D + d);
      double l = 0;
      if (!(has_ii && t == ii)) {
        if (t < 0 || t >= C) return ctx.error("target {} is out of range [0, {})", t, C);
        double wt = weight ? w.data<double>()[t] : 1.0;
        l = -wt * px[(n * C + t) * D + d];
        wsum += wt;
      }
      pl[n * D + d] = l;
      sum += l;
    }
  }
  const std::string& red = ctx.attrs.s("reduction");
  if (red == "none") return loss;
  return Tensor::scalar<double>(red == "sum" ? sum : sum / wsum);
}

Status nll_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!is_float(x.dtype())) return ctx.error("input must be floating point");
  WEEC_ASSIGN_OR_RETURN(Tensor loss, nll(ctx, convert(x, DType::F64), ctx.input(1),
                                         ctx.has_input(2) ? &ctx.input(2) : nullptr));
  ctx.outputs[0] = convert(loss, x.dtype());
  return Status::ok();
}

// log_softmax over axis 1 of an f64 [N, C, ...] tensor, max-subtracted.
Tensor log_softmax_axis1(const Tensor& x) {
  Tensor y(DType::F64, x.dims());
  const int64_t N = x.dim(0), C = x.dim(1), D = x.numel() / std::max<int64_t>(N * C, 1);
  const double* p = x.data<double>();
  double* q = y.data<double>();
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t d = 0; d < D; ++d) {
      const int64_t base = n * C * D + d;
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < C; ++c) {
        double v = p[base + c * D];
        if (!std::isnan(mx) && (std::isnan(v) || v > mx)) mx = v;
      }
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += std::exp(p[base + c * D] - mx);
      double ls = std::log(s);
      for (int64_t c = 0; c < C; ++c) q[base + c * D] = p[base + c * D] - mx - ls;
    }
  }
  return y;
}

Status sce_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!is_float(x.dtype())) return ctx.error("scores must be floating point");
  if (x.rank() < 2) return ctx.error("scores must have rank >= 2, got {}", dims_str(x.dims()));
  Tensor logp = log_softmax_axis1(convert(x, DType::F64));
  WEEC_ASSIGN_OR_RETURN(Tensor loss,
                        nll(ctx, logp, ctx.input(1), ctx.has_input(2) ? &ctx.input(2) : nullptr));
  ctx.outputs[0] = convert(loss, x.dtype());
  if (ctx.outputs.size() > 1) ctx.outputs[1] = convert(logp, x.dtype());
  return Status::ok();
}

Status infer_loss(InferContext& ctx) {
  WEEC_TRY(check_reduction(ctx));
  const TensorType& x = ctx.input_type(0);
  const TensorType& t = ctx.input_type(1);
  if (!is_float(x.dtype)) return ctx.error("input must be floating point, got {}", dtype_name(x.dtype));
  if (t.dtype != DType::I32 && t.dtype != DType::I64)
    return ctx.error("target must be int32 or int64, got {}", dtype_name(t.dtype));
  if (ctx.has_input(2) && ctx.input_type(2).dtype != x.dtype)
    return ctx.error("weight dtype differs from input");
  if (x.shape.rank_known && x.shape.rank() < 2) return ctx.error("input must have rank >= 2");
  TensorType loss{x.dtype, Shape::of_rank(0)};
  if (ctx.attrs.s("reduction") == "none") {
    if (t.shape.rank_known) {
      loss.shape = t.shape;
    } else if (x.shape.rank_known) {
      for (int64_t i = 0; i < x.shape.rank(); ++i)
        if (i != 1) loss.shape.dims.push_back(x.shape.dims[i]);
    } else {
      loss.shape = Shape::unknown_rank();
    }
  }
  ctx.outputs[0] = loss;
  if (ctx.outputs.size() > 1) ctx.outputs[1] = x;
  return Status::ok();
}

// C: the kernels' arithmetic in double. SoftmaxCrossEntropyLoss first writes
// log_softmax over axis 1 to a double scratch buffer (and output 1 if asked
// for); the NLL part then reads either that buffer or input 0. A target out of
// [0, C) that is not ignore_index (the kernel's error) gives a NaN loss.
Status loss_emit_c(CEmitContext& c, bool softmax) {
  WEEC_TRY(check_reduction(c));
  Dims xd = c.in_dims(0);
  const DType t = c.input_dtype(0), tt = c.input_dtype(1);
  if (t != DType::F32 && t != DType::F64) return c.error("dtype {} is not supported", dtype_name(t));
  if (xd.size() < 2) return c.error("input must have rank >= 2");
  if (tt != DType::I32 && tt != DType::I64) return c.error("target must be int32 or int64");
  const int64_t N = xd[0], C = xd[1], D = N * C == 0 ? 0 : numel_of(xd) / (N * C);
  const std::string T = c_type(t), red = c.attrs.s("reduction");
  std::string logp = c.in(0);
  if (softmax) {
    logp = c.scratch(DType::F64, std::max<int64_t>(N * C * D, 1), "logp");
    std::string n = c.var("n"), d = c.var("d"), k = c.var("c"), base = c.var("base"), mx = c.var("mx"),
                s = c.var("s"), ls = c.var("ls");
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, N);
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", d, D);
    c.w.line("const int32_t {} = {} * {} + {};", base, n, C * D, d);
    c.w.line("double {} = {};", mx, c.infinity(DType::F64, true));
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", k, C);
    c.w.line("const double v = (double){}[{} + {} * {}];", c.in(0), base, k, D);
    c.w.line("if ({0} == {0} && (v != v || v > {0})) {0} = v;", mx);
    c.w.close();
    c.w.line("double {} = 0.0;", s);
    c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2} += {3}((double){4}[{5} + {0} * {6}] - {7});", k, C,
             s, c.math("exp", DType::F64), c.in(0), base, D, mx);
    c.w.line("const double {} = {}({});", ls, c.math("log", DType::F64), s);
    c.w.line(
        "for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{3} + {0} * {4}] = (double){5}[{3} + {0} * {4}] - {6} - "
        "{7};",
        k, C, logp, base, D, c.in(0), mx, ls);
    c.w.close();
    c.w.close();
    if (c.node.outputs.size() > 1 && c.node.outputs[1]) {
      std::string q = c.var("q");
      c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = ({3}){4}[{0}];", q, N * C * D, c.out(1), T,
               logp);
    }
  }
  const bool has_ii = c.attrs.has("ignore_index"), has_w = c.has_input(2), reduce = red != "none";
  std::string n = c.var("n"), d = c.var("d"), tg = c.var("t"), l = c.var("l"), wt = c.var("w"),
              sum = c.var("sum"), wsum = c.var("wsum");
  if (reduce) c.w.line("double {} = 0.0;", sum);
  if (red == "mean") c.w.line("double {} = 0.0;", wsum);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, N);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", d, D);
  c.w.line("const int64_t {} = (int64_t){}[{} * {} + {}];", tg, c.in(1), n, D, d);
  c.w.line("double {} = 0.0;", l);
  std::string in_range = fmt::format("{0} >= 0 && {0} < {1}", tg, C);
  if (has_ii)
    c.w.open("if ({} != {}) {{", tg, c_literal_i64(c.attrs.i("ignore_index"), DType::I64));
  else
    c.w.open("{{");
  c.w.open("if ({}) {{", in_range);
  c.w.line("const double {} = {};", wt, has_w ? fmt::format("(double){}[{}]", c.in(2), tg) : "1.0");
  c.w.line("{} = -{} * (double){}[({} * {} + {}) * {} + {}];", l, wt, logp, n, C, tg, D, d);
  if (red == "mean") c.w.line("{} += {};", wsum, wt);
  c.w.close();
  c.w.line("else {} = {};", l, c.nan(DType::F64));
  c.w.close();
  if (reduce)
    c.w.line("{} += {};", sum, l);
  else
    c.w.line("{}[{} * {} + {}] = ({}){};", c.out(0), n, D, d, T, l);
  c.w.close();
  c.w.close();
  if (red == "sum") c.w.line("{}[0] = ({}){};", c.out(0), T, sum);
  if (red == "mean") c.w.line("{}[0] = ({})({} / {});", c.out(0), T, sum, wsum);
  return Status::ok();
}

// Gradient of SoftmaxCrossEntropyLoss (ops/grad.h) with respect to the
// scores [N, C, d...], without class weights or ignore_index:
//   d loss / d scores = (softmax(scores) - onehot(labels)) * dloss'
// with dloss' the loss gradient per element: dloss / (N * d...) for "mean",
// dloss for "sum", dloss[n, d...] (a size-1 class axis added) for "none". A
// gradient into the log_prob output adds dlp - softmax * sum_c dlp.
Status sce_grad(GradContext& c) {
  if (c.node.has_input(2) || c.attrs.has("ignore_index"))
    return c.error("gradient: class weights and ignore_index are not supported");
  Value* x = c.x(0);
  const DType t = x->type.dtype;
  const Dims xd = c.dims(x);
  const AttrMap axis1 = {{"axis", Attribute::of_int(1)}};
  Value* p = c.op(OpKind::Softmax, {x}, axis1);
  Value* dx = nullptr;
  if (Value* dl = c.dy(0)) {
    Tensor off_on(t, {2});
    off_on.set_double(1, 1);
    Value* onehot = c.op(OpKind::OneHot, {c.x(1), c.ints({xd[1]}), c.constant(std::move(off_on))}, axis1);
    Value* scale = dl;
    const std::string& red = c.attrs.s("reduction");
    if (red == "mean") {
      scale = c.op(OpKind::Div, {dl, c.scalar((double)(numel_of(xd) / std::max<int64_t>(xd[1], 1)), t)});
    } else if (red == "none") {
      Dims d = c.dims(dl);
      d.insert(d.begin() + 1, 1);
      scale = c.op(OpKind::Reshape, {dl, c.ints(d)});
    }
    dx = c.op(OpKind::Mul, {c.op(OpKind::Sub, {p, onehot}), scale});
  }
  if (Value* dlp = c.node.outputs.size() > 1 ? c.dy(1) : nullptr) {
    Value* s = c.op(OpKind::ReduceSum, {dlp, c.ints({1})}, {{"keepdims", Attribute::of_int(1)}});
    Value* d = c.op(OpKind::Sub, {dlp, c.op(OpKind::Mul, {p, s})});
    dx = dx ? c.op(OpKind::Add, {dx, d}) : d;
  }
  c.set(0, dx);
  return Status::ok();
}

OpSchema loss_schema(OpKind kind, std::string_view onnx, KernelFn kernel, EmitCFn emit_c,
                     std::string_view doc) {
  OpSchema s{kind, onnx};
  s.since_opset = 12;
  s.min_inputs = 2;
  s.max_inputs = 3;
  s.attrs = {attr_string("reduction", "mean"), attr_optional("ignore_index", Attribute::Kind::Int)};
  s.fusion = FusionKind::Opaque;
  s.infer = infer_loss;
  s.kernel = kernel;
  s.emit_c = emit_c;
  s.doc = doc;
  return s;
}

}  // namespace

const OpSchema& schema_NegativeLogLikelihoodLoss() {
  static const OpSchema s = loss_schema(
      OpKind::NegativeLogLikelihoodLoss, "NegativeLogLikelihoodLoss", nll_kernel,
      [](CEmitContext& c) { return loss_emit_c(c, false); },
      "-weight[t] * input[n, t, ...], reduced by none/sum/mean");
  return s;
}

const OpSchema& schema_SoftmaxCrossEntropyLoss() {
  static const OpSchema s = [] {
    OpSchema m = loss_schema(
        OpKind::SoftmaxCrossEntropyLoss, "SoftmaxCrossEntropyLoss", sce_kernel,
        [](CEmitContext& c) { return loss_emit_c(c, true); },
        "NLL of log_softmax(scores, axis 1); optional log_prob output");
    m.max_outputs = 2;
    m.grad = sce_grad;
    return m;
  }();
  return s;
}

}  // namespace weec
