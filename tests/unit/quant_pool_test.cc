// QAveragePool and QGlobalAveragePool against naive references written
// here, the generated C against the interpreter, and a network of integer
// ops only whose generated C has no floating-point type.
#include <regex>

#include "ir/parser.h"
#include "ir/printer.h"
#include "quant_test_util.h"

namespace weec::qtest {
namespace {

DType out_dtype(const AttrMap& a) {
  for (DType t : {DType::I8, DType::U8, DType::I16})
    if (onnx_code(t) == a.at("out_dtype").i) return t;
  return DType::I8;
}

// Sum of (x - zp) over each window's taps inside X, any spatial rank.
Tensor avgpool_ref(const Tensor& x, int64_t zp, const Dims& k, const Dims& s, const Dims& pb, const Dims& pe,
                   const Rescale& r, DType out) {
  const size_t rank = k.size();
  Dims in(x.dims().begin() + 2, x.dims().end()), od;
  for (size_t d = 0; d < rank; ++d) od.push_back((in[d] + pb[d] + pe[d] - k[d]) / s[d] + 1);
  Dims yd = {x.dim(0), x.dim(1)};
  yd.insert(yd.end(), od.begin(), od.end());
  Tensor y(out, yd);
  const int64_t in_n = numel_of(in), out_n = numel_of(od), k_n = numel_of(k);
  for (int64_t plane = 0; plane < x.dim(0) * x.dim(1); ++plane)
    for (int64_t o = 0; o < out_n; ++o) {
      i128 acc = 0;
      for (int64_t t = 0; t < k_n; ++t) {
        int64_t at = 0, orem = o, trem = t;
        bool inside = true;
        for (size_t d = rank; d-- > 0;) {  // innermost dim first
          const int64_t oi = orem % od[d], ki = trem % k[d];
          orem /= od[d];
          trem /= k[d];
          const int64_t pos = oi * s[d] - pb[d] + ki;
          inside = inside && pos >= 0 && pos < in[d];
          at += pos * numel_of(Dims(in.begin() + d + 1, in.end()));
        }
        if (inside) acc += x.get_int(plane * in_n + at) - zp;
      }
      y.set_double(plane * out_n + o, (double)r.apply(acc));
    }
  return y;
}

TEST(QuantPool, QAveragePool) {
  QNet n(91);
  for (int i = 0; i < 40; ++i) {
    const size_t rank = i % 7 == 0 ? 3 : i % 3 == 0 ? 1 : 2;
    Dims k, s, pb(rank, 0), pe(rank, 0), xd = {n.uniform(1, 2), n.uniform(1, 4)};
    const bool padded = n.uniform(0, 1);
    for (size_t d = 0; d < rank; ++d) {
      k.push_back(n.uniform(1, 3));
      s.push_back(n.uniform(1, 3));
      if (padded) pb[d] = n.uniform(0, 2), pe[d] = n.uniform(0, 2);
      xd.push_back(std::max<int64_t>(1, k[d] - pb[d] - pe[d]) + n.uniform(0, rank == 3 ? 3 : 8));
    }
    DType xt = n.uniform(0, 1) ? DType::U8 : DType::I8;
    auto [lo, hi] = range_of(xt);
    const int64_t zp = n.uniform(lo, hi);
    AttrMap a = {{"kernel_shape", Attribute::of_ints(k)},
                 {"strides", Attribute::of_ints(s)},
                 {"x_zero_point", Attribute::of_int(zp)}};
    if (padded || n.uniform(0, 1)) a["count_include_pad"] = Attribute::of_int(1);
    if (padded) {
      Dims pads = pb;
      pads.insert(pads.end(), pe.begin(), pe.end());
      a["pads"] = Attribute::of_ints(pads);
    }
    Rescale r = n.rescale(a, 1, 1.0 / (double)numel_of(k));
    Tensor x = n.random(xt, xd);
    n.out(n.b.op(OpKind::QAveragePool, {n.in("x" + std::to_string(i), x)}, a),
          avgpool_ref(x, zp, k, s, pb, pe, r, out_dtype(a)));
  }
  expect_interp(n);
  expect_c_matches_interp(n);
}

TEST(QuantPool, QGlobalAveragePool) {
  QNet n(101);
  for (int i = 0; i < 12; ++i) {
    Dims xd = {n.uniform(1, 2), n.uniform(1, 6), n.uniform(1, 9)};
    if (i % 2) xd.push_back(n.uniform(1, 9));
    DType xt = i % 3 ? DType::U8 : DType::I8;
    auto [lo, hi] = range_of(xt);
    const int64_t zp = n.uniform(lo, hi), plane = numel_of(xd) / (xd[0] * xd[1]);
    AttrMap a = {{"x_zero_point", Attribute::of_int(zp)}};
    Rescale r = n.rescale(a, 1, 1.0 / (double)plane);
    Tensor x = n.random(xt, xd);
    Dims yd = xd;
    for (size_t d = 2; d < yd.size(); ++d) yd[d] = 1;
    Tensor want(out_dtype(a), yd);
    for (int64_t p = 0; p < xd[0] * xd[1]; ++p) {
      i128 acc = 0;
      for (int64_t j = 0; j < plane; ++j) acc += x.get_int(p * plane + j) - zp;
      want.set_double(p, (double)r.apply(acc));
    }
    n.out(n.b.op(OpKind::QGlobalAveragePool, {n.in("x" + std::to_string(i), x)}, a), want);
  }
  expect_interp(n);
  expect_c_matches_interp(n);
}

// A small network of integer ops only: its C has no float or double (type,
// literal or libm), and still matches the interpreter, built with gcc and
// clang; its text IR parses back to the same network.
TEST(QuantPool, IntegerNetworkHasNoFloatInC) {
  QNet n(111);
  auto rq = [](int32_t m0, int32_t shift, int64_t zp, int64_t dtype = 3) {
    return AttrMap{{"multiplier", Attribute::of_ints({m0})},
                   {"shift", Attribute::of_ints({shift})},
                   {"y_zero_point", Attribute::of_int(zp)},
                   {"out_dtype", Attribute::of_int(dtype)}};
  };
  AttrMap conv = rq(1 << 30, -8, -3);
  conv["pads"] = Attribute::of_ints({1, 1, 1, 1});
  conv["x_zero_point"] = Attribute::of_int(128);
  conv["multiplier"] = Attribute::of_ints({1 << 30, 1300000000, 1 << 30, 1800000000});
  conv["shift"] = Attribute::of_ints({-8, -8, -9, -7});
  conv["act_min"] = Attribute::of_int(-3);
  Value* x = n.in("image", n.random(DType::U8, {1, 2, 10, 10}));
  Value* c = n.b.op(
      OpKind::QConv,
      {x, n.cst("w", n.random(DType::I8, {4, 2, 3, 3})), n.cst("b", n.random(DType::I32, {4}, -900, 900))},
      conv);
  AttrMap pool = rq(1 << 30, -1, -3);
  pool["kernel_shape"] = Attribute::of_ints({2, 2});
  pool["strides"] = Attribute::of_ints({2, 2});
  pool["x_zero_point"] = Attribute::of_int(-3);
  Value* p = n.b.op(OpKind::QAveragePool, {c}, pool);
  std::vector<int64_t> table(256);
  for (int i = 0; i < 256; ++i) table[i] = (i * 37) % 256 - 128;
  Value* l = n.b.op(OpKind::QLookup, {p}, {{"table", Attribute::of_ints(table)}});
  AttrMap gemm = rq(1500000000, -9, 4);
  gemm["x_zero_point"] = Attribute::of_int(0);
  Value* fc = n.b.op(OpKind::QGemm, {l, n.cst("fw", n.random(DType::I8, {5, 5}))}, gemm);
  AttrMap add = rq(1 << 30, -19, 1);
  for (const char* k : {"a_multiplier", "b_multiplier"}) add[k] = Attribute::of_int(1 << 30);
  for (const char* k : {"a_shift", "b_shift"}) add[k] = Attribute::of_int(-1);
  Value* sum = n.b.op(OpKind::QAdd, {fc, l}, add);
  Value* prod = n.b.op(OpKind::QMul, {sum, fc}, rq(1 << 30, -6, 0));
  n.b.output(n.b.op(OpKind::QGlobalAveragePool, {n.b.op(OpKind::Requantize, {prod}, rq(1 << 30, 1, 7, 2))},
                    rq(1 << 30, -4, 0)));
  ASSERT_TRUE(n.b.status().is_ok()) << n.b.status().message();
  std::string code = expect_c_matches_interp(n);
  ASSERT_FALSE(code.empty());
  expect_c_matches_interp(n, nullptr, "clang");
  // The text IR round-trips the integer ops and their attributes.
  auto parsed = parse_graph(print_graph(n.g));
  ASSERT_TRUE(parsed.has_value()) << parsed.status().message();
  auto a = run_graph(n.g, ptrs(n.feeds)), b = run_graph(**parsed, ptrs(n.feeds));
  ASSERT_TRUE(a.has_value() && b.has_value());
  expect_identical((*b)[0], (*a)[0], "parsed graph");
  EXPECT_FALSE(std::regex_search(code, std::regex("\\b(float|double)\\b"))) << code;
  EXPECT_EQ(code.find("math.h"), std::string::npos);
}

}  // namespace
}  // namespace weec::qtest
