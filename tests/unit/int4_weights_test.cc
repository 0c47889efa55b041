// 4-bit weights stored packed in the generated C (ops/q4_weights.h): the
// byte layout, which constants qualify, float models quantised with
// weight_bits = 4 (a Gemm/MatMul MLP and a conv net with dense, depthwise,
// strided and grouped convs, odd weight counts) compiled with gcc and clang
// and checked bit for bit against the interpreter, the weight bytes against
// the same model's 8-bit build (which stays unpacked), and integer QGemm /
// QConv graphs with 4-bit weights on every form of their C (plain loops,
// x86 kernels, fused epilogues, int64 accumulators).
#include <regex>

#include "codegen/c/c_weights.h"
#include "ops/q4_weights.h"
#include "quant_test_util.h"

namespace weec::qtest {
namespace {

// Element i of the documented layout, decoded here independently.
int decode(const std::vector<int>& bytes, int64_t i) {
  const int nib = i % 2 ? bytes[i / 2] >> 4 : bytes[i / 2] & 15;
  return nib >= 8 ? nib - 16 : nib;
}

Tensor i8(const std::vector<int>& v) {
  Tensor t(DType::I8, {(int64_t)v.size()});
  for (size_t i = 0; i < v.size(); ++i) t.data<int8_t>()[i] = (int8_t)v[i];
  return t;
}

TEST(Int4Weights, PackedLayout) {
  const std::vector<int> v = {-8, -1, 0, 7, 3, -5, 1};  // odd: the last byte's high nibble unused
  const std::vector<uint8_t> got = qop::pack_int4(i8(v));
  EXPECT_EQ(got, (std::vector<uint8_t>{0xf8, 0x70, 0xb3, 0x01}));
  const std::vector<int> bytes(got.begin(), got.end());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(decode(bytes, (int64_t)i), v[i]) << i;
}

TEST(Int4Weights, ValueRangeDecides) {
  EXPECT_TRUE(qop::int4_range(i8({-8, 7, 0})));
  EXPECT_FALSE(qop::int4_range(i8({-8, 8})));
  EXPECT_FALSE(qop::int4_range(i8({-9, 0})));
  EXPECT_FALSE(qop::int4_range(i8({-127, 127})));  // what int8 quantisation gives
  EXPECT_FALSE(qop::int4_range(Tensor(DType::I8, {0})));
  EXPECT_FALSE(qop::int4_range(Tensor(DType::U8, {2})));
  EXPECT_TRUE(qop::reads_int4_weights(OpKind::QGemm, 1));
  EXPECT_TRUE(qop::reads_int4_weights(OpKind::QConv, 1));
  EXPECT_FALSE(qop::reads_int4_weights(OpKind::QConv, 0));
  EXPECT_FALSE(qop::reads_int4_weights(OpKind::QAdd, 1));
}

// ---- float models through quantize and lower-qdq ----

Tensor random_f32(const Dims& d, std::mt19937& rng, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t(DType::F32, d);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// x[3, 21] -> Gemm (W^T, 13 x 21: rows of odd length, 273 weights) -> Relu
// -> MatMul [13, 6] + bias -> Relu -> Gemm [6, 5] (rows of even length).
std::unique_ptr<Graph> mlp(std::mt19937& rng) {
  auto g = std::make_unique<Graph>();
  Builder b(*g, infer_node);
  Value* x = b.input("x", TensorType{DType::F32, Shape::of({3, 21})});
  Value* h = b.op(OpKind::Gemm,
                  {x, b.constant("w1", random_f32({13, 21}, rng)), b.constant("b1", random_f32({13}, rng))},
                  {{"transB", Attribute::of_int(1)}}, "fc1");
  h = b.op(OpKind::Relu, {h});
  h = b.op(OpKind::MatMul, {h, b.constant("w2", random_f32({13, 6}, rng))}, {}, "fc2");
  h = b.op(OpKind::Relu, {b.op(OpKind::Add, {h, b.constant("b2", random_f32({6}, rng))})});
  b.output(b.op(OpKind::Gemm, {h, b.constant("w3", random_f32({6, 5}, rng))}, {}, "fc3"));
  EXPECT_TRUE(b.status().is_ok()) << b.status().message();
  return g;
}

// x[2, 3, 10, 9]: conv 3->5 3x3 padded (135 weights), depthwise 3x3 padded
// stride 1 and stride 2 (45 each), pointwise 5->6, grouped 6->9 (group 3,
// 1x3, padded), then a Gemm over the flattened 9x5x5.
std::unique_ptr<Graph> convnet(std::mt19937& rng) {
  auto g = std::make_unique<Graph>();
  Builder b(*g, infer_node);
  Value* h = b.input("x", TensorType{DType::F32, Shape::of({2, 3, 10, 9})});
  auto conv = [&](const std::string& name, Dims w, int64_t group, std::vector<int64_t> pads,
                  std::vector<int64_t> strides) {
    const int64_t m = w[0];
    h = b.op(OpKind::Conv,
             {h, b.constant(name + "_w", random_f32(w, rng)), b.constant(name + "_b", random_f32({m}, rng))},
             {{"group", Attribute::of_int(group)},
              {"pads", Attribute::of_ints(std::move(pads))},
              {"strides", Attribute::of_ints(std::move(strides))}},
             name);
    h = b.op(OpKind::Relu, {h});
  };
  conv("conv", {5, 3, 3, 3}, 1, {1, 1, 1, 1}, {1, 1});
  conv("dw", {5, 1, 3, 3}, 5, {1, 1, 1, 1}, {1, 1});
  conv("dw2", {5, 1, 3, 3}, 5, {1, 1, 1, 1}, {2, 2});
  conv("pw", {6, 5, 1, 1}, 1, {0, 0, 0, 0}, {1, 1});
  conv("grp", {9, 2, 1, 3}, 3, {0, 1, 0, 1}, {1, 1});
  h = b.op(OpKind::Flatten, {h});
  b.output(b.op(OpKind::Gemm, {h, b.constant("fc_w", random_f32({225, 4}, rng))}, {}, "fc"));
  EXPECT_TRUE(b.status().is_ok()) << b.status().message();
  return g;
}

struct Built {
  std::unique_ptr<Graph> g;
  CCodegenResult code;
};

Built quantise_and_generate(const Graph& model, int bits, uint32_t seed) {
  Built r{model.clone(), {}};
  std::mt19937 rng(seed);
  PassContext ctx;
  for (int s = 0; s < 16; ++s)
    ctx.quantize.calibration.push_back({random_f32(model.inputs[0]->type.shape.static_dims(), rng, -2, 2)});
  ctx.quantize.weight_bits = bits;
  ctx.quantize.int_io = true;  // integers end to end: bit-exact comparison
  Status st = PassManager(with_quantization(*pipeline("O2"))).run(*r.g, ctx);
  EXPECT_TRUE(st.is_ok()) << st.message();
  auto code = generate_c(*r.g);
  EXPECT_TRUE(code.has_value()) << code.status().message();
  if (code) r.code = std::move(*code);
  return r;
}

// The weights of the integer weighted ops.
std::vector<const Value*> weights_of(const Graph& g) {
  std::vector<const Value*> w;
  for (auto& n : g.nodes())
    if ((n->op == OpKind::QGemm || n->op == OpKind::QConv) && n->input(1)) w.push_back(n->input(1));
  return w;
}

// The bytes of `static const uint8_t NAME[...] = {...};` in the source, or
// empty (with a failure) if there is none.
std::vector<int> packed_array(const std::string& src, const std::string& name) {
  const size_t at = src.find("static const uint8_t " + name + "[");
  EXPECT_NE(at, std::string::npos) << name << " is not stored packed";
  if (at == std::string::npos) return {};
  const size_t open = src.find('{', at), close = src.find("};", at);
  const std::string body = src.substr(open + 1, close - open - 1);
  std::vector<int> bytes;
  const std::regex hex("0x([0-9a-f]{2})");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), hex); it != std::sregex_iterator(); ++it)
    bytes.push_back(std::stoi((*it)[1].str(), nullptr, 16));
  return bytes;
}

// The quantised graph's C, built with gcc and clang (-std=c99 -Wall -Wextra
// -Werror -pedantic, CBuildOptions' fixed flags), with and without its x86
// kernels, equals the interpreter on random int8 inputs.
void expect_bit_exact(const Built& m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Tensor> xs;
  for (int s = 0; s < 12; ++s) {
    Tensor x(m.g->inputs[0]->type.dtype, m.g->inputs[0]->type.shape.static_dims());
    for (int64_t i = 0; i < x.numel(); ++i)
      x.set_double(i, (double)std::uniform_int_distribution<int>(-128, 127)(rng));
    xs.push_back(std::move(x));
  }
  std::vector<std::vector<const Tensor*>> batch;
  for (auto& x : xs) batch.push_back({&x});
  for (auto [cc, flags] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"gcc", {"-O2"}}, {"clang", {"-O2"}}, {"gcc", {"-O2", "-DWEEC_NO_SIMD"}}}) {
    CBuildOptions o;
    o.cc = cc;
    o.cflags = flags;
    auto got = run_generated_c_batch(*m.g, m.code, batch, o);
    ASSERT_TRUE(got.has_value()) << cc << ": " << got.status().message();
    for (size_t s = 0; s < xs.size(); ++s) {
      auto want = run_graph(*m.g, {&xs[s]});
      ASSERT_TRUE(want.has_value()) << want.status().message();
      expect_identical(got->outputs[s][0], (*want)[0], cc + " sample " + std::to_string(s));
    }
  }
}

void check_model(const Graph& model, size_t weighted_ops) {
  Built q4 = quantise_and_generate(model, 4, 5), q8 = quantise_and_generate(model, 8, 5);
  ASSERT_FALSE(q4.code.source.empty());
  ASSERT_FALSE(q8.code.source.empty());
  const auto w4 = weights_of(*q4.g), w8 = weights_of(*q8.g);
  ASSERT_EQ(w4.size(), weighted_ops);
  ASSERT_EQ(w8.size(), weighted_ops);
  int64_t saved = 0;
  bool odd = false;
  for (size_t i = 0; i < w4.size(); ++i) {
    const Tensor& t = *w4[i]->constant;
    EXPECT_TRUE(qop::int4_range(t)) << w4[i]->name;
    // The array holds ceil(n / 2) bytes that decode to the weights.
    const std::vector<int> bytes = packed_array(q4.code.source, "w_" + c_identifier(w4[i]->name));
    ASSERT_EQ((int64_t)bytes.size(), (t.numel() + 1) / 2) << w4[i]->name;
    for (int64_t k = 0; k < t.numel(); ++k)
      ASSERT_EQ(decode(bytes, k), t.get_int(k)) << w4[i]->name << " " << k;
    if (t.numel() % 2) EXPECT_EQ(bytes.back() >> 4, 0) << "unused high nibble";
    odd = odd || t.numel() % 2;
    EXPECT_EQ(w8[i]->constant->numel(), t.numel());
    saved += t.numel() - (t.numel() + 1) / 2;
    // The 8-bit build: every weight tensor is an int8 array of numel bytes.
    EXPECT_NE(q8.code.source.find(
                  fmt::format("static const int8_t w_{}[{}]", c_identifier(w8[i]->name), t.numel())),
              std::string::npos)
        << w8[i]->name;
  }
  EXPECT_TRUE(odd) << "no weight tensor with a half-used last byte";
  EXPECT_EQ(q4.code.weight_bytes, q8.code.weight_bytes - saved);
  EXPECT_NE(q4.code.header.find(fmt::format("{} weight bytes", q4.code.weight_bytes)), std::string::npos);
  EXPECT_TRUE(cgen::int4_weights(*q8.g).empty());
  EXPECT_EQ(q8.code.source.find("static const uint8_t w_"), std::string::npos);
  EXPECT_EQ(q8.code.source.find("weec_q4"), std::string::npos);
  expect_bit_exact(q4, 9);
  expect_bit_exact(q8, 9);
}

TEST(Int4Weights, MlpPackedAndBitExact) {
  std::mt19937 rng(1);
  check_model(*mlp(rng), 3);
}

TEST(Int4Weights, ConvNetPackedAndBitExact) {
  std::mt19937 rng(2);
  auto g = convnet(rng);
  check_model(*g, 6);
}

// ---- integer graphs with 4-bit weights ----

// A QConv (or QGemm, `kh` = 0) with weights in [-8, 7] (both ends always
// present) and random X type, zero point and multipliers.
Value* add_q4(QNet& n, const std::string& tag, Value* x, Dims w, int64_t group, std::vector<int64_t> pads,
              std::vector<int64_t> strides, bool big_bias = false) {
  Tensor wt = n.random(DType::I8, w, -8, 7);
  wt.data<int8_t>()[0] = -8;
  wt.data<int8_t>()[wt.numel() - 1] = 7;
  const int64_t m = w[0], K = wt.numel() / m;
  Tensor b = big_bias ? n.random(DType::I32, {m}, INT32_MAX - 1000, INT32_MAX)
                      : n.random(DType::I32, {m}, -3000, 3000);
  AttrMap a;
  n.rescale(a, n.uniform(0, 1) ? (size_t)m : 1, 64.0 / (std::sqrt((double)K) * 600.0), DType::I8);
  auto [lo, hi] = range_of(x->type.dtype);
  a["x_zero_point"] = Attribute::of_int(n.uniform(lo, hi));
  if (w.size() == 2) return n.b.op(OpKind::QGemm, {x, n.cst("w" + tag, wt), n.cst("b" + tag, b)}, a);
  a["group"] = Attribute::of_int(group);
  a["pads"] = Attribute::of_ints(std::move(pads));
  a["strides"] = Attribute::of_ints(std::move(strides));
  return n.b.op(OpKind::QConv, {x, n.cst("w" + tag, wt), n.cst("b" + tag, b)}, a);
}

// Every source of qconv_emit.cc (direct 1x1, padded, int16 plane for
// depthwise, im2col for strides), grouped and depthwise, uint8 X, odd
// weight counts, an int64 accumulator, and QGemm with odd K; all packed.
TEST(Int4Weights, IntegerOpsEveryForm) {
  QNet n(71);
  auto conv_in = [&](const std::string& tag, DType t, Dims d) { return n.in(tag, n.random(t, d)); };
  n.b.output(add_q4(n, "pw", conv_in("x0", DType::U8, {1, 7, 5, 9}), {9, 7, 1, 1}, 1, {0, 0, 0, 0}, {1, 1}));
  n.b.output(
      add_q4(n, "pad", conv_in("x1", DType::I8, {2, 3, 11, 10}), {5, 3, 3, 3}, 1, {1, 1, 1, 1}, {1, 1}));
  n.b.output(
      add_q4(n, "dw", conv_in("x2", DType::I8, {1, 5, 12, 17}), {5, 1, 3, 3}, 5, {1, 1, 1, 1}, {1, 1}));
  n.b.output(
      add_q4(n, "dws", conv_in("x3", DType::U8, {1, 5, 12, 17}), {5, 1, 3, 3}, 5, {1, 0, 1, 1}, {2, 2}));
  n.b.output(
      add_q4(n, "grp", conv_in("x4", DType::I8, {1, 6, 9, 20}), {9, 2, 3, 3}, 3, {1, 1, 1, 1}, {1, 1}));
  n.b.output(
      add_q4(n, "big", conv_in("x5", DType::I8, {1, 4, 6, 6}), {3, 4, 3, 3}, 1, {0, 0, 0, 0}, {1, 1}, true));
  n.b.output(add_q4(n, "fc", conv_in("x6", DType::U8, {3, 37}), {11, 37}, 1, {}, {}));
  n.b.output(add_q4(n, "fce", conv_in("x7", DType::I8, {2, 64}), {24, 64}, 1, {}, {}));
  n.b.output(add_q4(n, "fcb", conv_in("x8", DType::I8, {1, 9}), {3, 9}, 1, {}, {}, true));
  const std::string code = expect_c_both_paths_match(n);
  expect_c_matches_interp(n, nullptr, "clang");
  EXPECT_NE(code.find("weec_q4("), std::string::npos);
  for (const char* w : {"wpw", "wpad", "wdw", "wdws", "wgrp", "wbig", "wfc", "wfce", "wfcb"})
    EXPECT_NE(code.find(fmt::format("static const uint8_t w_{}[", w)), std::string::npos) << w;
  EXPECT_NE(code.find("static const uint8_t w_wfc[204]"), std::string::npos);  // 11 x 37 = 407 weights
}

// Weights read inside a fused group (QGemm / QConv with a residual QAdd as
// the epilogue) are packed there too.
TEST(Int4Weights, FusedGroups) {
  QNet n(81);
  AttrMap add = {{"a_multiplier", Attribute::of_int(1 << 30)},  {"a_shift", Attribute::of_int(0)},
                 {"b_multiplier", Attribute::of_int(1 << 30)},  {"b_shift", Attribute::of_int(-1)},
                 {"multiplier", Attribute::of_ints({1 << 30})}, {"shift", Attribute::of_ints({-1})},
                 {"a_zero_point", Attribute::of_int(0)},        {"b_zero_point", Attribute::of_int(3)}};
  Value* y =
      add_q4(n, "c", n.in("x", n.random(DType::I8, {1, 4, 6, 5})), {4, 1, 3, 3}, 4, {1, 1, 1, 1}, {1, 1});
  n.b.output(n.b.op(OpKind::QAdd, {y, n.in("r", n.random(DType::I8, {1, 4, 6, 5}))}, add));
  y = add_q4(n, "g", n.in("xg", n.random(DType::I8, {2, 15})), {7, 15}, 1, {}, {});
  n.b.output(n.b.op(OpKind::QAdd, {y, n.in("rg", n.random(DType::I8, {2, 7}))}, add));
  int fused = 0;
  const std::string code = expect_c_matches_interp(n, &fused);
  EXPECT_EQ(fused, 2);
  expect_c_matches_interp(n, nullptr, "cc", {"-DWEEC_NO_SIMD"});
  EXPECT_NE(code.find("static const uint8_t w_wc[18]"), std::string::npos);
  EXPECT_NE(code.find("static const uint8_t w_wg[53]"), std::string::npos);
}

// Full-range int8 weights stay one byte each.
TEST(Int4Weights, Int8WeightsUnpacked) {
  QNet n(91);
  Tensor w = n.random(DType::I8, {6, 10}, -8, 7);
  w.data<int8_t>()[3] = 8;  // one value past 4 bits is enough
  AttrMap a;
  n.rescale(a, 1, 0.01, DType::I8);
  n.b.output(n.b.op(OpKind::QGemm, {n.in("x", n.random(DType::I8, {2, 10})), n.cst("w", w)}, a));
  const std::string code = expect_c_matches_interp(n);
  EXPECT_NE(code.find("static const int8_t w_w[60]"), std::string::npos);
  EXPECT_EQ(code.find("weec_q4"), std::string::npos);
}

}  // namespace
}  // namespace weec::qtest
