// QGemm, QAdd, QMul, Requantize and QLookup: the interpreter against naive
// references written here (int64 sums, the reference fixed-point of
// quant_test_util.h), then the generated C against the interpreter; and a
// graph of integer ops only compiles to C without a float or double.
#include <optional>
#include <regex>

#include "quant_test_util.h"

namespace weec::qtest {
namespace {

DType out_dtype(const AttrMap& a) {
  for (DType t : {DType::I8, DType::U8, DType::I16, DType::I32})
    if (onnx_code(t) == a.at("out_dtype").i) return t;
  return DType::I8;
}

// ---- QGemm ----

// `plain`: x_zero_point 0 and no B (nothing to fold into a bias);
// `per_channel` fixes the multipliers' kind.
void add_gemm(QNet& n, const Dims& xd, int64_t N, const std::string& tag, bool big_bias = false,
              bool plain = false, std::optional<bool> per_channel = std::nullopt) {
  const int64_t K = xd.back(), M = numel_of(xd) / K;
  DType xt = n.uniform(0, 1) ? DType::U8 : DType::I8;
  auto [lo, hi] = range_of(xt);
  const int64_t xzp = plain ? 0 : n.uniform(lo, hi);
  Tensor x = n.random(xt, xd), w = n.random(DType::I8, {N, K}), b = n.random(DType::I32, {N}, -30000, 30000);
  if (big_bias) b = n.random(DType::I32, {N}, INT32_MAX - 1000, INT32_MAX);
  const bool bias = !plain && (big_bias || n.uniform(0, 3) != 0), const_w = plain || n.uniform(0, 4) != 0;
  AttrMap a;
  const bool pc = per_channel ? *per_channel : n.uniform(0, 1) != 0;
  Rescale r = n.rescale(a, pc ? (size_t)N : 1, 64.0 / (std::sqrt((double)K) * 5500.0));
  a["x_zero_point"] = Attribute::of_int(xzp);
  Dims yd = xd;
  yd.back() = N;
  Tensor y(out_dtype(a), yd);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < N; ++j) {
      i128 acc = bias ? b.get_int(j) : 0;
      for (int64_t k = 0; k < K; ++k) acc += (i128)(x.get_int(m * K + k) - xzp) * w.get_int(j * K + k);
      y.set_double(m * N + j, (double)r.apply(acc, (size_t)j));
    }
  std::vector<Value*> ins = {n.in("x" + tag, x), const_w ? n.cst("w" + tag, w) : n.in("w" + tag, w)};
  if (bias) ins.push_back(n.cst("b" + tag, b));
  n.out(n.b.op(OpKind::QGemm, ins, a), y);
}

TEST(QuantOps, QGemm) {
  QNet n(51);
  for (int i = 0; i < 40; ++i) {
    Dims xd = {n.uniform(1, 4), n.uniform(1, 70)};
    if (i % 5 == 0) xd.insert(xd.begin(), 2);  // [B, M, K]
    add_gemm(n, xd, n.uniform(1, 20), std::to_string(i), i % 13 == 0);
  }
  add_gemm(n, {1, 784}, 32, "mlp");
  add_gemm(n, {2, 37}, 9, "plain_t", false, true, false);
  add_gemm(n, {1, 40}, 13, "plain_c", false, true, true);
  expect_interp(n);
  const std::string code = expect_c_both_paths_match(n);
  // The AVX2 forms were generated (they run where the CPU has AVX2).
  for (const char* f : {"weec_q8_gemv_avx2_s8(", "weec_q8_gemv_avx2_u8(", "weec_q8_rq_avx2(",
                        "weec_q8_rq_b_avx2(", "weec_q8_rq_m_avx2(", "weec_q8_rq_b_m_avx2("})
    EXPECT_NE(code.find(f), std::string::npos) << f;
}

// ---- broadcasting binary ops ----

// f(a, b) over the numpy broadcast of a and b (same rank here).
template <typename F>
Tensor broadcast_ref(const Tensor& a, const Tensor& b, DType out, F&& f) {
  Dims od(a.rank());
  for (int64_t d = 0; d < a.rank(); ++d) od[d] = std::max(a.dim(d), b.dim(d));
  Tensor y(out, od);
  Dims ost = strides_of(od), ast = strides_of(a.dims()), bst = strides_of(b.dims());
  for (int64_t o = 0; o < y.numel(); ++o) {
    int64_t ia = 0, ib = 0;
    for (int64_t d = 0; d < a.rank(); ++d) {
      int64_t i = o / ost[d] % od[d];
      ia += (a.dim(d) == 1 ? 0 : i) * ast[d];
      ib += (b.dim(d) == 1 ? 0 : i) * bst[d];
    }
    y.set_double(o, (double)f(a.get_int(ia), b.get_int(ib)));
  }
  return y;
}

std::pair<Dims, Dims> broadcast_pair(QNet& n) {
  Dims a = {n.uniform(1, 2), n.uniform(1, 5), n.uniform(1, 6)}, b = a;
  for (auto& d : (n.uniform(0, 1) ? a : b))
    if (n.uniform(0, 2) == 0) d = 1;
  return {a, b};
}

TEST(QuantOps, QAddAndQMul) {
  QNet n(61);
  for (int i = 0; i < 60; ++i) {
    auto [ad, bd] = broadcast_pair(n);
    const bool add = i % 2 == 0;
    DType at = n.uniform(0, 1) ? DType::U8 : DType::I8, bt = n.uniform(0, 3) ? DType::I8 : DType::U8;
    if (!add && i % 10 == 1) at = bt = DType::I16;  // 16-bit products with zero points near 0
    Tensor a = n.random(at, ad), b = n.random(bt, bd);
    auto [alo, ahi] = range_of(at);
    auto [blo, bhi] = range_of(bt);
    const int64_t az = at == DType::I16 ? n.uniform(-2, 2) : n.uniform(alo, ahi);
    const int64_t bz = bt == DType::I16 ? n.uniform(-2, 2) : n.uniform(blo, bhi);
    const double sa = std::exp2(n.uniform(-80, 0) / 10.0), sb = std::exp2(n.uniform(-80, 0) / 10.0);
    AttrMap attrs = {{"a_zero_point", Attribute::of_int(az)}, {"b_zero_point", Attribute::of_int(bz)}};
    Rescale r = n.rescale(attrs, 1, 1.0);
    const double sy = (add ? sa + sb : sa * sb * 128) * std::exp2(n.uniform(-10, 10) / 10.0);
    Tensor want;
    if (add) {  // TFLite's add with qadd_params' multipliers, applied by the reference arithmetic
      auto p = quant::qadd_params(sa, sb, sy);
      ASSERT_TRUE(p.has_value());
      attrs["a_multiplier"] = Attribute::of_int(p->a.m0);
      attrs["a_shift"] = Attribute::of_int(p->a.shift);
      attrs["b_multiplier"] = Attribute::of_int(p->b.m0);
      attrs["b_shift"] = Attribute::of_int(p->b.shift);
      attrs["multiplier"] = Attribute::of_ints({p->y.m0});
      attrs["shift"] = Attribute::of_ints({p->y.shift});
      r.m0 = {p->y.m0};
      r.shift = {p->y.shift};
      want = broadcast_ref(a, b, out_dtype(attrs), [&](int64_t x, int64_t y) {
        i128 s = (i128)ref_mbqm((int32_t)((x - az) * 1048576), p->a.m0, p->a.shift) +
                 ref_mbqm((int32_t)((y - bz) * 1048576), p->b.m0, p->b.shift);
        return r.apply(s);
      });
    } else {
      auto q = quant::quantize_multiplier(sa * sb / sy);
      attrs["multiplier"] = Attribute::of_ints({q->m0});
      attrs["shift"] = Attribute::of_ints({q->shift});
      r.m0 = {q->m0};
      r.shift = {q->shift};
      want = broadcast_ref(a, b, out_dtype(attrs),
                           [&](int64_t x, int64_t y) { return r.apply((i128)(x - az) * (y - bz)); });
    }
    std::string tag = std::to_string(i);
    Value* bv = n.uniform(0, 3) ? n.in("b" + tag, b) : n.cst("b" + tag, b);
    n.out(n.b.op(add ? OpKind::QAdd : OpKind::QMul, {n.in("a" + tag, a), bv}, attrs), want);
  }
  expect_interp(n);
  expect_c_matches_interp(n);
}

// ---- Requantize ----

TEST(QuantOps, Requantize) {
  QNet n(71);
  for (int i = 0; i < 24; ++i) {
    static const DType ins[] = {DType::I32, DType::I16, DType::U8, DType::I8, DType::U16};
    DType xt = ins[i % 5];
    auto [lo, hi] = xt == DType::U16 ? std::pair<int64_t, int64_t>{0, 65535} : range_of(xt);
    Dims xd = {2, n.uniform(1, 5), n.uniform(1, 7)};
    Tensor x = n.random(xt, xd, lo, hi);
    if (xt == DType::I32) {  // the extremes: x - x_zp leaves int32 and saturates
      x.set_double(0, INT32_MIN);
      x.set_double(1, INT32_MAX);
      for (int64_t k = 2; k < x.numel(); ++k) x.set_double(k, (double)n.uniform(-70000, 70000));
    }
    const int64_t xzp = xt == DType::I32 ? n.uniform(-100000, 100000) : n.uniform(lo, hi);
    AttrMap a = {{"x_zero_point", Attribute::of_int(xzp)}};
    Rescale r = n.rescale(a, 1, xt == DType::I32 ? 1e-3 : 0.5);
    std::string tag = std::to_string(i);
    std::vector<Value*> in = {n.in("x" + tag, x)};
    Tensor m0(DType::I32, {xd[1], 1}), sh(DType::I32, {xd[1], 1});
    const bool per_axis = i % 3 == 0;
    if (per_axis) {  // per-channel parameters as broadcast inputs [C, 1]
      a.erase("multiplier");
      a.erase("shift");
      for (int64_t c = 0; c < xd[1]; ++c) {
        auto [mm, ss] = n.multiplier(xt == DType::I32 ? 1e-3 : 0.5);
        m0.set_double(c, mm);
        sh.set_double(c, ss);
      }
      in.push_back(n.cst("m" + tag, m0));
      in.push_back(n.cst("s" + tag, sh));
    }
    Tensor want(out_dtype(a), xd);
    for (int64_t k = 0; k < x.numel(); ++k) {
      Rescale rk = r;
      if (per_axis) {
        rk.m0 = {(int32_t)m0.get_int(k / xd[2] % xd[1])};
        rk.shift = {(int32_t)sh.get_int(k / xd[2] % xd[1])};
      }
      want.set_double(k, (double)rk.apply((i128)x.get_int(k) - xzp));
    }
    n.out(n.b.op(OpKind::Requantize, in, a), want);
  }
  expect_interp(n);
  expect_c_matches_interp(n);
}

// ---- QLookup ----

TEST(QuantOps, QLookup) {
  QNet n(81);
  for (int i = 0; i < 6; ++i) {
    DType xt = i % 2 ? DType::U8 : DType::I8, out = i % 3 == 2 ? DType::I16 : DType::I8;
    auto [lo, hi] = range_of(out);
    std::vector<int64_t> table(256);
    for (auto& v : table) v = n.uniform(lo, hi);
    Tensor x = n.random(xt, {3, 37});
    Tensor want(out, x.dims());
    for (int64_t k = 0; k < x.numel(); ++k)
      want.set_double(k, (double)table[x.get_int(k) - range_of(xt).first]);
    AttrMap a = {{"table", Attribute::of_ints(table)}, {"out_dtype", Attribute::of_int(onnx_code(out))}};
    n.out(n.b.op(OpKind::QLookup, {n.in("x" + std::to_string(i), x)}, a), want);
  }
  expect_interp(n);
  expect_c_matches_interp(n);
}

// ---- errors ----

TEST(QuantOps, InferenceRefusesWhatCannotBeExact) {
  auto fails = [](OpKind op, std::vector<std::pair<DType, Dims>> ins, AttrMap a, const std::string& needle) {
    Graph g;
    Builder b(g, infer_node);
    std::vector<Value*> vs;
    for (auto& [t, d] : ins)
      vs.push_back(b.input("x" + std::to_string(vs.size()), TensorType{t, Shape::of(d)}));
    b.op(op, vs, a);
    ASSERT_FALSE(b.status().is_ok()) << needle;
    EXPECT_NE(b.status().message().find(needle), std::string::npos) << b.status().message();
  };
  AttrMap rq = {{"multiplier", Attribute::of_ints({1 << 30})}, {"shift", Attribute::of_ints({0})}};
  AttrMap add = rq;
  for (const char* k : {"a_multiplier", "b_multiplier"}) add[k] = Attribute::of_int(1 << 30);
  for (const char* k : {"a_shift", "b_shift"}) add[k] = Attribute::of_int(-1);
  fails(OpKind::QAdd, {{DType::I16, {4}}, {DType::I16, {4}}}, add, "left_shift 20 overflows");
  fails(OpKind::QMul, {{DType::U16, {4}}, {DType::I8, {4}}}, rq, "expected int8, uint8 or int16");
  AttrMap pool = rq;
  pool["kernel_shape"] = Attribute::of_ints({2, 2});
  pool["pads"] = Attribute::of_ints({1, 1, 0, 0});
  fails(OpKind::QAveragePool, {{DType::I8, {1, 2, 5, 5}}}, pool, "count_include_pad=1");
  AttrMap lut = {{"table", Attribute::of_ints(std::vector<int64_t>(255, 0))}};
  fails(OpKind::QLookup, {{DType::I8, {4}}}, lut, "256 entries");
  AttrMap bad = rq;
  bad["shift"] = Attribute::of_ints({31});
  fails(OpKind::Requantize, {{DType::I32, {4}}}, bad, "outside [-31, 30]");
  bad = rq;
  bad["multiplier"] = Attribute::of_ints({1 << 30, 1 << 30});
  bad["shift"] = Attribute::of_ints({0, 0});
  fails(OpKind::QGemm, {{DType::I8, {2, 3}}, {DType::I8, {3, 3}}}, bad, "expected 1 or 3");
  bad = rq;
  bad["act_min"] = Attribute::of_int(200);
  bad["act_max"] = Attribute::of_int(300);
  fails(OpKind::Requantize, {{DType::I32, {4}}}, bad, "leaves nothing");
}

}  // namespace
}  // namespace weec::qtest
