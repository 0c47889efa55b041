// Normalisation: BatchNormalization (inference, and training_mode with batch
// statistics and running-stat outputs), InstanceNormalization,
// LayerNormalization, LRN, LpNormalization, MeanVarianceNormalization and
// Dropout (inference identity). Statistics are computed in double; variances
// are population variances computed in two passes so they are never negative.
#include <cmath>

#include "ops/grad.h"
#include "ops/nn_emit.h"

namespace weec {

namespace {

// Rounds v to the precision of `dt`, as a reference computing in `dt` would.
double round_to(DType dt, double v) {
  switch (dt) {
    case DType::F32:
      return (float)v;
    case DType::F16:
      return half_to_float(float_to_half((float)v));
    case DType::BF16:
      return bfloat16_to_float(float_to_bfloat16((float)v));
    default:
      return v;
  }
}

Expected<DType> dtype_from_onnx_code(const NodeContext& ctx, int64_t code) {
  switch (code) {
    case 1:
      return DType::F32;
    case 10:
      return DType::F16;
    case 11:
      return DType::F64;
    case 16:
      return DType::BF16;
    default:
      return ctx.error("stash_type {} is not a floating-point type", code);
  }
}

// ---- BatchNormalization ----

Status bn_infer(InferContext& ctx) {
  const TensorType& x = ctx.input_type(0);
  WEEC_TRY(nn::require_float(ctx, x.dtype));
  if (ctx.outputs.size() > 1 && ctx.attrs.i("training_mode") == 0)
    return ctx.error("running_mean/running_var outputs need training_mode=1");
  ctx.outputs[0] = x;
  Shape c = Shape::of_rank(1);
  if (x.shape.rank_known && x.shape.rank() >= 2) c.dims[0] = x.shape.dims[1];
  for (size_t i = 1; i < ctx.outputs.size(); ++i) ctx.outputs[i] = TensorType{ctx.input_type(2 + i).dtype, c};
  return Status::ok();
}

Status bn_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  if (x.rank() < 2) return ctx.error("input must have rank >= 2, got {}", x.rank());
  const int64_t n = x.dim(0), c = x.dim(1), plane = c ? x.numel() / std::max<int64_t>(1, n * c) : 0;
  std::vector<double> xv = nn::to_doubles(x), scale = nn::to_doubles(ctx.input(1)),
                      bias = nn::to_doubles(ctx.input(2)), mean = nn::to_doubles(ctx.input(3)),
                      var = nn::to_doubles(ctx.input(4));
  const bool training = ctx.attrs.i("training_mode") != 0;
  const double eps = ctx.attrs.f("epsilon");
  // Parameters are per channel [C], or (legacy spatial=0) per activation [C, D...].
  const int64_t pcount = (int64_t)scale.size();
  const bool per_activation = pcount != c && pcount == c * plane;
  if (!per_activation && pcount != c) return ctx.error("scale has {} elements for {} channels", pcount, c);
  for (auto* v : {&bias, &mean, &var})
    if ((int64_t)v->size() != pcount) return ctx.error("scale, B, mean and var must have the same size");
  if (training) {
    if (per_activation) return ctx.error("training_mode needs per-channel parameters");
    std::vector<double> bm(c, 0.0), bv(c, 0.0);
    const double count = (double)(n * plane);
    for (int64_t ci = 0; ci < c; ++ci) {
      double s = 0;
      for (int64_t ni = 0; ni < n; ++ni)
        for (int64_t i = 0; i < plane; ++i) s += xv[(ni * c + ci) * plane + i];
      bm[ci] = s / count;
      double q = 0;
      for (int64_t ni = 0; ni < n; ++ni)
        for (int64_t i = 0; i < plane; ++i) {
          double d = xv[(ni * c + ci) * plane + i] - bm[ci];
          q += d * d;
        }
      bv[ci] = q / count;
    }
    const double mom = ctx.attrs.f("momentum");
    for (size_t k = 1; k < ctx.outputs.size(); ++k) {
      const std::vector<double>& run = k == 1 ? mean : var;
      const std::vector<double>& cur = k == 1 ? bm : bv;
      std::vector<double> r(c);
      for (int64_t ci = 0; ci < c; ++ci) r[ci] = run[ci] * mom + cur[ci] * (1 - mom);
      ctx.outputs[k] = nn::from_doubles(ctx.input(2 + k).dtype(), {c}, r);
    }
    mean = bm;
    var = bv;
  } else if (ctx.outputs.size() > 1) {
    return ctx.error("running_mean/running_var outputs need training_mode=1");
  }
  std::vector<double> y(xv.size());
  for (int64_t ni = 0; ni < n; ++ni)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t i = 0; i < plane; ++i) {
        int64_t at = (ni * c + ci) * plane + i, p = per_activation ? ci * plane + i : ci;
        y[at] = (xv[at] - mean[p]) / std::sqrt(var[p] + eps) * scale[p] + bias[p];
      }
  ctx.outputs[0] = nn::from_doubles(x.dtype(), x.dims(), y);
  return Status::ok();
}

// Opset < 7: is_test and spatial; opset 7-8: spatial (spatial=0 is handled by
// the kernel from the parameter shapes). Before opset 14 training was implied
// by requesting the mean/var outputs; saved_mean/saved_var had no exact spec.
Status bn_import(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  attrs.erase("is_test");
  attrs.erase("spatial");
  std::vector<Value*> outs = ctx.outputs;
  if (ctx.opset < 14) {
    if (outs.size() > 3 && std::any_of(outs.begin() + 3, outs.end(), [](Value* v) { return v != nullptr; }))
      return ctx.error("saved_mean/saved_var outputs are not supported");
    outs.resize(std::min<size_t>(outs.size(), 3));
    while (outs.size() > 1 && !outs.back()) outs.pop_back();
    if (outs.size() > 1) attrs["training_mode"] = Attribute::of_int(1);
  }
  ctx.emit(OpKind::BatchNormalization, ctx.inputs, outs, attrs);
  return Status::ok();
}

// ---- InstanceNormalization ----

Status instnorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  if (x.rank() < 2) return ctx.error("input must have rank >= 2, got {}", x.rank());
  const int64_t n = x.dim(0), c = x.dim(1), plane = n * c != 0 ? x.numel() / (n * c) : 0;
  std::vector<double> xv = nn::to_doubles(x), scale = nn::to_doubles(ctx.input(1)),
                      bias = nn::to_doubles(ctx.input(2));
  if ((int64_t)scale.size() != c || (int64_t)bias.size() != c)
    return ctx.error("scale and B must have {} elements", c);
  const double eps = ctx.attrs.f("epsilon");
  for (int64_t ni = 0; ni < n; ++ni)
    for (int64_t ci = 0; ci < c; ++ci) {
      double* p = xv.data() + (ni * c + ci) * plane;
      double m = 0, v = 0;
      for (int64_t i = 0; i < plane; ++i) m += p[i];
      m /= (double)plane;
      for (int64_t i = 0; i < plane; ++i) v += (p[i] - m) * (p[i] - m);
      v /= (double)plane;
      double inv = 1.0 / std::sqrt(v + eps);
      for (int64_t i = 0; i < plane; ++i) p[i] = scale[ci] * (p[i] - m) * inv + bias[ci];
    }
  ctx.outputs[0] = nn::from_doubles(x.dtype(), x.dims(), xv);
  return Status::ok();
}

// ---- LayerNormalization ----

Status layernorm_infer(InferContext& ctx) {
  const TensorType& x = ctx.input_type(0);
  WEEC_TRY(nn::require_float(ctx, x.dtype));
  ctx.outputs[0] = x;
  WEEC_ASSIGN_OR_RETURN(DType stash, dtype_from_onnx_code(ctx, ctx.attrs.i("stash_type")));
  Shape s = x.shape;
  if (s.rank_known) {
    WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), s.rank()));
    for (int64_t i = axis; i < s.rank(); ++i) s.dims[i] = Dim::known(1);
  }
  for (size_t i = 1; i < ctx.outputs.size(); ++i) ctx.outputs[i] = TensorType{stash, s};
  return Status::ok();
}

Status layernorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  WEEC_ASSIGN_OR_RETURN(DType stash, dtype_from_onnx_code(ctx, ctx.attrs.i("stash_type")));
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), x.rank()));
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
  const int64_t inner = outer ? x.numel() / std::max<int64_t>(outer, 1) : 0;
  const double eps = ctx.attrs.f("epsilon");
  std::vector<double> xv = nn::to_doubles(x), mean(outer), inv(outer);
  // Stage one (stash precision): normalise; the result is rounded to X's type.
  for (int64_t o = 0; o < outer; ++o) {
    double* p = xv.data() + o * inner;
    double m = 0, v = 0;
    for (int64_t i = 0; i < inner; ++i) m += p[i];
    m /= (double)inner;
    for (int64_t i = 0; i < inner; ++i) v += (p[i] - m) * (p[i] - m);
    v /= (double)inner;
    mean[o] = m;
    inv[o] = 1.0 / std::sqrt(v + eps);
    for (int64_t i = 0; i < inner; ++i) p[i] = round_to(x.dtype(), (p[i] - m) * inv[o]);
  }
  // Stage two: Y = Normalized * Scale + B with numpy broadcasting onto X.
  std::vector<const Tensor*> params = {&ctx.input(1)};
  if (ctx.has_input(2)) params.push_back(&ctx.input(2));
  std::vector<Dims> strides;
  std::vector<std::vector<double>> pv;
  for (const Tensor* t : params) {
    auto bd = broadcast_dims({t->dims(), x.dims()});
    if (!bd || *bd != x.dims())
      return ctx.error("Scale/B shape {} does not broadcast to X {}", dims_str(t->dims()),
                       dims_str(x.dims()));
    strides.push_back(broadcast_strides(t->dims(), x.dims()));
    pv.push_back(nn::to_doubles(*t));
  }
  for_each_broadcast(x.dims(), strides, [&](int64_t i, const int64_t* off) {
    double v = round_to(x.dtype(), xv[i] * pv[0][off[0]]);
    xv[i] = pv.size() > 1 ? v + pv[1][off[1]] : v;
  });
  ctx.outputs[0] = nn::from_doubles(x.dtype(), x.dims(), xv);
  Dims sd = x.dims();
  for (int64_t i = axis; i < x.rank(); ++i) sd[i] = 1;
  if (ctx.outputs.size() > 1) ctx.outputs[1] = nn::from_doubles(stash, sd, mean);
  if (ctx.outputs.size() > 2) ctx.outputs[2] = nn::from_doubles(stash, sd, inv);
  return Status::ok();
}

// ---- LRN ----

Status lrn_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  if (x.rank() < 2) return ctx.error("input must have rank >= 2, got {}", x.rank());
  const int64_t size = ctx.attrs.i("size");
  if (size < 1) return ctx.error("size must be positive, got {}", size);
  const double alpha = ctx.attrs.f("alpha"), beta = ctx.attrs.f("beta"), bias = ctx.attrs.f("bias");
  const int64_t n = x.dim(0), c = x.dim(1), plane = n * c != 0 ? x.numel() / (n * c) : 0;
  const int64_t before = (size - 1) / 2, after = size - 1 - before;  // floor / ceil of (size-1)/2
  std::vector<double> xv = nn::to_doubles(x), y(xv.size());
  for (int64_t ni = 0; ni < n; ++ni)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t i = 0; i < plane; ++i) {
        double sq = 0;
        for (int64_t j = std::max<int64_t>(0, ci - before); j <= std::min(c - 1, ci + after); ++j) {
          double v = xv[(ni * c + j) * plane + i];
          sq += v * v;
        }
        int64_t at = (ni * c + ci) * plane + i;
        y[at] = xv[at] / std::pow(bias + alpha / (double)size * sq, beta);
      }
  ctx.outputs[0] = nn::from_doubles(x.dtype(), x.dims(), y);
  return Status::ok();
}

// ---- LpNormalization ----

Status lpnorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  const int64_t p = ctx.attrs.i("p");
  if (p != 1 && p != 2) return ctx.error("p must be 1 or 2, got {}", p);
  if (x.rank() == 0) return ctx.error("input must have rank >= 1");
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), x.rank()));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
  const int64_t len = x.dim(axis);
  std::vector<double> xv = nn::to_doubles(x);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double* b = xv.data() + o * len * inner + i;
      double norm = 0;
      for (int64_t k = 0; k < len; ++k)
        norm += p == 1 ? std::fabs(b[k * inner]) : b[k * inner] * b[k * inner];
      if (p == 2) norm = std::sqrt(norm);
      // A zero norm means an all-zero slice: leave it zero rather than 0/0.
      for (int64_t k = 0; k < len; ++k) b[k * inner] = norm == 0 ? 0.0 : b[k * inner] / norm;
    }
  ctx.outputs[0] = nn::from_doubles(x.dtype(), x.dims(), xv);
  return Status::ok();
}

// ---- MeanVarianceNormalization: (X - E[X]) / (sqrt(Var[X]) + 1e-9) ----

Status mvn_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  std::vector<bool> reduced(x.rank(), false);
  for (int64_t a : ctx.attrs.ints("axes")) {
    WEEC_ASSIGN_OR_RETURN(int64_t ax, normalize_axis(ctx, a, x.rank()));
    reduced[ax] = true;
  }
  Dims kept = x.dims();  // reduced dims collapse to 1
  for (int64_t i = 0; i < x.rank(); ++i)
    if (reduced[i]) kept[i] = 1;
  const int64_t groups = numel_of(kept), count = groups ? x.numel() / groups : 0;
  Dims st = broadcast_strides(kept, x.dims());
  // Group index of every element: its position in `kept` (reduced dims -> 0).
  std::vector<int64_t> group_of(x.numel());
  for_each_broadcast(x.dims(), {st}, [&](int64_t i, const int64_t* off) { group_of[i] = off[0]; });
  std::vector<double> xv = nn::to_doubles(x), mean(groups, 0.0), var(groups, 0.0);
  for (int64_t i = 0; i < x.numel(); ++i) mean[group_of[i]] += xv[i];
  for (auto& m : mean) m /= (double)count;
  for (int64_t i = 0; i < x.numel(); ++i) {
    double d = xv[i] - mean[group_of[i]];
    var[group_of[i]] += d * d;
  }
  for (auto& v : var) v = std::sqrt(v / (double)count) + 1e-9;
  for (int64_t i = 0; i < x.numel(); ++i) xv[i] = (xv[i] - mean[group_of[i]]) / var[group_of[i]];
  ctx.outputs[0] = nn::from_doubles(x.dtype(), x.dims(), xv);
  return Status::ok();
}

// ---- Dropout ----

Status dropout_infer(InferContext& ctx) {
  WEEC_TRY(nn::require_float(ctx, ctx.input_type(0).dtype));
  ctx.outputs[0] = ctx.input_type(0);
  if (ctx.outputs.size() > 1) ctx.outputs[1] = TensorType{DType::Bool, ctx.input_type(0).shape};
  return Status::ok();
}

Status dropout_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool training = ctx.has_input(2) && ctx.input(2).numel() > 0 && ctx.input(2).get_int(0) != 0;
  double ratio = ctx.has_input(1) && ctx.input(1).numel() > 0 ? ctx.input(1).get_double(0) : 0.5;
  if (training && ratio != 0)
    return ctx.error("training-mode Dropout with ratio {} is random; only ratio 0 is supported", ratio);
  ctx.outputs[0] = x;  // inference (or ratio 0): identity, scale 1/(1-0) = 1
  if (ctx.outputs.size() > 1) {
    Tensor mask(DType::Bool, x.dims());
    for (int64_t i = 0; i < mask.numel(); ++i) mask.data<bool>()[i] = true;
    ctx.outputs[1] = std::move(mask);
  }
  return Status::ok();
}

// Opset < 12 had `ratio` (and < 7 `is_test`) attributes; an inference
// compiler runs these as identity, so both go. Before opset 10 the mask had
// the data's type: a CastLike turns the bool mask into it.
Status dropout_import(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  attrs.erase("ratio");
  attrs.erase("is_test");
  std::vector<Value*> outs = ctx.outputs;
  if (ctx.opset < 10 && outs.size() > 1 && outs[1]) {
    Value* mask = ctx.temp("mask");
    ctx.emit(OpKind::Dropout, {ctx.inputs[0]}, {outs[0], mask}, attrs);
    ctx.emit(OpKind::CastLike, {mask, ctx.inputs[0]}, {outs[1]}, {});
    return Status::ok();
  }
  ctx.emit(OpKind::Dropout, ctx.inputs, outs, attrs);
  return Status::ok();
}

Status require_float_same(InferContext& ctx) {
  WEEC_TRY(nn::require_float(ctx, ctx.input_type(0).dtype));
  return infer_same_as_input0(ctx);
}

OpSchema norm_schema(OpKind kind, std::string_view onnx, int since, std::vector<AttrSpec> attrs, KernelFn k,
                     std::string_view doc) {
  OpSchema m{kind, onnx};
  m.since_opset = since;
  m.attrs = std::move(attrs);
  m.infer = require_float_same;
  m.kernel = k;
  m.doc = doc;
  return m;
}

}  // namespace

namespace {

// Gradient (ops/grad.h) with respect to X, scale and B. Per channel c, over
// the m elements of the batch and spatial axes, xhat = (x - mu) * inv:
//  training_mode (mu, var of the batch, inv = 1 / sqrt(var + eps)):
//    dB = sum dy, dscale = sum dy * xhat,
//    dX = scale * inv / m * (m * dy - dB - xhat * dscale);
//  inference (mu, var the inputs): dX = dy * scale * inv, and the same dB and
//    dscale; mean and var get -sum(dy) * scale * inv and
//    -sum(dy * (x - mu)) * scale * inv^3 / 2.
// The running statistics (outputs 1, 2) carry no gradient.
Status bn_grad(GradContext& c) {
  Value *x = c.x(0), *dy = c.dy(0);
  if (!dy) return Status::ok();
  const Dims xd = c.dims(x);
  const DType t = x->type.dtype;
  Dims cshape(xd.size(), 1);
  cshape[1] = xd[1];
  std::vector<int64_t> axes = {0};
  for (size_t a = 2; a < xd.size(); ++a) axes.push_back((int64_t)a);
  const double m = (double)(numel_of(xd) / std::max<int64_t>(xd[1], 1));
  auto op = [&](OpKind k, std::vector<Value*> in) { return c.op(k, std::move(in)); };
  auto per_channel = [&](Value* v) { return c.op(OpKind::Reshape, {v, c.ints(cshape)}); };
  auto sum = [&](Value* v, bool keep) {
    return c.op(OpKind::ReduceSum, {v, c.ints(axes)}, {{"keepdims", Attribute::of_int(keep)}});
  };
  const bool training = c.attrs.i("training_mode") != 0;
  Value *mu, *var;
  if (training) {
    mu = c.op(OpKind::ReduceMean, {x, c.ints(axes)});
    Value* d = op(OpKind::Sub, {x, mu});
    var = c.op(OpKind::ReduceMean, {op(OpKind::Mul, {d, d}), c.ints(axes)});
  } else {
    mu = per_channel(c.x(3));
    var = per_channel(c.x(4));
  }
  Value* inv =
      op(OpKind::Reciprocal, {op(OpKind::Sqrt, {op(OpKind::Add, {var, c.scalar(c.attrs.f("epsilon"), t)})})});
  Value* centred = op(OpKind::Sub, {x, mu});
  Value* xhat = op(OpKind::Mul, {centred, inv});
  Value* scale = per_channel(c.x(1));
  Value* db = sum(dy, true);
  Value* dscale = sum(op(OpKind::Mul, {dy, xhat}), true);
  Value* si = op(OpKind::Mul, {scale, inv});
  if (c.wants(0)) {
    if (training) {
      Value* inner = op(OpKind::Sub, {op(OpKind::Sub, {op(OpKind::Mul, {dy, c.scalar(m, t)}), db}),
                                      op(OpKind::Mul, {xhat, dscale})});
      c.set(0, op(OpKind::Mul, {op(OpKind::Div, {si, c.scalar(m, t)}), inner}));
    } else {
      c.set(0, op(OpKind::Mul, {dy, si}));
    }
  }
  const Dims cd = {xd[1]};
  auto flat = [&](Value* v) { return c.op(OpKind::Reshape, {v, c.ints(cd)}); };
  if (c.wants(1)) c.set(1, flat(dscale));
  if (c.wants(2)) c.set(2, flat(db));
  if (!training && c.wants(3)) c.set(3, flat(op(OpKind::Neg, {op(OpKind::Mul, {db, si})})));
  if (!training && c.wants(4)) {
    Value* s = sum(op(OpKind::Mul, {dy, centred}), true);
    Value* k = op(OpKind::Mul, {op(OpKind::Mul, {si, op(OpKind::Mul, {inv, inv})}), c.scalar(-0.5, t)});
    c.set(4, flat(op(OpKind::Mul, {s, k})));
  }
  return Status::ok();
}

}  // namespace

const OpSchema& schema_BatchNormalization() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::BatchNormalization, "BatchNormalization"};
    m.min_inputs = m.max_inputs = 5;
    m.max_outputs = 3;
    m.attrs = {attr_float("epsilon", 1e-5f), attr_float("momentum", 0.9f), attr_int("training_mode", 0)};
    m.infer = bn_infer;
    m.kernel = bn_kernel;
    m.emit_c = nn::emit_batchnorm;
    m.import = bn_import;
    m.doc = "batch normalisation; training_mode computes batch statistics";
    m.grad = bn_grad;
    return m;
  }();
  return s;
}

const OpSchema& schema_InstanceNormalization() {
  static const OpSchema s = [] {
    OpSchema m =
        norm_schema(OpKind::InstanceNormalization, "InstanceNormalization", 1, {attr_float("epsilon", 1e-5f)},
                    instnorm_kernel, "normalise each (n, c) plane, then scale and shift per channel");
    m.min_inputs = m.max_inputs = 3;
    m.emit_c = nn::emit_instancenorm;
    return m;
  }();
  return s;
}

const OpSchema& schema_LayerNormalization() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::LayerNormalization, "LayerNormalization"};
    m.since_opset = 17;
    m.min_inputs = 2;
    m.max_inputs = 3;
    m.max_outputs = 3;
    m.attrs = {attr_int("axis", -1), attr_float("epsilon", 1e-5f), attr_int("stash_type", 1)};
    m.infer = layernorm_infer;
    m.kernel = layernorm_kernel;
    m.emit_c = nn::emit_layernorm;
    m.doc = "normalise over dims [axis, rank); optional Mean and InvStdDev outputs";
    return m;
  }();
  return s;
}

const OpSchema& schema_LRN() {
  static const OpSchema s = [] {
    OpSchema m = norm_schema(OpKind::LRN, "LRN", 1,
                             {attr_float("alpha", 1e-4f), attr_float("beta", 0.75f), attr_float("bias", 1.f),
                              attr_required("size", Attribute::Kind::Int)},
                             lrn_kernel, "local response normalisation across channels");
    m.emit_c = nn::emit_lrn;
    return m;
  }();
  return s;
}

const OpSchema& schema_LpNormalization() {
  static const OpSchema s = [] {
    OpSchema m =
        norm_schema(OpKind::LpNormalization, "LpNormalization", 1, {attr_int("axis", -1), attr_int("p", 2)},
                    lpnorm_kernel, "divide by the L1/L2 norm along an axis");
    m.emit_c = nn::emit_lpnorm;
    return m;
  }();
  return s;
}

const OpSchema& schema_MeanVarianceNormalization() {
  static const OpSchema s = [] {
    OpSchema m =
        norm_schema(OpKind::MeanVarianceNormalization, "MeanVarianceNormalization", 9,
                    {attr_ints("axes", {0, 2, 3})}, mvn_kernel, "(X - mean) / std over the given axes");
    m.emit_c = nn::emit_mvn;
    return m;
  }();
  return s;
}

const OpSchema& schema_Dropout() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Dropout, "Dropout"};
    m.max_inputs = 3;
    m.max_outputs = 2;
    m.attrs = {attr_optional("seed", Attribute::Kind::Int)};
    m.fusion = FusionKind::Elementwise;
    m.infer = dropout_infer;
    m.kernel = dropout_kernel;
    m.emit_c = nn::emit_dropout;
    m.import = dropout_import;
    m.doc = "inference identity (mask all true); random training dropout unsupported";
    return m;
  }();
  return s;
}

}  // namespace weec
