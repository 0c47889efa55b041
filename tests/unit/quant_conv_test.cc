// QConv: the interpreter against a naive convolution written here (int64
// sums, the reference fixed-point of quant_test_util.h) on random shapes and
// attributes (1-D/2-D, groups and depthwise, strides, dilations, asymmetric
// pads, int8/uint8 X, per-tensor/per-channel multipliers, activation
// clamps, int8/uint8/int16 outputs), then the generated C against the
// interpreter on graphs of many such convolutions, which together take
// every path of qconv_emit.cc (im2col blocks and tails, 1x1 direct, flat
// depthwise, unfolded zero point for non-constant W, int64 accumulation).
#include <iostream>

#include "quant_test_util.h"

namespace weec::qtest {
namespace {

struct ConvCase {
  bool one_d = false;
  int64_t N = 1, C = 1, M = 1, group = 1, H = 1, W = 1, KH = 1, KW = 1, SH = 1, SW = 1, DH = 1, DW = 1;
  int64_t PT = 0, PL = 0, PB = 0, PR = 0;
  DType xt = DType::I8;
  int64_t xzp = 0;
  bool bias = true, const_w = true, per_channel = true, big_bias = false;
  double scale = 1;  // times the usual multiplier
  std::optional<DType> out;
  std::optional<int64_t> y_zp;
  int64_t OH() const { return (H + PT + PB - (KH - 1) * DH - 1) / SH + 1; }
  int64_t OW() const { return (W + PL + PR - (KW - 1) * DW - 1) / SW + 1; }
  Dims x_dims() const { return one_d ? Dims{N, C, W} : Dims{N, C, H, W}; }
  Dims w_dims() const { return one_d ? Dims{M, C / group, KW} : Dims{M, C / group, KH, KW}; }
  Dims y_dims() const { return one_d ? Dims{N, M, OW()} : Dims{N, M, OH(), OW()}; }
};

ConvCase random_case(QNet& n) {
  ConvCase c;
  auto u = [&](int64_t lo, int64_t hi) { return n.uniform(lo, hi); };
  c.one_d = u(0, 3) == 0;
  const int64_t kind = u(0, 3);  // 0: dense, 1: grouped, 2: depthwise, 3: depthwise with multiplier
  c.group = kind == 0 ? 1 : kind == 1 ? u(2, 3) : u(2, 5);
  c.C = kind >= 2 ? c.group : c.group * u(1, 4);
  c.M = kind == 2 ? c.group : c.group * u(1, 5);
  c.N = u(1, 2);
  c.KW = u(1, 4);
  c.SW = u(1, 3);
  c.DW = u(1, 2);
  c.PL = u(0, 2);
  c.PR = u(0, 2);
  c.W = std::max<int64_t>((c.KW - 1) * c.DW + 1 - c.PL - c.PR, 1) + u(0, 9);
  if (!c.one_d) {
    c.KH = u(1, 4);
    c.SH = u(1, 2);
    c.DH = u(1, 2);
    c.PT = u(0, 2);
    c.PB = u(0, 1);
    c.H = std::max<int64_t>((c.KH - 1) * c.DH + 1 - c.PT - c.PB, 1) + u(0, 7);
  }
  if (kind >= 2 && u(0, 1) == 0) c.SH = c.SW = 1;  // the flat depthwise path
  c.xt = u(0, 1) ? DType::U8 : DType::I8;
  auto [lo, hi] = range_of(c.xt);
  c.xzp = u(0, 3) == 0 ? (c.xt == DType::U8 ? 128 : 0) : u(lo, hi);
  c.bias = u(0, 3) != 0;
  c.const_w = u(0, 4) != 0;
  c.per_channel = u(0, 2) != 0;
  return c;
}

Tensor reference(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor* b, const Rescale& r,
                 DType out) {
  Tensor y(out, c.y_dims());
  const int64_t cg = c.C / c.group, mg = c.M / c.group, OH = c.OH(), OW = c.OW();
  int64_t at = 0;
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          i128 acc = b ? b->get_int(m) : 0;
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t kh = 0; kh < c.KH; ++kh)
              for (int64_t kw = 0; kw < c.KW; ++kw) {
                const int64_t ih = oh * c.SH + kh * c.DH - c.PT, iw = ow * c.SW + kw * c.DW - c.PL;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;  // padding adds 0
                const int64_t xc = m / mg * cg + ic;
                const int64_t xv = x.get_int(((n * c.C + xc) * c.H + ih) * c.W + iw);
                const int64_t wv = w.get_int(((m * cg + ic) * c.KH + kh) * c.KW + kw);
                acc += (i128)(xv - c.xzp) * wv;
              }
          y.set_double(at++, (double)r.apply(acc, (size_t)m));
        }
  return y;
}

// Adds one QConv of case `c` (inputs named with `tag`) and its expected output.
void add_conv(QNet& n, const ConvCase& c, const std::string& tag) {
  Tensor x = n.random(c.xt, c.x_dims()), w = n.random(DType::I8, c.w_dims());
  Tensor b(DType::I32, {c.M});
  for (int64_t i = 0; i < c.M; ++i) b.set_double(i, (double)n.uniform(-20000, 20000));
  if (c.big_bias)  // |acc| beyond int32: the C code must accumulate in int64 and saturate
    for (int64_t i = 0; i < c.M; ++i) b.set_double(i, i % 2 ? 2147480000.0 : -2147480000.0);
  AttrMap a;
  const int64_t K = c.C / c.group * c.KH * c.KW;
  Rescale r = n.rescale(a, c.per_channel ? (size_t)c.M : 1, c.scale * 64.0 / (std::sqrt((double)K) * 5500.0),
                        c.out, c.y_zp);
  a["group"] = Attribute::of_int(c.group);
  a["x_zero_point"] = Attribute::of_int(c.xzp);
  if (c.one_d) {
    a["pads"] = Attribute::of_ints({c.PL, c.PR});
    a["strides"] = Attribute::of_ints({c.SW});
    a["dilations"] = Attribute::of_ints({c.DW});
  } else {
    a["pads"] = Attribute::of_ints({c.PT, c.PL, c.PB, c.PR});
    a["strides"] = Attribute::of_ints({c.SH, c.SW});
    a["dilations"] = Attribute::of_ints({c.DH, c.DW});
    a["kernel_shape"] = Attribute::of_ints({c.KH, c.KW});
  }
  std::vector<Value*> ins = {n.in("x" + tag, x), c.const_w ? n.cst("w" + tag, w) : n.in("w" + tag, w)};
  if (c.bias) ins.push_back(n.cst("b" + tag, b));
  DType out = DType::I8;
  for (DType t : {DType::I8, DType::U8, DType::I16})
    if (onnx_code(t) == a["out_dtype"].i) out = t;
  n.out(n.b.op(OpKind::QConv, ins, a), reference(c, x, w, c.bias ? &b : nullptr, r, out));
}

TEST(QuantConv, InterpreterMatchesNaiveReference) {
  QNet n(11);
  for (int i = 0; i < 300; ++i) {
    ConvCase c = random_case(n);
    if (i % 25 == 0) c.big_bias = c.bias = true;
    add_conv(n, c, std::to_string(i));
  }
  expect_interp(n);
}

TEST(QuantConv, GeneratedCMatchesInterpreter) {
  for (uint32_t seed : {21u, 22u, 23u}) {
    QNet n(seed);
    for (int i = 0; i < 30; ++i) {
      ConvCase c = random_case(n);
      if (i == 0) c.big_bias = c.bias = true;
      add_conv(n, c, std::to_string(i));
    }
    expect_interp(n);
    expect_c_both_paths_match(n);
  }
}

// Shapes the random cases rarely hit: a 1x1 conv read in place, several
// im2col row blocks with a tail, a wide depthwise with taps looped (KW > 8),
// and a non-constant W (zero point not folded).
TEST(QuantConv, GeneratedCSpecialShapes) {
  QNet n(31);
  ConvCase pw;
  pw.C = 8, pw.M = 9, pw.H = 5, pw.W = 7, pw.xt = DType::U8, pw.xzp = 131;
  add_conv(n, pw, "pw");
  ConvCase big;
  big.C = 3, big.M = 6, big.H = 40, big.W = 33, big.KH = big.KW = 3, big.PT = big.PL = big.PB = big.PR = 1;
  big.xzp = -7;
  add_conv(n, big, "big");
  ConvCase dw;
  dw.C = dw.M = dw.group = 4, dw.H = 6, dw.W = 14, dw.KH = 2, dw.KW = 10, dw.PL = 3, dw.PR = 2, dw.xzp = 5;
  add_conv(n, dw, "dw");
  ConvCase var = big;
  var.const_w = false;
  var.H = 9;
  add_conv(n, var, "var");
  expect_interp(n);
  expect_c_both_paths_match(n);
}

// One conv per form of qconv_emit.cc and q8_avx2_*: a 1x1 read in place
// (odd K, every row tile 6/4/1, int8 and uint8 X), depthwise and
// single-channel convs on int16 planes (rows of w <= 8, 8 < w < 16, w >= 16,
// gaps over 8 columns, a channel multiplier, 1-D), strided im2col and a
// grouped padded conv in several row blocks; multipliers with a left shift
// (plain C rescale) and an int16 output whose zero point forbids the
// rounding-add rescale. Plain C and AVX2 against the interpreter.
TEST(QuantConv, GeneratedCKernelForms) {
  QNet n(51);
  std::vector<ConvCase> cases;
  auto add = [&](ConvCase c) { cases.push_back(c); };
  ConvCase pw;
  pw.C = 13, pw.M = 17, pw.H = 5, pw.W = 9, pw.xzp = -9;
  add(pw);
  pw.xt = DType::U8, pw.xzp = 140, pw.M = 8, pw.per_channel = false;
  add(pw);
  ConvCase dw;
  dw.C = dw.M = dw.group = 6, dw.H = 25, dw.W = 5, dw.KH = dw.KW = 3, dw.PT = dw.PL = dw.PB = dw.PR = 1;
  add(dw);
  dw.M = 12, dw.xt = DType::U8, dw.xzp = 100, dw.W = 12;  // multiplier 2; 8 < w < 16
  add(dw);
  ConvCase one;
  one.H = one.W = 28, one.M = 6, one.KH = one.KW = 5, one.PT = one.PL = one.PB = one.PR = 2;  // w >= 16
  add(one);
  one.H = 7, one.W = 12, one.KH = 1, one.KW = 11, one.PT = one.PB = 0, one.PL = one.PR = 5;  // gap of 10
  add(one);
  one.W = 9, one.KW = 3, one.PL = one.PR = 1, one.DH = 2, one.KH = 2, one.H = 12;  // dilated rows
  add(one);
  ConvCase d1;
  d1.one_d = true, d1.C = d1.M = d1.group = 4, d1.W = 40, d1.KW = 3, d1.PL = d1.PR = 1;
  add(d1);
  ConvCase st;
  st.C = 3, st.M = 7, st.H = st.W = 40, st.KH = st.KW = 3, st.SH = st.SW = 2,
  st.PT = st.PL = st.PB = st.PR = 1;
  add(st);
  ConvCase grp;
  grp.C = 6, grp.M = 8, grp.group = 2, grp.H = grp.W = 30, grp.KH = grp.KW = 3, grp.PT = grp.PL = 1,
  grp.PB = grp.PR = 1;
  add(grp);
  ConvCase left = pw;
  left.scale = 40000, left.out = DType::I16;  // multipliers >= 1: shift > 0
  add(left);
  ConvCase exact = pw;
  exact.scale = 1e-7, exact.out = DType::I16, exact.y_zp = 300;  // |zp| * 2^right > INT32_MAX
  add(exact);
  for (size_t i = 0; i < cases.size(); ++i) add_conv(n, cases[i], "k" + std::to_string(i));
  expect_interp(n);
  const std::string code = expect_c_both_paths_match(n);
  for (const char* f :
       {"weec_q8_gemm_avx2_s8(", "weec_q8_gemm_avx2_u8(", "weec_q8_gemm_avx2_p16(", "weec_q8_finish_avx2(",
        "weec_q8_finisha_avx2(", "weec_q8_widen_s8_avx2(", "weec_q8_widen_u8_avx2("})
    EXPECT_NE(code.find(f), std::string::npos) << f;
  if (!cpu_has_avx2()) std::cout << "note: no AVX2 here; the AVX2 kernels were compiled, not run\n";
}

// The AVX-512 VBMI depthwise kernel (q8_depthwise_emit.cc) over random
// shapes: strides, dilations, asymmetric pads, kernels up to 5x5, 1-D,
// int8 and uint8 X with any zero point, per-tensor and per-channel
// multipliers, tails of 1-15 outputs, planes whose windows end past X, and
// shapes too wide for one 64-byte window (those keep the GEMM forms). Run
// where the CPU has VBMI; elsewhere compiled, and the other forms checked.
TEST(QuantConv, GeneratedCVbmiDepthwise) {
  QNet n(61);
  auto u = [&](int64_t lo, int64_t hi) { return n.uniform(lo, hi); };
  for (int i = 0; i < 40; ++i) {
    ConvCase c;
    c.one_d = u(0, 4) == 0;
    c.C = c.M = c.group = u(1, 6);
    c.N = u(1, 2);
    c.KW = u(1, 5), c.SW = u(1, 3), c.DW = u(1, 3), c.PL = u(0, 3), c.PR = u(0, 3);
    c.W = std::max<int64_t>((c.KW - 1) * c.DW + 1 - c.PL - c.PR, 1) + u(0, 20);
    if (!c.one_d) {
      c.KH = u(1, 5), c.SH = u(1, 3), c.DH = u(1, 2), c.PT = u(0, 3), c.PB = u(0, 3);
      c.H = std::max<int64_t>((c.KH - 1) * c.DH + 1 - c.PT - c.PB, 1) + u(0, 12);
    }
    if (u(0, 2) == 0) c.SH = c.SW = 1;
    c.xt = u(0, 1) ? DType::U8 : DType::I8;
    auto [lo, hi] = range_of(c.xt);
    c.xzp = u(lo, hi);
    c.bias = u(0, 3) != 0;
    c.per_channel = u(0, 2) != 0;
    c.out = u(0, 1) ? DType::U8 : DType::I8;
    add_conv(n, c, std::to_string(i));
  }
  expect_interp(n);
  const std::string code = expect_c_both_paths_match(n);
  int kernels = 0;
  for (size_t at = 0; (at = code.find("WEEC_Q8_VBMI void weec_q8v_dw_", at)) != std::string::npos; ++at)
    ++kernels;
  EXPECT_GE(kernels, 20);  // most shapes fit a window
  EXPECT_LT(kernels, 40);  // some do not
  if (!cpu_has_vbmi())
    std::cout << "note: no AVX-512 VBMI here; the depthwise kernel was compiled, not run\n";
}

// QConv (dense, and depthwise: the VBMI kernel does not take a fused
// node) followed by a residual QAdd and a Requantize: the fuse pass makes
// them the conv's epilogue, applied in store().
TEST(QuantConv, FusedEpilogue) {
  for (int64_t group : {1, 4}) {
    QNet n(41);
    AttrMap conv = {{"pads", Attribute::of_ints({1, 1, 1, 1})},
                    {"x_zero_point", Attribute::of_int(3)},
                    {"group", Attribute::of_int(group)},
                    {"multiplier", Attribute::of_ints({1 << 30, 1500000000, 1 << 30, 1999999999})},
                    {"shift", Attribute::of_ints({-8, -9, -7, -8})},
                    {"y_zero_point", Attribute::of_int(-2)}};
    const int64_t c_in = group == 1 ? 3 : 4;
    Value* y = n.b.op(OpKind::QConv,
                      {n.in("x", n.random(DType::I8, {1, c_in, 6, 5})),
                       n.cst("w", n.random(DType::I8, {4, c_in / group, 3, 3})),
                       n.cst("b", n.random(DType::I32, {4}, -3000, 3000))},
                      conv);
    AttrMap add = {{"a_multiplier", Attribute::of_int(1 << 30)},  {"a_shift", Attribute::of_int(0)},
                   {"b_multiplier", Attribute::of_int(1 << 30)},  {"b_shift", Attribute::of_int(-1)},
                   {"multiplier", Attribute::of_ints({1 << 30})}, {"shift", Attribute::of_ints({-18})},
                   {"a_zero_point", Attribute::of_int(-2)},       {"b_zero_point", Attribute::of_int(9)}};
    Value* s = n.b.op(OpKind::QAdd, {y, n.in("r", n.random(DType::I8, {1, 4, 6, 5}))}, add);
    AttrMap rq = {{"multiplier", Attribute::of_ints({1 << 30})},
                  {"shift", Attribute::of_ints({1})},
                  {"out_dtype", Attribute::of_int(2)},
                  {"y_zero_point", Attribute::of_int(100)}};
    n.b.output(n.b.op(OpKind::Requantize, {s}, rq));
    int fused = 0;
    expect_c_matches_interp(n, &fused);
    EXPECT_EQ(fused, 1) << "group " << group;
    if (cpu_has_vnni()) expect_c_matches_interp(n, nullptr, "cc", {"-DWEEC_NO_AVX512"});
    expect_c_matches_interp(n, nullptr, "cc", {"-DWEEC_NO_SIMD"});
  }
}

}  // namespace
}  // namespace weec::qtest
