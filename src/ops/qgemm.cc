// QGemm (weec-internal): integer fully-connected layer of the int8 pipeline.
// X [..., K] int8/uint8 with zero point x_zero_point, W [N, K] int8 with
// zero point 0 (symmetric weights), optional B int32 [N]:
//   acc[m, n] = B[n] + sum_k (X[m, k] - x_zero_point) * W[n, k]
//   Y[m, n]   = clamp(y_zero_point + mbqm(acc, multiplier[n], shift[n]), act_min, act_max)
// (see qop_util.h; multiplier/shift have 1 or N entries). Y is X's leading
// dims plus [N], of dtype out_dtype. The C form folds the zero-point term
// into the bias at compile time when W and B are constants, so its inner
// loop is a plain int8 dot product. W stored as packed 4-bit weights
// (q4_weights.h) is read two per byte by the plain C loop only: the x86
// kernels read W in place as int8.
#include "ops/q4_weights.h"
#include "ops/qop_util.h"

namespace weec {

namespace {

struct QGemmShape {
  int64_t m = 0, n = 0, k = 0;
  Dims out;
};

Status check_dtypes(const NodeContext& ctx, DType x, DType w, const DType* b) {
  if (!qop::is_q8(x)) return ctx.error("X must be int8 or uint8, got {}", dtype_name(x));
  if (w != DType::I8) return ctx.error("W must be int8 (symmetric), got {}", dtype_name(w));
  if (b && *b != DType::I32) return ctx.error("B must be int32, got {}", dtype_name(*b));
  return Status::ok();
}

Status qgemm_infer(InferContext& ctx) {
  const TensorType &xt = ctx.input_type(0), &wt = ctx.input_type(1);
  DType bt = ctx.has_input(2) ? ctx.input_type(2).dtype : DType::I32;
  WEEC_TRY(check_dtypes(ctx, xt.dtype, wt.dtype, ctx.has_input(2) ? &bt : nullptr));
  WEEC_TRY(qop::read_zero_point(ctx, "x_zero_point", xt.dtype).status());
  Dim n = Dim::unknown();
  if (wt.shape.rank_known) {
    if (wt.shape.rank() != 2) return ctx.error("W must be [N, K], got {}", shape_str(wt.shape));
    n = wt.shape.dims[0];
    if (xt.shape.rank_known && xt.shape.rank() >= 1) {
      const Dim kx = xt.shape.dims.back(), kw = wt.shape.dims[1];
      if (kx.is_known() && kw.is_known() && kx.value != kw.value)
        return ctx.error("X has K = {} but W is {}", kx.value, shape_str(wt.shape));
    }
  }
  if (ctx.has_input(2)) {
    const Shape& bs = ctx.input_type(2).shape;
    if (bs.rank_known &&
        (bs.rank() != 1 || (n.is_known() && bs.dims[0].is_known() && bs.dims[0].value != n.value)))
      return ctx.error("B must be [N], got {}", shape_str(bs));
  }
  WEEC_ASSIGN_OR_RETURN(qop::Requant rq, qop::read_requant(ctx, n.is_known() ? n.value : -1));
  if (!xt.shape.rank_known) {
    ctx.outputs[0] = TensorType{rq.out, Shape::unknown_rank()};
    return Status::ok();
  }
  if (xt.shape.rank() < 1) return ctx.error("X must have rank >= 1");
  Shape s = xt.shape;
  s.dims.back() = n;
  ctx.outputs[0] = TensorType{rq.out, s};
  return Status::ok();
}

Expected<QGemmShape> qgemm_shape(const NodeContext& ctx, const Dims& x, const Dims& w, const Dims* b) {
  if (x.empty()) return ctx.error("X must have rank >= 1");
  if (w.size() != 2 || w[1] != x.back())
    return ctx.error("W {} does not match X {} (expected [N, {}])", dims_str(w), dims_str(x), x.back());
  if (b && (b->size() != 1 || (*b)[0] != w[0]))
    return ctx.error("B must be [{}], got {}", w[0], dims_str(*b));
  QGemmShape s;
  s.k = x.back();
  s.n = w[0];
  s.m = s.k ? numel_of(x) / s.k : numel_of(Dims(x.begin(), x.end() - 1));
  s.out = x;
  s.out.back() = s.n;
  return s;
}

Status qgemm_kernel(KernelContext& ctx) {
  const Tensor &x = ctx.input(0), &w = ctx.input(1);
  const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  DType bt = b ? b->dtype() : DType::I32;
  WEEC_TRY(check_dtypes(ctx, x.dtype(), w.dtype(), b ? &bt : nullptr));
  WEEC_ASSIGN_OR_RETURN(QGemmShape s, qgemm_shape(ctx, x.dims(), w.dims(), b ? &b->dims() : nullptr));
  WEEC_ASSIGN_OR_RETURN(int32_t xz, qop::read_zero_point(ctx, "x_zero_point", x.dtype()));
  WEEC_ASSIGN_OR_RETURN(qop::Requant rq, qop::read_requant(ctx, s.n));
  Tensor y(rq.out, s.out);
  const int8_t* wp = w.data<int8_t>();
  for (int64_t m = 0; m < s.m; ++m)
    for (int64_t n = 0; n < s.n; ++n) {
      int64_t acc = b ? b->data<int32_t>()[n] : 0;
      for (int64_t k = 0; k < s.k; ++k) acc += (x.get_int(m * s.k + k) - xz) * (int64_t)wp[n * s.k + k];
      y.set_double(m * s.n + n, rq.apply(acc, (size_t)n));
    }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

// Row-major multi-index of flat row `m` over `lead` dims, plus `last`.
std::vector<std::string> out_index(const Dims& lead, const std::string& m, const std::string& last) {
  std::vector<std::string> idx;
  const Dims st = strides_of(lead);
  for (size_t d = 0; d < lead.size(); ++d)
    idx.push_back(lead.size() == 1 ? m : fmt::format("({} / {} % {})", m, st[d], lead[d]));
  idx.push_back(last);
  return idx;
}

// Per row of X: acc[n] = sum_k X[m, k] * W[n, k] (the AVX2 kernel of
// q8_avx2_emit.cc where the CPU has it and W is folded, else plain C), then
// the rescale in place (vectorised likewise), then store() of the row.
Status qgemm_emit_c(CEmitContext& c) {
  const DType xt = c.input_dtype(0);
  const Dims xd = c.in_dims(0), wd = c.in_dims(1);
  Dims bd = c.has_input(2) ? c.in_dims(2) : Dims{};
  WEEC_ASSIGN_OR_RETURN(QGemmShape s, qgemm_shape(c, xd, wd, c.has_input(2) ? &bd : nullptr));
  WEEC_ASSIGN_OR_RETURN(int32_t xz, qop::read_zero_point(c, "x_zero_point", xt));
  WEEC_ASSIGN_OR_RETURN(qop::Requant rq, qop::read_requant(c, s.n));
  if (s.m * s.n == 0) return Status::ok();
  const Tensor* wc = c.input_constant(1);
  const Tensor* bc = c.input_constant(2);
  const qop::IntRange xr = qop::dtype_range(xt);
  const int64_t x_abs = std::max(-xr.lo, xr.hi);
  // Fold: acc = (B - x_zp * sum_k W) + sum_k X * W, exact in int64 at
  // compile time; int32 accumulation where |bias| + sum|W| * max|X| fits.
  const bool fold = wc && (!c.has_input(2) || bc);
  std::vector<int64_t> bias(s.n, 0);
  bool fits = true, any_bias = false;
  if (fold) {
    const int8_t* wp = wc->data<int8_t>();
    for (int64_t n = 0; n < s.n; ++n) {
      int64_t sum = 0, abs_sum = 0;
      for (int64_t k = 0; k < s.k; ++k) sum += wp[n * s.k + k], abs_sum += std::abs((int)wp[n * s.k + k]);
      bias[n] = (bc ? bc->data<int32_t>()[n] : 0) - (int64_t)xz * sum;
      fits = fits && std::abs(bias[n]) + abs_sum * x_abs <= INT32_MAX;
      any_bias = any_bias || bias[n] != 0;
    }
  } else {
    fits =
        (c.has_input(2) ? (int64_t)INT32_MAX + 1 : 0) + s.k * 128 * qop::max_abs_offset(xt, xz) <= INT32_MAX;
  }
  const DType acc_t = fits ? DType::I32 : DType::I64;
  const std::string A = c_type(acc_t), X = c_type(xt);
  const qop::RequantC rt = qop::declare_requant_tables(c, rq);
  std::string m = c.var("m"), n = c.var("n"), k = c.var("k"), xrow = c.var("xr"), wrow = c.var("wr"),
              sum = c.var("s"), cpu = c.var("simd");
  std::string bias_tab, bias_at = "0";
  if (fold && any_bias) bias_tab = qop::static_table(c, "bias", acc_t, bias);
  if (!bias_tab.empty()) bias_at = bias_tab + "[" + n + "]";
  if (!fold && c.has_input(2)) bias_at = fmt::format("{}[{}]", c.in(2), n);
  const std::string acc = c.scratch(acc_t, (s.n + 8) / 8 * 8, "acc");  // the vector rescale's last vector
  const bool q4 = c.packed_int4(1);
  const bool simd = fold && fits && !q4, simd_rq = simd && qop::requant_simd_ok(rq);
  std::string gemv, rqf, right_tab, m0_tab, bias_lanes, vgemv, corr = "(const int32_t*)0",
                                                               vnni = c.var("vnni");
  if (simd) {
    gemv = qop::avx2_gemv(c, xt);
    // AVX-512 VNNI reads int8 X as x + 128: corr[n] = -128 * sum_k W[n, k].
    vgemv = qop::vnni_gemv(c, xt);
    if (xt == DType::I8) {
      std::vector<int32_t> cv(s.n);
      const int8_t* wp = wc->data<int8_t>();
      for (int64_t j = 0; j < s.n; ++j) {
        int32_t sum = 0;
        for (int64_t q = 0; q < s.k; ++q) sum += wp[j * s.k + q];
        cv[j] = (int32_t)((uint32_t)sum * 0xffffff80u);  // wraps like the kernel's sums
      }
      corr = qop::avx2_table(c, "corr", cv, true);
    }
    if (simd_rq) rqf = qop::avx2_requant(c, !bias_tab.empty(), rq.per_channel());
    if (simd_rq && rq.per_channel()) {  // the AVX2 code's own copies, padded to whole vectors
      std::vector<int32_t> right;
      for (int32_t sh : rq.shift) right.push_back(-sh);
      right_tab = qop::avx2_table(c, "right", right);
      m0_tab = qop::avx2_table(c, "m0", rq.m0);
    }
    if (simd_rq && !bias_tab.empty())
      bias_lanes = qop::avx2_table(c, "bias", std::vector<int32_t>(bias.begin(), bias.end()));
    c.w.line("#if defined(WEEC_SIMD_AVX2)");
    c.w.line("const int {} = weec_cpu_avx2_fma();", cpu);
    c.w.line("#endif");
    c.w.line("#if defined(WEEC_SIMD_VNNI)");
    c.w.line("const int {} = weec_cpu_avx512vnni();", vnni);
    c.w.line("#endif");
  }
  auto simd_else = [&](const std::string& call) {
    c.w.line("#if defined(WEEC_SIMD_AVX2)");
    c.w.line("if ({}) {}; else", cpu, call);
    c.w.line("#endif");
  };
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", m, s.m);
  c.w.line("const {}* {} = {} + {} * {};", X, xrow, c.in(0), m, s.k);
  if (simd) {
    c.w.line("#if defined(WEEC_SIMD_VNNI)");
    c.w.line("if ({}) {}({}, {}, {}, {}, {}, {}); else", vnni, vgemv, s.n, s.k, xrow, c.in(1), corr, acc);
    c.w.line("#endif");
    simd_else(fmt::format("{}({}, {}, {}, {}, {})", gemv, s.n, s.k, xrow, c.in(1), acc));
  }
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, s.n);
  if (q4) {
    c.w.line("{} {} = 0;", A, sum);
    const std::string xv =
        fold ? fmt::format("({}){}[{{}}]", A, xrow) : fmt::format("(({}){}[{{}}] - {})", A, xrow, xz);
    qop::emit_q4_dot(c, sum, c.in(1), n, s.k, xv);
  } else {
    c.w.line("const int8_t* {} = {} + {} * {};", wrow, c.in(1), n, s.k);
    c.w.line("{} {} = 0;", A, sum);
    const std::string xv =
        fold ? fmt::format("({}){}[{}]", A, xrow, k) : fmt::format("(({}){}[{}] - {})", A, xrow, k, xz);
    c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2} += {3} * {4}[{0}];", k, s.k, sum, xv, wrow);
  }
  c.w.line("{}[{}] = {};", acc, n, sum);
  c.w.close();
  if (simd_rq) {
    const qop::RqBounds bd = qop::rq_bounds(rq);
    const std::string m0 = rq.per_channel() ? m0_tab : qop::lit32(rq.m0[0]);
    const std::string right = rq.per_channel() ? right_tab : qop::lit32(-rq.shift[0]);
    simd_else(fmt::format("{}({}, {}, {}, {}, {}, {}, {}, {})", rqf, acc, s.n,
                          bias_tab.empty() ? "0" : bias_lanes, m0, right, qop::lit32(bd.lo),
                          qop::lit32(bd.hi), qop::lit32(rq.zp)));
  }
  const std::string total = fmt::format("({}){}[{}] + {}", A, acc, n, bias_at);
  const std::string a32 = fits ? total : fmt::format("{}({})", qop::sat32_c(c), total);
  c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = {3};", n, s.n, acc,
           qop::requant_c(c, rq, a32, rt.m0(rq, n), rt.shift(rq, n)));
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, s.n);
  c.store(0, out_index(Dims(s.out.begin(), s.out.end() - 1), m, n),
          fmt::format("({}){}[{}]", c_type(rq.out), acc, n), fmt::format("{} * {} + {}", m, s.n, n));
  c.w.close();
  c.w.close();
  return Status::ok();
}

}  // namespace

const OpSchema& schema_QGemm() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::QGemm, ""};
    m.min_inputs = 2;
    m.max_inputs = 3;
    m.attrs = qop::requant_attrs();
    m.attrs.push_back(attr_int("x_zero_point", 0));
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = qgemm_infer;
    m.kernel = qgemm_kernel;
    m.macs = [](const Node& n) -> int64_t {
      const Shape& y = n.outputs[0]->type.shape;
      const Shape& w = n.inputs[1]->type.shape;
      if (!y.is_static() || !w.is_static() || w.rank() != 2) return 0;
      return numel_of(y.static_dims()) * w.dims[1].value;
    };
    m.emit_c = qgemm_emit_c;
    m.doc = "int8 fully-connected: y = clamp(y_zp + mbqm(B + sum (x - x_zp) * W^T)) (weec-internal)";
    return m;
  }();
  return s;
}

}  // namespace weec
