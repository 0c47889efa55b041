// Shared by the conv/pool/matmul family (conv*.cc, pool.cc, gemm.cc,
// matmul.cc, normalization.cc, quantize_linear.cc, qlinear.cc): auto_pad and
// output-size rules, the N-D convolution loop, numpy-matmul shapes and loop,
// quantisation-parameter expansion, and float<->double helpers (this family's
// reference kernels compute in double and round once).
#pragma once

#include <algorithm>
#include <vector>

#include "ops/op_util.h"

namespace weec::nn {

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

inline Expected<AutoPad> read_auto_pad(const NodeContext& ctx) {
  const std::string& s = ctx.attrs.s("auto_pad");
  if (s.empty() || s == "NOTSET") return AutoPad::NotSet;
  if (s == "SAME_UPPER") return AutoPad::SameUpper;
  if (s == "SAME_LOWER") return AutoPad::SameLower;
  if (s == "VALID") return AutoPad::Valid;
  return ctx.error("unknown auto_pad '{}'", s);
}

// Floor/ceil division that is right for negative numerators (b > 0).
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Spatial geometry of a sliding window (conv or pool). All vectors have the
// spatial rank; `in`/`out` may hold -1 (unknown) during inference only.
struct Window {
  Dims in, kernel, strides, dilations, pad_begin, pad_end, out;
  size_t rank() const { return kernel.size(); }
};

// Reads strides/dilations/pads (defaults 1/1/0) for `rank` spatial dims.
inline Status read_window_attrs(const NodeContext& ctx, size_t rank, Window& w, bool has_dilations = true) {
  auto read = [&](const char* name, size_t n, int64_t def, Dims& out) -> Status {
    out.assign(n, def);
    if (!ctx.attrs.has(name)) return Status::ok();
    const auto& v = ctx.attrs.ints(name);
    if (v.size() != n) return ctx.error("attribute '{}' has {} values, expected {}", name, v.size(), n);
    out = v;
    return Status::ok();
  };
  WEEC_TRY(read("strides", rank, 1, w.strides));
  if (has_dilations)
    WEEC_TRY(read("dilations", rank, 1, w.dilations));
  else
    w.dilations.assign(rank, 1);
  Dims pads;
  WEEC_TRY(read("pads", 2 * rank, 0, pads));
  w.pad_begin.assign(pads.begin(), pads.begin() + rank);
  w.pad_end.assign(pads.begin() + rank, pads.end());
  for (size_t i = 0; i < rank; ++i) {
    if (w.strides[i] < 1) return ctx.error("strides must be positive, got {}", w.strides[i]);
    if (w.dilations[i] < 1) return ctx.error("dilations must be positive, got {}", w.dilations[i]);
    if (w.pad_begin[i] < 0 || w.pad_end[i] < 0) return ctx.error("pads must be non-negative");
    if (w.kernel[i] < 1) return ctx.error("kernel dims must be positive, got {}", w.kernel[i]);
  }
  return Status::ok();
}

// Output size of one spatial dim of a conv/pool window, updating the pads for
// SAME_*/VALID. Explicit pads: floor((in + pads - eff) / s) + 1, or ceil with
// ceil_mode, dropping a last window that would start inside the end padding
// (PyTorch's rule, also ONNX's reference since 1.16). SAME_*: ceil(in / s),
// the odd pad going to the end (UPPER) or the beginning (LOWER).
inline Expected<int64_t> window_out_size(const NodeContext& ctx, AutoPad ap, bool ceil_mode, int64_t in,
                                         int64_t k, int64_t s, int64_t d, int64_t& pb, int64_t& pe) {
  int64_t eff = (k - 1) * d + 1;
  switch (ap) {
    case AutoPad::SameUpper:
    case AutoPad::SameLower: {
      int64_t out = ceil_div(in, s);
      int64_t total = std::max<int64_t>(0, (out - 1) * s + eff - in);
      pb = ap == AutoPad::SameUpper ? total / 2 : total - total / 2;
      pe = total - pb;
      return out;
    }
    case AutoPad::Valid:
      pb = pe = 0;
      [[fallthrough]];
    case AutoPad::NotSet: {
      int64_t span = in + pb + pe - eff;
      if (span < 0)
        return ctx.error("window of extent {} is larger than the padded input ({})", eff, in + pb + pe);
      if (!ceil_mode) return span / s + 1;
      int64_t out = ceil_div(span, s) + 1;
      if ((out - 1) * s >= in + pb) --out;
      return out;
    }
  }
  return int64_t(0);
}

// Resolves w.out (and pads) from w.in; -1 input dims give -1 outputs.
inline Status resolve_window(const NodeContext& ctx, AutoPad ap, bool ceil_mode, Window& w) {
  w.out.assign(w.rank(), -1);
  for (size_t i = 0; i < w.rank(); ++i) {
    if (w.in[i] < 0) continue;
    WEEC_ASSIGN_OR_RETURN(w.out[i], window_out_size(ctx, ap, ceil_mode, w.in[i], w.kernel[i], w.strides[i],
                                                    w.dilations[i], w.pad_begin[i], w.pad_end[i]));
  }
  return Status::ok();
}

// Known dims of a static-or-symbolic shape as numbers, -1 where unknown.
inline Dims known_dims(const Shape& s) {
  Dims d;
  for (auto& x : s.dims) d.push_back(x.is_known() ? x.value : -1);
  return d;
}
inline Dim dim_or_unknown(int64_t v) { return v >= 0 ? Dim::known(v) : Dim::unknown(); }

// ---- the convolution loops ----

// Visits the box lo[r] <= o[r] < hi[r] in row-major order, calling
// f(o_outer_offsets...) once per innermost run: f(src_base, dst_base, lo_last,
// hi_last) with src offsets from `src_stride * (o * step + shift)` and dst
// offsets from `dst_stride * o`, so callers loop the last dim themselves.
struct BoxMap {
  Dims lo, hi, step, shift, src_stride, dst_stride;
};
template <typename F>
void for_each_run(const BoxMap& m, F&& f) {
  const size_t r = m.lo.size();
  if (r == 0) {
    f(int64_t(0), int64_t(0), int64_t(0), int64_t(1));
    return;
  }
  for (size_t i = 0; i < r; ++i)
    if (m.lo[i] >= m.hi[i]) return;
  std::vector<int64_t> o(m.lo.begin(), m.lo.end() - 1);
  while (true) {
    int64_t src = 0, dst = 0;
    for (size_t i = 0; i + 1 < r; ++i) {
      src += (o[i] * m.step[i] + m.shift[i]) * m.src_stride[i];
      dst += o[i] * m.dst_stride[i];
    }
    f(src, dst, m.lo[r - 1], m.hi[r - 1]);
    size_t i = r - 1;
    while (i > 0) {
      --i;
      if (++o[i] < m.hi[i]) break;
      o[i] = m.lo[i];
      if (i == 0) return;
    }
    if (r == 1) return;
  }
}

// Problem description shared by Conv, ConvInteger and QLinearConv: X is
// (N, C_in, in...), W is (C_out, C_in/group, kernel...).
struct ConvProblem {
  int64_t batch = 0, c_in = 0, c_out = 0, group = 1;
  Window w;
};

// acc[n, oc, o...] += sum_{ic in group, k} x_at(x_index) * w_at(w_index, oc),
// with o * s + k * d - pad_begin indexing X; taps in the padding contribute
// nothing. `acc` holds N * C_out * prod(out) zero-initialised entries.
template <typename Acc, typename XAt, typename WAt>
void conv_accumulate(const ConvProblem& p, XAt&& x_at, WAt&& w_at, Acc* acc) {
  const Window& w = p.w;
  const size_t r = w.rank();
  const int64_t in_n = numel_of(w.in), out_n = numel_of(w.out), k_n = numel_of(w.kernel);
  const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group;
  BoxMap m;
  m.lo.resize(r), m.hi.resize(r), m.shift.resize(r);
  m.step = w.strides;
  m.src_stride = strides_of(w.in);
  m.dst_stride = strides_of(w.out);
  const int64_t s_last = r ? w.strides[r - 1] : 1;
  std::vector<int64_t> kpos(r, 0);
  for (int64_t k = 0; k < k_n; ++k) {
    // Output range whose tap k lands inside the input: 0 <= o*s + k*d - pb < in.
    for (size_t i = 0; i < r; ++i) {
      int64_t shift = kpos[i] * w.dilations[i] - w.pad_begin[i];
      m.shift[i] = shift;
      m.lo[i] = std::max<int64_t>(0, ceil_div(-shift, w.strides[i]));
      m.hi[i] = std::min<int64_t>(w.out[i], floor_div(w.in[i] - 1 - shift, w.strides[i]) + 1);
    }
    const int64_t shift_last = r ? m.shift[r - 1] : 0;
    for (int64_t n = 0; n < p.batch; ++n)
      for (int64_t oc = 0; oc < p.c_out; ++oc) {
        const int64_t g = oc / cout_g;
        Acc* out = acc + (n * p.c_out + oc) * out_n;
        for (int64_t icl = 0; icl < cin_g; ++icl) {
          const int64_t x_base = (n * p.c_in + g * cin_g + icl) * in_n;
          const Acc wv = w_at((oc * cin_g + icl) * k_n + k, oc);
          for_each_run(m, [&](int64_t src, int64_t dst, int64_t lo, int64_t hi) {
            const int64_t xb = x_base + src + shift_last;
            for (int64_t o = lo; o < hi; ++o) out[dst + o] += wv * x_at(xb + o * s_last);
          });
        }
      }
    for (size_t i = r; i-- > 0;) {
      if (++kpos[i] < w.kernel[i]) break;
      kpos[i] = 0;
    }
  }
}

// Reads the conv geometry from X/W dims and the node's attributes. `x`/`w`
// dims may contain -1 during inference; then out dims are -1 where unknown.
inline Status conv_problem(const NodeContext& ctx, const Dims& x, const Dims& w, ConvProblem& p) {
  if (x.size() < 2) return ctx.error("input must have rank >= 2, got {}", x.size());
  if (w.size() != x.size()) return ctx.error("weight rank {} differs from input rank {}", w.size(), x.size());
  const size_t r = x.size() - 2;
  p.batch = x[0];
  p.c_in = x[1];
  p.c_out = w[0];
  p.group = ctx.attrs.i("group");
  if (p.group < 1) return ctx.error("group must be positive, got {}", p.group);
  p.w.in.assign(x.begin() + 2, x.end());
  p.w.kernel.assign(w.begin() + 2, w.end());
  if (ctx.attrs.has("kernel_shape")) {
    const auto& ks = ctx.attrs.ints("kernel_shape");
    if (ks.size() != r) return ctx.error("kernel_shape has {} dims, expected {}", ks.size(), r);
    for (size_t i = 0; i < r; ++i) {
      if (p.w.kernel[i] >= 0 && p.w.kernel[i] != ks[i])
        return ctx.error("kernel_shape {} disagrees with weight shape {}", dims_str(ks), dims_str(w));
      p.w.kernel[i] = ks[i];
    }
  }
  for (auto k : p.w.kernel)
    if (k < 0) {  // unknown kernel: only the rank is known
      p.w.out.assign(r, -1);
      return Status::ok();
    }
  if (p.c_in >= 0 && w[1] >= 0 && p.c_in != w[1] * p.group)
    return ctx.error("input has {} channels but weight expects {} x group {}", p.c_in, w[1], p.group);
  if (p.c_out >= 0 && p.c_out % p.group != 0)
    return ctx.error("{} output channels are not divisible by group {}", p.c_out, p.group);
  WEEC_TRY(read_window_attrs(ctx, r, p.w));
  WEEC_ASSIGN_OR_RETURN(AutoPad ap, read_auto_pad(ctx));
  return resolve_window(ctx, ap, false, p.w);
}

// Output type (N, C_out, out...) of a conv-like op from its X and W types.
inline Status infer_conv_type(InferContext& ctx, size_t x_in, size_t w_in, DType out_dtype) {
  const TensorType& xt = ctx.input_type(x_in);
  const TensorType& wt = ctx.input_type(w_in);
  if (!xt.shape.rank_known) {
    ctx.outputs[0] = TensorType{out_dtype, Shape::unknown_rank()};
    return Status::ok();
  }
  Dims x = known_dims(xt.shape);
  Dims w = wt.shape.rank_known ? known_dims(wt.shape) : Dims(x.size(), -1);
  ConvProblem p;
  WEEC_TRY(conv_problem(ctx, x, w, p));
  Shape s = Shape::of_rank(x.size());
  s.dims[0] = xt.shape.dims[0];
  s.dims[1] = dim_or_unknown(p.c_out);
  for (size_t i = 0; i < p.w.rank(); ++i) s.dims[2 + i] = dim_or_unknown(p.w.out[i]);
  ctx.outputs[0] = TensorType{out_dtype, s};
  return Status::ok();
}

// MACs of a conv-like node: numel(Y) * (C_in / group) * prod(kernel).
inline int64_t conv_macs(const Node& n, size_t w_in) {
  const Shape& ys = n.outputs[0]->type.shape;
  const Value* wv = n.input(w_in);
  if (!wv || !ys.is_static() || !wv->type.shape.is_static()) return 0;
  Dims w = wv->type.shape.static_dims();
  if (w.empty() || w[0] == 0) return 0;
  return numel_of(ys.static_dims()) * (numel_of(w) / w[0]);
}

// ---- numpy matmul (MatMul, MatMulInteger, QLinearMatMul) ----

// Shapes of a numpy-style matmul: 1-D operands are promoted (A to [1,K], B to
// [K,1]) and the added dim dropped from the result; leading dims broadcast.
struct MatMulPlan {
  int64_t m = 0, n = 0, k = 0;
  Dims out;                           // result dims
  std::vector<int64_t> a_mat, b_mat;  // per batch entry: matrix index into A, B
};

inline Expected<MatMulPlan> matmul_plan(const NodeContext& ctx, const Dims& a0, const Dims& b0) {
  if (a0.empty() || b0.empty()) return ctx.error("matmul operands must have rank >= 1");
  Dims a = a0, b = b0;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  MatMulPlan p;
  p.m = a[a.size() - 2];
  p.k = a.back();
  p.n = b.back();
  if (b[b.size() - 2] != p.k) return ctx.error("inner dims differ: {} x {}", dims_str(a0), dims_str(b0));
  Dims ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  auto batch = broadcast_dims({ab, bb});
  if (!batch) return ctx.error("batch dims cannot be broadcast: {} x {}", dims_str(a0), dims_str(b0));
  // Matrix-index strides of A and B over the broadcast batch dims.
  Dims as = broadcast_strides(ab, *batch), bs = broadcast_strides(bb, *batch);
  for_each_broadcast(*batch, {as, bs}, [&](int64_t, const int64_t* off) {
    p.a_mat.push_back(off[0]);
    p.b_mat.push_back(off[1]);
  });
  p.out = *batch;
  if (a0.size() > 1) p.out.push_back(p.m);
  if (b0.size() > 1) p.out.push_back(p.n);
  return p;
}

// y[batch, i, j] += sum_p a[batch, i, p] * b[batch, p, j]; y zero-initialised.
template <typename Acc>
void matmul_loop(const MatMulPlan& p, const Acc* a, const Acc* b, Acc* y) {
  const int64_t m = p.m, n = p.n, k = p.k;
  for (size_t bi = 0; bi < p.a_mat.size(); ++bi) {
    const Acc* am = a + p.a_mat[bi] * m * k;
    const Acc* bm = b + p.b_mat[bi] * k * n;
    Acc* ym = y + (int64_t)bi * m * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t q = 0; q < k; ++q) {
        const Acc av = am[i * k + q];
        const Acc* br = bm + q * n;
        Acc* yr = ym + i * n;
        for (int64_t j = 0; j < n; ++j) yr[j] += av * br[j];
      }
  }
}

// A quantisation parameter (scale or zero point) of a matmul operand,
// expanded to one value per operand element. One element means per tensor;
// otherwise it broadcasts to the operand, a 1-D per-row parameter [M] of A
// [.., M, K] lining up as [M, 1] (B's per-column [N] broadcasts as is).
inline Expected<std::vector<double>> param_for_operand(const NodeContext& ctx, const Tensor& param,
                                                       const Dims& operand, bool per_row) {
  const int64_t n = numel_of(operand);
  if (param.numel() == 1) return std::vector<double>(n, param.get_double(0));
  Dims pd = param.dims();
  if (per_row && pd.size() == 1 && operand.size() >= 2) pd.push_back(1);
  auto bd = broadcast_dims({operand, pd});
  if (!bd || *bd != operand)
    return ctx.error("quantisation parameter {} does not fit operand {}", dims_str(param.dims()),
                     dims_str(operand));
  std::vector<double> v(n);
  Dims ps = broadcast_strides(pd, operand);
  for_each_broadcast(operand, {ps}, [&](int64_t o, const int64_t* off) { v[o] = param.get_double(off[0]); });
  return v;
}

// Static result shape of a numpy matmul (unknown rank if either is).
inline Expected<Shape> matmul_shape(const NodeContext& ctx, const Shape& a, const Shape& b) {
  if (!a.rank_known || !b.rank_known) return Shape::unknown_rank();
  if (a.rank() == 0 || b.rank() == 0) return ctx.error("matmul operands must have rank >= 1");
  Dim ka = a.dims.back(), kb = b.rank() == 1 ? b.dims[0] : b.dims[b.rank() - 2];
  if (ka.is_known() && kb.is_known() && ka.value != kb.value)
    return ctx.error("inner dims differ: {} x {}", shape_str(a), shape_str(b));
  Shape ab, bb;
  ab.rank_known = bb.rank_known = true;
  if (a.rank() > 2) ab.dims.assign(a.dims.begin(), a.dims.end() - 2);
  if (b.rank() > 2) bb.dims.assign(b.dims.begin(), b.dims.end() - 2);
  auto batch = broadcast_shapes({ab, bb});
  if (!batch) return ctx.error("{}", batch.status().message());
  Shape out = *batch;
  if (a.rank() > 1) out.dims.push_back(a.dims[a.rank() - 2]);
  if (b.rank() > 1) out.dims.push_back(b.dims.back());
  return out;
}

inline int64_t matmul_macs(const Node& n) {
  const Value* a = n.input(0);
  const Shape& y = n.outputs[0]->type.shape;
  if (!a || !a->type.shape.is_static() || !y.is_static() || a->type.shape.rank() == 0) return 0;
  return numel_of(y.static_dims()) * a->type.shape.dims.back().value;
}

// ---- float helpers: this family computes in double and rounds once ----

inline std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> v(t.numel());
  Status st = visit_numeric(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = (double)p[i];
    return Status::ok();
  });
  if (!st)  // f16/bf16
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.get_double(i);
  return v;
}

inline Tensor from_doubles(DType dt, const Dims& dims, const std::vector<double>& v) {
  Tensor out(dt, dims);
  if (dt == DType::F32) {
    float* p = out.data<float>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = (float)v[i];
  } else if (dt == DType::F64) {
    std::copy(v.begin(), v.end(), out.data<double>());
  } else {
    // Round via f32 like the other half-precision kernels do.
    for (size_t i = 0; i < v.size(); ++i) out.set_double((int64_t)i, (double)(float)v[i]);
  }
  return out;
}

inline Status require_float(const NodeContext& ctx, DType t, const char* what = "input") {
  if (is_float(t)) return Status::ok();
  return ctx.error("{} must be a floating-point tensor, got {}", what, dtype_name(t));
}

}  // namespace weec::nn
