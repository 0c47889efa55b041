// Pooling: MaxPool (optional Indices, dilations, storage_order, int8/uint8),
// AveragePool (count_include_pad), LpPool, their Global* forms, and MaxUnpool.
// All windows share nn::Window (pads/auto_pad/ceil_mode rules in conv_util.h).
// MaxPool ignores NaN like ONNX's reference (which pads with NaN and drops
// them) and ONNX Runtime; ties keep the first maximum in scan order.
#include <cmath>
#include <limits>

#include "ops/c_emit.h"
#include "ops/conv_util.h"
#include "ops/grad.h"

namespace weec {

namespace {

enum class PoolKind { Max, Avg, Lp };

// One window tap: its offset inside the input plane, row-major and
// column-major (MaxPool's storage_order=1 Indices).
struct Tap {
  int64_t row, col;
};

// Per output position: the taps that fall inside the input, plus how many
// taps fall inside the padded extent (count_include_pad's divisor).
struct PoolPlan {
  std::vector<int64_t> first;  // taps[first[o] .. first[o+1])
  std::vector<Tap> taps;
  std::vector<int64_t> padded_count;
};

PoolPlan plan_pool(const nn::Window& w) {
  const size_t r = w.rank();
  const int64_t out_n = numel_of(w.out), k_n = numel_of(w.kernel);
  Dims row_st = strides_of(w.in), col_st(r, 1);
  for (size_t i = 1; i < r; ++i) col_st[i] = col_st[i - 1] * w.in[i - 1];
  PoolPlan plan;
  plan.first.reserve(out_n + 1);
  plan.padded_count.reserve(out_n);
  std::vector<int64_t> o(r, 0), k(r, 0);
  for (int64_t oi = 0; oi < out_n; ++oi) {
    plan.first.push_back((int64_t)plan.taps.size());
    int64_t padded = 0;
    std::fill(k.begin(), k.end(), 0);
    for (int64_t ki = 0; ki < k_n; ++ki) {
      bool inside = true, in_padded = true;
      Tap t{0, 0};
      for (size_t i = 0; i < r; ++i) {
        int64_t pos = o[i] * w.strides[i] - w.pad_begin[i] + k[i] * w.dilations[i];
        if (pos < 0 || pos >= w.in[i]) inside = false;
        if (pos < -w.pad_begin[i] || pos >= w.in[i] + w.pad_end[i]) in_padded = false;
        t.row += pos * row_st[i];
        t.col += pos * col_st[i];
      }
      if (inside) plan.taps.push_back(t);
      padded += in_padded;
      for (size_t i = r; i-- > 0;) {
        if (++k[i] < w.kernel[i]) break;
        k[i] = 0;
      }
    }
    plan.padded_count.push_back(padded);
    for (size_t i = r; i-- > 0;) {
      if (++o[i] < w.out[i]) break;
      o[i] = 0;
    }
  }
  plan.first.push_back((int64_t)plan.taps.size());
  return plan;
}

// Window geometry of a pooling node for input dims `x` (-1 = unknown).
Status pool_window(const NodeContext& ctx, PoolKind kind, const Dims& x, nn::Window& w) {
  if (x.size() < 2) return ctx.error("input must have rank >= 2, got {}", x.size());
  const size_t r = x.size() - 2;
  w.in.assign(x.begin() + 2, x.end());
  w.kernel = ctx.attrs.ints("kernel_shape");
  if (w.kernel.size() != r) return ctx.error("kernel_shape has {} dims, expected {}", w.kernel.size(), r);
  WEEC_TRY(nn::read_window_attrs(ctx, r, w, kind == PoolKind::Max));
  WEEC_ASSIGN_OR_RETURN(nn::AutoPad ap, nn::read_auto_pad(ctx));
  bool ceil_mode = kind != PoolKind::Lp && ctx.attrs.i("ceil_mode") != 0;
  return nn::resolve_window(ctx, ap, ceil_mode, w);
}

Status pool_infer(InferContext& ctx, PoolKind kind) {
  const TensorType& xt = ctx.input_type(0);
  if (kind == PoolKind::Max) {
    if (!is_float(xt.dtype) && xt.dtype != DType::I8 && xt.dtype != DType::U8)
      return ctx.error("MaxPool does not support dtype {}", dtype_name(xt.dtype));
  } else {
    WEEC_TRY(nn::require_float(ctx, xt.dtype));
  }
  Shape s = Shape::unknown_rank();
  if (xt.shape.rank_known) {
    nn::Window w;
    WEEC_TRY(pool_window(ctx, kind, nn::known_dims(xt.shape), w));
    s = xt.shape;
    for (size_t i = 0; i < w.rank(); ++i) s.dims[2 + i] = nn::dim_or_unknown(w.out[i]);
  }
  ctx.outputs[0] = TensorType{xt.dtype, s};
  if (ctx.outputs.size() > 1) ctx.outputs[1] = TensorType{DType::I64, s};
  return Status::ok();
}

template <typename T>
void max_pool(const T* x, int64_t planes, int64_t in_n, const PoolPlan& plan, bool col_major, T* y,
              int64_t* idx) {
  const int64_t out_n = (int64_t)plan.padded_count.size();
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * in_n;
    for (int64_t o = 0; o < out_n; ++o) {
      T best = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                    : std::numeric_limits<T>::lowest();
      int64_t best_at = -1;
      for (int64_t t = plan.first[o]; t < plan.first[o + 1]; ++t) {
        T v = xp[plan.taps[t].row];
        if (best_at < 0 ? !(v != v) : v > best) {  // NaN never wins
          best = v;
          best_at = t;
        }
      }
      y[pl * out_n + o] = best;
      if (idx) {
        int64_t spatial = best_at < 0 ? 0 : (col_major ? plan.taps[best_at].col : plan.taps[best_at].row);
        idx[pl * out_n + o] = pl * in_n + spatial;
      }
    }
  }
}

Status pool_kernel(KernelContext& ctx, PoolKind kind) {
  const Tensor& x = ctx.input(0);
  nn::Window w;
  WEEC_TRY(pool_window(ctx, kind, x.dims(), w));
  Dims out_dims = {x.dim(0), x.dim(1)};
  out_dims.insert(out_dims.end(), w.out.begin(), w.out.end());
  const int64_t planes = x.dim(0) * x.dim(1), in_n = numel_of(w.in), out_n = numel_of(w.out);
  PoolPlan plan = plan_pool(w);
  if (kind == PoolKind::Max) {
    bool want_idx = ctx.outputs.size() > 1 && ctx.node.outputs[1] != nullptr;
    bool col_major = ctx.attrs.i("storage_order") != 0;
    Tensor xs = is_half(x.dtype()) ? to_f32(x) : x;
    Tensor y(xs.dtype(), out_dims);
    Tensor idx(DType::I64, want_idx ? out_dims : Dims{0});
    WEEC_TRY(visit_numeric(xs.dtype(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, bool>) {
        return ctx.error("MaxPool does not support bool");
      } else {
        max_pool<T>(xs.data<T>(), planes, in_n, plan, col_major, y.data<T>(),
                    want_idx ? idx.data<int64_t>() : nullptr);
        return Status::ok();
      }
    }));
    ctx.outputs[0] = is_half(x.dtype()) ? from_f32(y, x.dtype()) : std::move(y);
    if (want_idx) ctx.outputs[1] = std::move(idx);
    return Status::ok();
  }
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  std::vector<double> xv = nn::to_doubles(x), yv(planes * out_n);
  bool include_pad = kind == PoolKind::Avg && ctx.attrs.i("count_include_pad") != 0;
  double p = kind == PoolKind::Lp ? (double)ctx.attrs.i("p") : 1.0;
  for (int64_t pl = 0; pl < planes; ++pl) {
    const double* xp = xv.data() + pl * in_n;
    for (int64_t o = 0; o < out_n; ++o) {
      double acc = 0;
      for (int64_t t = plan.first[o]; t < plan.first[o + 1]; ++t) {
        double v = xp[plan.taps[t].row];
        acc += kind == PoolKind::Avg ? v : std::pow(std::fabs(v), p);
      }
      if (kind == PoolKind::Avg) {
        int64_t n = include_pad ? plan.padded_count[o] : plan.first[o + 1] - plan.first[o];
        acc /= (double)n;  // an all-padding window gives NaN
      } else {
        acc = std::pow(acc, 1.0 / p);
      }
      yv[pl * out_n + o] = acc;
    }
  }
  ctx.outputs[0] = nn::from_doubles(x.dtype(), out_dims, yv);
  return Status::ok();
}

// Opset 1 LpPool/GlobalLpPool had a float `p`; later it is an int.
Status import_float_p(ImportContext& ctx, OpKind op) {
  AttrMap attrs = ctx.attrs;
  auto it = attrs.find("p");
  if (it != attrs.end() && it->second.kind == Attribute::Kind::Float) {
    float p = it->second.f;
    if (p != std::floor(p) || p < 1) return ctx.error("non-integer p={} is not supported", p);
    it->second = Attribute::of_int((int64_t)p);
  }
  ctx.emit(op, ctx.inputs, ctx.outputs, attrs);
  return Status::ok();
}

std::vector<AttrSpec> window_attrs() {
  return {attr_string("auto_pad", "NOTSET"), attr_required("kernel_shape", Attribute::Kind::Ints),
          attr_optional("pads", Attribute::Kind::Ints), attr_optional("strides", Attribute::Kind::Ints)};
}

int64_t window_macs(const Node& n) {
  // Work of a pooling node: one op per output element per kernel tap.
  const Shape& s = n.outputs[0]->type.shape;
  const Attribute* k = n.attr("kernel_shape");
  if (!s.is_static() || !k) return 0;
  return numel_of(s.static_dims()) * numel_of(k->ints);
}

// ---- Global pools ----

Status global_infer(InferContext& ctx) {
  const TensorType& xt = ctx.input_type(0);
  WEEC_TRY(nn::require_float(ctx, xt.dtype));
  Shape s = xt.shape;
  if (s.rank_known) {
    if (s.rank() < 2) return ctx.error("input must have rank >= 2, got {}", s.rank());
    for (int64_t i = 2; i < s.rank(); ++i) s.dims[i] = Dim::known(1);
  }
  ctx.outputs[0] = TensorType{xt.dtype, s};
  return Status::ok();
}

Status global_kernel(KernelContext& ctx, PoolKind kind) {
  const Tensor& x = ctx.input(0);
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  if (x.rank() < 2) return ctx.error("input must have rank >= 2, got {}", x.rank());
  Dims out_dims = x.dims();
  for (size_t i = 2; i < out_dims.size(); ++i) out_dims[i] = 1;
  const int64_t planes = x.dim(0) * x.dim(1), in_n = planes ? x.numel() / planes : 0;
  std::vector<double> xv = nn::to_doubles(x), yv(planes);
  double p = kind == PoolKind::Lp ? (double)ctx.attrs.i("p") : 1.0;
  for (int64_t pl = 0; pl < planes; ++pl) {
    const double* xp = xv.data() + pl * in_n;
    double acc = kind == PoolKind::Max ? -std::numeric_limits<double>::infinity() : 0.0;
    for (int64_t i = 0; i < in_n; ++i) {
      if (kind == PoolKind::Max)
        acc = xp[i] > acc ? xp[i] : acc;
      else if (kind == PoolKind::Avg)
        acc += xp[i];
      else
        acc += std::pow(std::fabs(xp[i]), p);
    }
    if (kind == PoolKind::Avg) acc /= (double)in_n;
    if (kind == PoolKind::Lp) acc = std::pow(acc, 1.0 / p);
    yv[pl] = acc;
  }
  ctx.outputs[0] = nn::from_doubles(x.dtype(), out_dims, yv);
  return Status::ok();
}

// ---- MaxUnpool ----

// Default output dims: (in - 1) * stride + kernel - pads.
Status unpool_dims(const NodeContext& ctx, const Dims& x, Dims& out) {
  if (x.size() < 2) return ctx.error("input must have rank >= 2, got {}", x.size());
  const size_t r = x.size() - 2;
  nn::Window w;
  w.kernel = ctx.attrs.ints("kernel_shape");
  if (w.kernel.size() != r) return ctx.error("kernel_shape has {} dims, expected {}", w.kernel.size(), r);
  WEEC_TRY(nn::read_window_attrs(ctx, r, w, false));
  out = {x[0], x[1]};
  for (size_t i = 0; i < r; ++i)
    out.push_back(x[2 + i] < 0 ? -1
                               : (x[2 + i] - 1) * w.strides[i] + w.kernel[i] - w.pad_begin[i] - w.pad_end[i]);
  return Status::ok();
}

Status unpool_infer(InferContext& ctx) {
  const TensorType& xt = ctx.input_type(0);
  WEEC_TRY(nn::require_float(ctx, xt.dtype));
  if (ctx.input_type(1).dtype != DType::I64) return ctx.error("indices must be i64");
  if (ctx.has_input(2)) {
    if (const Tensor* c = ctx.input_constant(2)) {
      ctx.outputs[0] = static_type(xt.dtype, c->to_int_vector());
    } else {
      const Shape& ss = ctx.input_type(2).shape;
      bool len_known = ss.rank_known && ss.rank() == 1 && ss.dims[0].is_known();
      ctx.outputs[0] =
          TensorType{xt.dtype, len_known ? Shape::of_rank(ss.dims[0].value) : Shape::unknown_rank()};
    }
    return Status::ok();
  }
  if (!xt.shape.rank_known) {
    ctx.outputs[0] = TensorType{xt.dtype, Shape::unknown_rank()};
    return Status::ok();
  }
  Dims out;
  WEEC_TRY(unpool_dims(ctx, nn::known_dims(xt.shape), out));
  Shape s = Shape::of_rank(out.size());
  s.dims[0] = xt.shape.dims[0];
  s.dims[1] = xt.shape.dims[1];
  for (size_t i = 2; i < out.size(); ++i) s.dims[i] = nn::dim_or_unknown(out[i]);
  ctx.outputs[0] = TensorType{xt.dtype, s};
  return Status::ok();
}

Status unpool_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& idx = ctx.input(1);
  WEEC_TRY(nn::require_float(ctx, x.dtype()));
  if (idx.dtype() != DType::I64 || idx.dims() != x.dims())
    return ctx.error("indices must be i64 with X's shape {}, got {}{}", dims_str(x.dims()),
                     dtype_name(idx.dtype()), dims_str(idx.dims()));
  // As ONNX's reference: scatter into the default unpooled shape, then place
  // that at the origin of output_shape (zero-filled beyond it). ONNX Runtime
  // instead indexes output_shape directly; the backend test follows the former.
  Dims inferred;
  WEEC_TRY(unpool_dims(ctx, x.dims(), inferred));
  for (auto d : inferred)
    if (d < 0) return ctx.error("unpooled shape {} is negative", dims_str(inferred));
  Dims out = inferred;
  if (ctx.has_input(2)) {
    out = ctx.input(2).to_int_vector();
    if (out.size() != (size_t)x.rank()) return ctx.error("output_shape {} has the wrong rank", dims_str(out));
    for (size_t i = 0; i < out.size(); ++i)
      if (out[i] < inferred[i])
        return ctx.error("output_shape {} is smaller than the unpooled shape {}", dims_str(out),
                         dims_str(inferred));
  }
  Tensor full(x.dtype(), inferred);
  const int64_t* ip = idx.data<int64_t>();
  const size_t esz = dtype_size(x.dtype());
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(full.raw());
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (ip[i] < 0 || ip[i] >= full.numel())
      return ctx.error("index {} is out of range for unpooled shape {}", ip[i], dims_str(inferred));
    std::memcpy(dst + ip[i] * esz, src + i * esz, esz);
  }
  if (out == inferred) {
    ctx.outputs[0] = std::move(full);
    return Status::ok();
  }
  Tensor y(x.dtype(), out);
  Dims ost = strides_of(out);
  auto* yp = static_cast<uint8_t*>(y.raw());
  for_each_broadcast(inferred, {ost}, [&](int64_t i, const int64_t* off) {
    std::memcpy(yp + off[0] * esz, dst + i * esz, esz);
  });
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

// ---- C emission ----

// Whether every output position along dim i sees all of its kernel taps
// inside X (no bounds needed in the tap loop).
bool dim_always_inside(const nn::Window& w, size_t i) {
  const int64_t span = (w.kernel[i] - 1) * w.dilations[i];
  for (int64_t o = 0; o < w.out[i]; ++o) {
    const int64_t st = o * w.strides[i] - w.pad_begin[i];
    if (st < 0 || st + span > w.in[i] - 1) return false;
  }
  return true;
}

// "a < b ? a : b" on C expressions.
std::string c_min(const std::string& a, const std::string& b) {
  return fmt::format("({0} < {1} ? {0} : {1})", a, b);
}

// Whether a pool's taps are few and all inside X: then they are written out.
bool unroll_taps(const nn::Window& w) {
  for (size_t i = 0; i < w.rank(); ++i)
    if (!dim_always_inside(w, i)) return false;
  return numel_of(w.kernel) <= 16;
}

// Window pools: per output position, loops over the taps inside X (ranges
// computed per dim, literal where no position touches the padding), then
// one store(); MaxPool's Indices go to output 1.
Status window_pool_emit_c(CEmitContext& c, PoolKind kind) {
  const Dims xd = c.in_dims(0);
  nn::Window w;
  WEEC_TRY(pool_window(c, kind, xd, w));
  const DType t = c.output_dtype();
  const std::string T = c_type(t);
  const size_t r = w.rank();
  const int64_t in_n = numel_of(w.in), out_n = numel_of(w.out);
  if (xd[0] * xd[1] * out_n == 0) return Status::ok();
  const bool want_idx = kind == PoolKind::Max && c.node.outputs.size() > 1 && c.node.outputs[1];
  const bool col_major = kind == PoolKind::Max && c.attrs.i("storage_order") != 0;
  const bool include_pad = kind == PoolKind::Avg && c.attrs.i("count_include_pad") != 0;
  const int64_t p = kind == PoolKind::Lp ? c.attrs.i("p") : 1;
  Dims row_st = strides_of(w.in), col_st(r, 1);
  for (size_t i = 1; i < r; ++i) col_st[i] = col_st[i - 1] * w.in[i - 1];

  std::string n = c.var("n"), ch = c.var("c"), xp = c.var("xp");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, xd[0]);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", ch, xd[1]);
  c.w.line("const {}* {} = {} + ({} * {} + {}) * {};", T, xp, c.in(0), n, xd[1], ch, in_n);
  std::vector<std::string> o, st, lo, hi, count;
  for (size_t i = 0; i < r; ++i) {
    const int64_t K = w.kernel[i], D = w.dilations[i], IN = w.in[i];
    o.push_back(c.var("o"));
    st.push_back(c.var("st"));
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", o[i], w.out[i]);
    c.w.line("const int32_t {} = {} * {} - {};", st[i], o[i], w.strides[i], w.pad_begin[i]);
    if (dim_always_inside(w, i)) {
      lo.push_back("0");
      hi.push_back(fmt::format("{}", K));
      count.push_back(fmt::format("{}", K));
      continue;
    }
    // Taps k with 0 <= st + k * D <= IN - 1.
    lo.push_back(c.var("lo"));
    hi.push_back(c.var("hi"));
    c.w.line("const int32_t {0} = {1} >= 0 ? 0 : (-{1} + {2}) / {3};", lo[i], st[i], D - 1, D);
    c.w.line("const int32_t {} = {} > {} ? 0 : {};", hi[i], st[i], IN - 1,
             c_min(fmt::format("({} - {}) / {} + 1", IN - 1, st[i], D), fmt::format("{}", K)));
    if (include_pad) {
      // Taps inside the padded extent: st + k * D < IN + pad_end (st >= -pad_begin always).
      std::string e = fmt::format("({} - {})", IN + w.pad_end[i], st[i]);
      count.push_back(fmt::format("({} > 0 ? {} : 0)", e,
                                  c_min(fmt::format("({} + {}) / {}", e, D - 1, D), std::to_string(K))));
    } else {
      count.push_back(fmt::format("({0} > {1} ? {0} - {1} : 0)", hi[i], lo[i]));
    }
  }
  std::string acc = c.var("acc"), at = c.var("at");
  if (kind == PoolKind::Max)
    c.w.line("{} {} = {};", T, acc, is_float(t) ? c.infinity(t, true) : c_lowest(t));
  else
    c.w.line("{} {} = 0;", T, acc);
  if (want_idx) c.w.line("int64_t {} = -1;", at);
  std::vector<std::string> pos;
  auto offset = [&](const Dims& strides) {
    std::string e;
    for (size_t i = 0; i < r; ++i)
      e += (e.empty() ? "" : " + ") + (strides[i] == 1 ? pos[i] : fmt::format("{} * {}", pos[i], strides[i]));
    return e.empty() ? std::string("0") : e;
  };
  // One tap's value v into acc.
  auto accumulate = [&](const std::string& v) {
    if (kind == PoolKind::Max && want_idx) {
      // First non-NaN tap, then strictly greater values, as the kernel.
      std::string first = is_float(t) ? fmt::format("{0} == {0}", v) : "1";
      c.w.open("if ({0} < 0 ? {1} : {2} > {3}) {{", at, first, v, acc);
      c.w.line("{} = {};", acc, v);
      c.w.line("{} = {};", at, offset(col_major ? col_st : row_st));
      c.w.close();
    } else if (kind == PoolKind::Max) {
      c.w.line("{0} = {1} > {0} ? {1} : {0};", acc, v);
    } else if (kind == PoolKind::Avg || p == 1) {
      c.w.line("{} += {};", acc, kind == PoolKind::Avg ? v : fmt::format("{}({})", c.math("fabs", t), v));
    } else if (p == 2) {
      c.w.line("{0} += {1} * {1};", acc, v);
    } else {
      c.w.line("{} += {}({}({}), {});", acc, c.math("pow", t), c.math("fabs", t), v, c_literal((double)p, t));
    }
  };
  std::string v = c.var("v");
  if (kind == PoolKind::Max && !want_idx && unroll_taps(w)) {
    // Every tap inside X and few of them: written out, so the loop over the
    // last output dim has no inner loops and the C compiler vectorises it.
    for (int64_t k = 0; k < numel_of(w.kernel); ++k) {
      pos.assign(r, "");
      for (size_t i = r, rest = (size_t)k; i-- > 0; rest /= (size_t)w.kernel[i])  // tap k's index per dim
        pos[i] = fmt::format("({} + {})", st[i], (int64_t)(rest % (size_t)w.kernel[i]) * w.dilations[i]);
      c.w.line("const {} {}{} = {}[{}];", T, v, k, xp, offset(row_st));
      accumulate(v + std::to_string(k));
    }
  } else {
    for (size_t i = 0; i < r; ++i) {
      std::string k = c.var("k");
      c.w.open("for (int32_t {0} = {1}; {0} < {2}; ++{0}) {{", k, lo[i], hi[i]);
      pos.push_back(w.dilations[i] == 1 ? fmt::format("({} + {})", st[i], k)
                                        : fmt::format("({} + {} * {})", st[i], k, w.dilations[i]));
    }
    c.w.line("const {} {} = {}[{}];", T, v, xp, offset(row_st));
    accumulate(v);
    c.close_loops(r);
  }
  std::string value = acc;
  if (kind == PoolKind::Avg) {
    std::string cnt;
    for (auto& e : count) cnt += (cnt.empty() ? "" : " * ") + e;
    value = fmt::format("{} / ({})({})", acc, T, cnt.empty() ? "1" : cnt);
  } else if (kind == PoolKind::Lp && p == 2) {
    value = fmt::format("{}({})", c.math("sqrt", t), acc);
  } else if (kind == PoolKind::Lp && p != 1) {
    value = fmt::format("{}({}, {})", c.math("pow", t), acc, c_literal(1.0 / (double)p, t));
  }
  std::vector<std::string> idx = {n, ch};
  idx.insert(idx.end(), o.begin(), o.end());
  std::string flat =
      fmt::format("({} * {} + {}) * {} + {}", n, xd[1], ch, out_n, CEmitContext::flat_index(w.out, o));
  c.store(0, idx, value, flat);
  if (want_idx)
    c.store(1, idx,
            fmt::format("({} * {} + {}) * (int64_t){} + ({} < 0 ? 0 : {})", n, xd[1], ch, in_n, at, at),
            flat);
  c.close_loops(r + 2);
  return Status::ok();
}

// Global pools: one contiguous reduction per (n, c) plane.
Status global_emit_c(CEmitContext& c, PoolKind kind) {
  const Dims xd = c.in_dims(0);
  if (xd.size() < 2) return c.error("input must have rank >= 2");
  const DType t = c.output_dtype();
  const std::string T = c_type(t);
  const int64_t in_n = numel_of(Dims(xd.begin() + 2, xd.end())),
                p = kind == PoolKind::Lp ? c.attrs.i("p") : 1;
  if (xd[0] * xd[1] == 0) return Status::ok();
  std::string n = c.var("n"), ch = c.var("c"), i = c.var("i"), acc = c.var("acc"), xp = c.var("xp");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, xd[0]);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", ch, xd[1]);
  c.w.line("const {}* {} = {} + ({} * {} + {}) * {};", T, xp, c.in(0), n, xd[1], ch, in_n);
  c.w.line("{} {} = {};", T, acc, kind == PoolKind::Max ? c.infinity(t, true) : "0");
  std::string v = fmt::format("{}[{}]", xp, i), step;
  if (kind == PoolKind::Max)
    step = fmt::format("{0} = {1} > {0} ? {1} : {0};", acc, v);
  else if (kind == PoolKind::Avg)
    step = fmt::format("{} += {};", acc, v);
  else if (p == 2)
    step = fmt::format("{0} += {1} * {1};", acc, v);
  else if (p == 1)
    step = fmt::format("{} += {}({});", acc, c.math("fabs", t), v);
  else
    step = fmt::format("{} += {}({}({}), {});", acc, c.math("pow", t), c.math("fabs", t), v,
                       c_literal((double)p, t));
  c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}", i, in_n, step);
  std::string value = acc;
  if (kind == PoolKind::Avg)
    value = fmt::format("{} / {}", acc, c_literal((double)in_n, t));
  else if (kind == PoolKind::Lp && p == 2)
    value = fmt::format("{}({})", c.math("sqrt", t), acc);
  else if (kind == PoolKind::Lp && p != 1)
    value = fmt::format("{}({}, {})", c.math("pow", t), acc, c_literal(1.0 / (double)p, t));
  std::vector<std::string> idx = {n, ch};
  for (size_t d = 2; d < xd.size(); ++d) idx.push_back("0");
  c.store(0, idx, value, fmt::format("{} * {} + {}", n, xd[1], ch));
  c.close_loops(2);
  return Status::ok();
}

// MaxUnpool: zero Y, then scatter X to its indices (mapped from the default
// unpooled shape into output_shape's when they differ, as the kernel places
// that shape at Y's origin). Out-of-range indices, an error in the kernel,
// are skipped.
Status unpool_emit_c(CEmitContext& c) {
  const Dims xd = c.in_dims(0), yd = c.out_dims(0);
  Dims inferred;
  WEEC_TRY(unpool_dims(c, xd, inferred));
  if (inferred.size() != yd.size()) return c.error("output_shape {} has the wrong rank", dims_str(yd));
  for (size_t i = 0; i < yd.size(); ++i)
    if (yd[i] < inferred[i])
      return c.error("output_shape {} is smaller than {}", dims_str(yd), dims_str(inferred));
  if (c.in_count(1) != c.in_count(0)) return c.error("indices must have X's shape");
  std::string i = c.var("i"), at = c.var("at");
  c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = 0;", i, c.out_count(0), c.out(0));
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, c.in_count(0));
  c.w.line("const int64_t {} = {}[{}];", at, c.in(1), i);
  std::string dst = at;
  if (inferred != yd) {
    Dims ist = strides_of(inferred), ost = strides_of(yd);
    dst.clear();
    for (size_t d = 0; d < yd.size(); ++d)
      dst += fmt::format("{}{} / {} % {} * {}", dst.empty() ? "" : " + ", at, ist[d], inferred[d], ost[d]);
  }
  c.w.line("if ({0} >= 0 && {0} < {1}) {2}[{3}] = {4}[{5}];", at, numel_of(inferred), c.out(0), dst, c.in(0),
           i);
  c.w.close();
  return Status::ok();
}

// ---- gradients (ops/grad.h) ----
//  MaxPool: dY added at the argmax of each window (MaxPool again for its
//    Indices, then ScatterElements with reduction add: windows may overlap).
//  AveragePool: per plane, dY times a constant [out, in] matrix holding
//    1 / divisor at each output's taps (any pads, dilations, ceil_mode and
//    count_include_pad, as the kernel's plan).
//  GlobalAveragePool: dY / (spatial size), expanded.
constexpr int64_t kMaxAvgMatrix = 1 << 22;

Status pool_grad(GradContext& c) {
  Value *x = c.x(0), *dy = c.dy(0);
  const Dims xd = c.dims(x);
  const DType t = x->type.dtype;
  if (c.node.op == OpKind::GlobalAveragePool) {
    const double n = (double)(numel_of(xd) / std::max<int64_t>(xd[0] * xd[1], 1));
    c.set(0, c.op(OpKind::Expand, {c.op(OpKind::Div, {dy, c.scalar(n, t)}), c.ints(xd)}));
    return Status::ok();
  }
  if (c.node.op == OpKind::MaxPool) {
    AttrMap a = c.node.attrs;
    a["storage_order"] = Attribute::of_int(0);
    Value* idx = c.op_n(OpKind::MaxPool, {x}, 2, a)[1];
    Value* flat = c.op(OpKind::ScatterElements,
                       {c.full({numel_of(xd)}, 0, t), c.op(OpKind::Reshape, {idx, c.ints({-1})}),
                        c.op(OpKind::Reshape, {dy, c.ints({-1})})},
                       {{"axis", Attribute::of_int(0)}, {"reduction", Attribute::of_string("add")}});
    c.set(0, c.op(OpKind::Reshape, {flat, c.ints(xd)}));
    return Status::ok();
  }
  nn::Window w;
  WEEC_TRY(pool_window(c, PoolKind::Avg, xd, w));
  const int64_t in_n = numel_of(w.in), out_n = numel_of(w.out), planes = xd[0] * xd[1];
  if (in_n * out_n > kMaxAvgMatrix)
    return c.error("gradient: the pooling matrix would have {} x {} entries", out_n, in_n);
  const PoolPlan plan = plan_pool(w);
  const bool include_pad = c.attrs.i("count_include_pad") != 0;
  Tensor m(t, {out_n, in_n});
  for (int64_t o = 0; o < out_n; ++o) {
    const int64_t n = include_pad ? plan.padded_count[o] : plan.first[o + 1] - plan.first[o];
    for (int64_t k = plan.first[o]; k < plan.first[o + 1]; ++k)
      m.set_double(o * in_n + plan.taps[k].row, m.get_double(o * in_n + plan.taps[k].row) + 1.0 / (double)n);
  }
  Value* g =
      c.op(OpKind::MatMul, {c.op(OpKind::Reshape, {dy, c.ints({planes, out_n})}), c.constant(std::move(m))});
  c.set(0, c.op(OpKind::Reshape, {g, c.ints(xd)}));
  return Status::ok();
}

}  // namespace

const OpSchema& schema_MaxPool() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::MaxPool, "MaxPool"};
    m.max_outputs = 2;
    m.attrs = window_attrs();
    m.attrs.push_back(attr_int("ceil_mode", 0));
    m.attrs.push_back(attr_optional("dilations", Attribute::Kind::Ints));
    m.attrs.push_back(attr_int("storage_order", 0));
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = [](InferContext& c) { return pool_infer(c, PoolKind::Max); };
    m.kernel = [](KernelContext& c) { return pool_kernel(c, PoolKind::Max); };
    m.emit_c = [](CEmitContext& c) { return window_pool_emit_c(c, PoolKind::Max); };
    m.macs = window_macs;
    m.doc = "max over N-D windows; optional flattened argmax Indices";
    m.grad = pool_grad;
    return m;
  }();
  return s;
}

const OpSchema& schema_AveragePool() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::AveragePool, "AveragePool"};
    m.attrs = window_attrs();
    m.attrs.push_back(attr_int("ceil_mode", 0));
    m.attrs.push_back(attr_int("count_include_pad", 0));
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = [](InferContext& c) { return pool_infer(c, PoolKind::Avg); };
    m.kernel = [](KernelContext& c) { return pool_kernel(c, PoolKind::Avg); };
    m.emit_c = [](CEmitContext& c) { return window_pool_emit_c(c, PoolKind::Avg); };
    m.macs = window_macs;
    m.doc = "mean over N-D windows; padding counted only with count_include_pad";
    m.grad = pool_grad;
    return m;
  }();
  return s;
}

const OpSchema& schema_LpPool() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::LpPool, "LpPool"};
    m.attrs = window_attrs();
    m.attrs.push_back(attr_int("p", 2));
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = [](InferContext& c) { return pool_infer(c, PoolKind::Lp); };
    m.kernel = [](KernelContext& c) { return pool_kernel(c, PoolKind::Lp); };
    m.emit_c = [](CEmitContext& c) { return window_pool_emit_c(c, PoolKind::Lp); };
    m.macs = window_macs;
    m.import = [](ImportContext& c) { return import_float_p(c, OpKind::LpPool); };
    m.doc = "Lp norm over N-D windows";
    return m;
  }();
  return s;
}

#define WEEC_GLOBAL_POOL(Name, Kind, doc_text)                                       \
  const OpSchema& schema_##Name() {                                                  \
    static const OpSchema s = [] {                                                   \
      OpSchema m{OpKind::Name, #Name};                                               \
      m.fusion = FusionKind::OutElementwiseFusable;                                  \
      m.infer = global_infer;                                                        \
      m.kernel = [](KernelContext& c) { return global_kernel(c, PoolKind::Kind); };  \
      m.emit_c = [](CEmitContext& c) { return global_emit_c(c, PoolKind::Kind); };   \
      m.doc = doc_text;                                                              \
      if (PoolKind::Kind == PoolKind::Avg) m.grad = pool_grad;                       \
      if (PoolKind::Kind == PoolKind::Lp) {                                          \
        m.attrs = {attr_int("p", 2)};                                                \
        m.import = [](ImportContext& c) { return import_float_p(c, OpKind::Name); }; \
      }                                                                              \
      return m;                                                                      \
    }();                                                                             \
    return s;                                                                        \
  }
WEEC_GLOBAL_POOL(GlobalAveragePool, Avg, "mean over all spatial dims")
WEEC_GLOBAL_POOL(GlobalMaxPool, Max, "max over all spatial dims")
WEEC_GLOBAL_POOL(GlobalLpPool, Lp, "Lp norm over all spatial dims")
#undef WEEC_GLOBAL_POOL

const OpSchema& schema_MaxUnpool() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::MaxUnpool, "MaxUnpool"};
    m.since_opset = 9;
    m.min_inputs = 2;
    m.max_inputs = 3;
    m.attrs = window_attrs();
    m.attrs.erase(m.attrs.begin());  // no auto_pad
    m.infer = unpool_infer;
    m.kernel = unpool_kernel;
    m.emit_c = unpool_emit_c;
    m.doc = "scatters X to the flattened MaxPool indices, zeros elsewhere";
    return m;
  }();
  return s;
}

}  // namespace weec
