// C emitters of the conv/pool/matmul/normalisation family: each graph runs
// through the interpreter (unoptimised; the reference kernels are the
// oracle) and through the O2 pipeline and the C backend, built with the
// system C compiler. The cases pick the attribute combinations the ONNX node
// tests leave out and every code path of the emitters (im2col blocks and
// tails, flat depthwise, per-tap loops, fused epilogues, integer paths).
// Floats agree within rtol 1e-4 + atol 1e-5 (the C code accumulates in the
// output type, in another order); integers exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "codegen/c/c_runner.h"
#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"
#include "passes/pass.h"

namespace weec {
namespace {

struct Net {
  Graph g;
  Builder b{g, infer_node};
  std::mt19937 rng{3};
  std::vector<Tensor> feeds;

  Tensor random(DType t, const Dims& d) {
    Tensor x(t, d);
    std::uniform_real_distribution<double> u(-2, 2);
    std::uniform_int_distribution<int> q(0, 255);
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (t == DType::U8)
        x.set_double(i, q(rng));
      else if (t == DType::I8)
        x.set_double(i, q(rng) - 128);
      else if (is_integer(t))
        x.set_double(i, q(rng) % 9 - 4);
      else
        x.set_double(i, u(rng));
    }
    return x;
  }
  Value* in(const std::string& name, Dims d, DType t = DType::F32) {
    feeds.push_back(random(t, d));
    return b.input(name, static_type(t, d));
  }
  Value* cst(const std::string& name, Dims d, DType t = DType::F32) { return b.constant(name, random(t, d)); }
  Value* cst(const std::string& name, Tensor t) { return b.constant(name, std::move(t)); }
};

// Integer attributes: lists, except the scalar ones named here.
AttrMap ints(std::initializer_list<std::pair<const char*, std::vector<int64_t>>> a) {
  static const std::set<std::string> scalar = {"group",         "ceil_mode",         "p",
                                               "storage_order", "count_include_pad", "axis"};
  AttrMap m;
  for (auto& [k, v] : a) m[k] = scalar.count(k) ? Attribute::of_int(v[0]) : Attribute::of_ints(v);
  return m;
}

void expect_c_matches(Net& n) {
  ASSERT_TRUE(n.b.status().is_ok()) << n.b.status().message();
  std::vector<const Tensor*> ptrs;
  for (auto& t : n.feeds) ptrs.push_back(&t);
  auto want = run_graph(n.g, ptrs);
  ASSERT_TRUE(want.has_value()) << want.status().message();
  auto c = n.g.clone();
  auto names = pipeline("O2");
  ASSERT_TRUE(names.has_value());
  PassContext ctx;
  Status st = PassManager(*names).run(*c, ctx);
  ASSERT_TRUE(st.is_ok()) << st.message();
  auto code = generate_c(*c);
  ASSERT_TRUE(code.has_value()) << code.status().message();
  auto got = run_generated_c(*c, *code, ptrs, CBuildOptions{});
  ASSERT_TRUE(got.has_value()) << got.status().message();
  ASSERT_EQ(got->size(), want->size());
  for (size_t k = 0; k < want->size(); ++k) {
    const Tensor &w = (*want)[k], &g = (*got)[k];
    ASSERT_EQ(g.dims(), w.dims()) << "output " << k;
    ASSERT_EQ(g.dtype(), w.dtype()) << "output " << k;
    for (int64_t i = 0; i < w.numel(); ++i) {
      double a = g.get_double(i), e = w.get_double(i);
      if (std::isnan(e)) {
        EXPECT_TRUE(std::isnan(a)) << "output " << k << " element " << i;
      } else if (is_float(w.dtype())) {
        EXPECT_NEAR(a, e, 1e-5 + 1e-4 * std::fabs(e)) << "output " << k << " element " << i;
      } else {
        ASSERT_EQ(a, e) << "output " << k << " element " << i;
      }
    }
  }
}

// Conv + bias + Relu (a fused epilogue) for one attribute set.
void conv_case(Dims x, Dims w, AttrMap attrs, bool bias = true) {
  Net n;
  Value* xv = n.in("x", x);
  std::vector<Value*> ins = {xv, n.cst("w", w)};
  if (bias) ins.push_back(n.cst("b", {w[0]}));
  Value* y = n.b.op(OpKind::Conv, ins, attrs);
  n.b.output(n.b.op(OpKind::Relu, {y}));
  expect_c_matches(n);
}

TEST(CEmitConv, Im2colPaddedStridedDilatedAndTails) {
  conv_case({1, 3, 11, 9}, {6, 3, 3, 3},
            ints({{"pads", {1, 2, 0, 1}}, {"strides", {2, 1}}, {"dilations", {1, 2}}}));
  conv_case({2, 4, 20, 12}, {20, 4, 3, 3}, ints({{"pads", {1, 1, 1, 1}}}));  // several row blocks, oc tail
  conv_case({1, 4, 7, 6}, {6, 2, 3, 3}, ints({{"group", {2}}}), false);
  conv_case({1, 2, 13}, {3, 2, 4}, ints({{"pads", {2, 1}}, {"strides", {3}}}));  // 1-D
}

TEST(CEmitConv, PointwiseDepthwiseAndWideRows) {
  conv_case({1, 8, 5, 7}, {9, 8, 1, 1}, {});
  conv_case({1, 6, 9, 5}, {6, 1, 3, 3}, ints({{"group", {6}}, {"pads", {1, 1, 1, 1}}}));
  conv_case({1, 3, 6, 6}, {6, 1, 3, 2},
            ints({{"group", {3}}, {"dilations", {2, 1}}, {"pads", {0, 1, 2, 0}}}));
  conv_case({1, 2, 20, 24}, {4, 2, 5, 5}, ints({{"pads", {2, 2, 2, 2}}}));            // per-tap loops
  conv_case({1, 2, 4, 5, 6}, {3, 2, 2, 3, 2}, ints({{"pads", {1, 0, 1, 0, 1, 1}}}));  // 3-D
}

// Epilogue operands indexed by the output's spatial position (the store()
// multi-index), on the im2col path and on the per-tap path.
TEST(CEmitConv, EpilogueBroadcastOperands) {
  for (Dims x : {Dims{1, 2, 6, 7}, Dims{1, 2, 4, 20}}) {
    Net n;
    Value* y = n.b.op(OpKind::Conv, {n.in("x", x), n.cst("w", {3, 2, 3, 3})}, ints({{"pads", {1, 1, 1, 1}}}));
    Value* a = n.b.op(OpKind::Add, {y, n.cst("c", {3, 1, x[3]})});
    n.b.output(n.b.op(OpKind::Mul, {a, n.in("m", {1, 1, x[2], 1})}));
    expect_c_matches(n);
  }
}

TEST(CEmitConv, AutoPadSameLowerAndTranspose) {
  Net n;
  Value* x = n.in("x", {1, 2, 7, 5});
  n.b.output(
      n.b.op(OpKind::Conv, {x, n.cst("w", {4, 2, 3, 2})},
             {{"auto_pad", Attribute::of_string("SAME_LOWER")}, {"strides", Attribute::of_ints({2, 2})}}));
  n.b.output(n.b.op(
      OpKind::ConvTranspose, {x, n.cst("wt", {2, 3, 3, 3}), n.cst("bt", {6})},
      ints({{"group", {2}}, {"strides", {2, 1}}, {"pads", {1, 0, 0, 1}}, {"output_padding", {1, 0}}})));
  expect_c_matches(n);
}

TEST(CEmitConv, IntegerConvs) {
  Net n;
  Value* x = n.in("x", {1, 3, 6, 5}, DType::U8);
  Value* w = n.cst("w", {4, 3, 3, 3}, DType::I8);
  Value* xz = n.cst("xz", Tensor::scalar<uint8_t>(131));
  Value* wz = n.cst("wz", {4}, DType::I8);
  n.b.output(n.b.op(OpKind::ConvInteger, {x, w, xz, wz}, ints({{"pads", {1, 1, 1, 1}}})));
  Value* ws = n.cst("ws", Tensor::from_vector<float>({4}, {0.01f, 0.02f, 0.015f, 0.03f}));
  Value* b = n.cst("bq", {4}, DType::I32);
  n.b.output(n.b.op(OpKind::QLinearConv,
                    {x, n.cst("xs", Tensor::scalar<float>(0.05f)), xz, w, ws, wz,
                     n.cst("ys", Tensor::scalar<float>(0.2f)), n.cst("yz", Tensor::scalar<int8_t>(-3)), b},
                    ints({{"strides", {2, 1}}})));
  expect_c_matches(n);
}

TEST(CEmitMatMul, BroadcastBatchesPromotionAndIntegers) {
  Net n;
  n.b.output(n.b.op(OpKind::MatMul, {n.in("a", {2, 1, 3, 4}), n.cst("b", {3, 4, 5})}));
  n.b.output(n.b.op(OpKind::MatMul, {n.in("v", {4}), n.cst("m", {2, 4, 3})}));
  n.b.output(n.b.op(OpKind::MatMul, {n.in("ai", {3, 4}, DType::I32), n.cst("bi", {4}, DType::I32)}));
  Value* a8 = n.in("a8", {3, 5}, DType::U8);
  Value* b8 = n.cst("b8", {5, 2}, DType::I8);
  n.b.output(
      n.b.op(OpKind::MatMulInteger, {a8, b8, n.cst("az", {3}, DType::U8), n.cst("bz", {2}, DType::I8)}));
  n.b.output(
      n.b.op(OpKind::QLinearMatMul,
             {a8, n.cst("as", Tensor::scalar<float>(0.1f)), n.cst("az1", Tensor::scalar<uint8_t>(120)), b8,
              n.cst("bs", Tensor::from_vector<float>({2}, {0.02f, 0.05f})), n.cst("bz2", {2}, DType::I8),
              n.cst("ys", Tensor::scalar<float>(0.3f)), n.cst("yz", Tensor::scalar<uint8_t>(128))}));
  expect_c_matches(n);
}

TEST(CEmitGemm, TransposesAlphaBetaAndIntegers) {
  Net n;
  AttrMap ab = {{"alpha", Attribute::of_float(0.5f)}, {"beta", Attribute::of_float(2.f)}};
  n.b.output(n.b.op(OpKind::Gemm, {n.in("a", {3, 37}), n.cst("b", {5, 37}), n.cst("c", {5})},
                    {{"transB", Attribute::of_int(1)}}));
  ab["transA"] = Attribute::of_int(1);
  n.b.output(n.b.op(OpKind::Gemm, {n.in("a2", {6, 2}), n.cst("b2", {6, 4}), n.cst("c2", {2, 1})}, ab));
  ab["transB"] = Attribute::of_int(1);
  n.b.output(n.b.op(
      OpKind::Gemm,
      {n.in("a3", {7, 3}, DType::I32), n.cst("b3", {2, 7}, DType::I32), n.cst("c3", {3, 2}, DType::I32)},
      ab));
  expect_c_matches(n);
}

TEST(CEmitPool, WindowsIndicesAndGlobal) {
  Net n;
  Value* x = n.in("x", {1, 2, 7, 6});
  auto mp = n.b.op_n(OpKind::MaxPool, {x}, 2,
                     ints({{"kernel_shape", {3, 2}},
                           {"pads", {1, 0, 1, 1}},
                           {"strides", {2, 2}},
                           {"dilations", {1, 2}},
                           {"ceil_mode", {1}},
                           {"storage_order", {1}}}));
  n.b.output(mp[0]);
  n.b.output(mp[1]);
  n.b.output(n.b.op(OpKind::AveragePool, {x},
                    ints({{"kernel_shape", {3, 3}},
                          {"pads", {1, 1, 2, 1}},
                          {"count_include_pad", {1}},
                          {"ceil_mode", {1}},
                          {"strides", {2, 2}}})));
  n.b.output(n.b.op(OpKind::AveragePool, {x}, ints({{"kernel_shape", {2, 4}}, {"pads", {1, 2, 1, 2}}})));
  n.b.output(n.b.op(OpKind::LpPool, {x}, ints({{"kernel_shape", {2, 2}}, {"p", {3}}})));
  n.b.output(n.b.op(OpKind::GlobalLpPool, {x}, ints({{"p", {1}}})));
  n.b.output(n.b.op(OpKind::GlobalMaxPool, {x}));
  n.b.output(n.b.op(OpKind::MaxPool, {n.in("q", {1, 1, 5, 5}, DType::I8)}, ints({{"kernel_shape", {2, 2}}})));
  expect_c_matches(n);
}

TEST(CEmitNorm, NormalisationsAndDropoutMask) {
  Net n;
  Value* x = n.in("x", {2, 3, 4, 5});
  auto ln = n.b.op_n(OpKind::LayerNormalization, {x, n.cst("s", {4, 1}), n.cst("bb", {5})}, 3,
                     {{"axis", Attribute::of_int(2)}});
  for (Value* v : ln) n.b.output(v);
  n.b.output(n.b.op(OpKind::InstanceNormalization, {x, n.cst("is", {3}), n.cst("ib", {3})}));
  n.b.output(
      n.b.op(OpKind::LRN, {x}, {{"size", Attribute::of_int(4)}, {"alpha", Attribute::of_float(0.3f)}}));
  n.b.output(n.b.op(OpKind::LpNormalization, {x}, ints({{"axis", {1}}, {"p", {1}}})));
  n.b.output(n.b.op(OpKind::MeanVarianceNormalization, {x}, ints({{"axes", {0, 3}}})));
  Tensor var = n.random(DType::F32, {3});
  for (int64_t i = 0; i < 3; ++i) var.set_double(i, std::fabs(var.get_double(i)) + 0.1);
  auto bn = n.b.op_n(OpKind::BatchNormalization,
                     {x, n.cst("g", {3}), n.cst("be", {3}), n.cst("mu", {3}), n.cst("var", var)}, 3,
                     {{"training_mode", Attribute::of_int(1)}});
  for (Value* v : bn) n.b.output(v);
  auto dr = n.b.op_n(OpKind::Dropout, {x}, 2);
  n.b.output(dr[1]);
  expect_c_matches(n);
}

TEST(CEmitMisc, QuantizeDetEinsum) {
  Net n;
  Value* x = n.in("x", {2, 3, 4});
  Value* s = n.cst("s", Tensor::from_vector<float>({3, 1}, {0.02f, 0.05f, 0.1f}));
  Value* z = n.cst("z", Tensor::from_vector<int8_t>({3, 1}, {-3, 0, 7}));
  n.b.output(n.b.op(OpKind::QuantizeLinear, {x, s, z}));
  n.b.output(n.b.op(OpKind::DequantizeLinear,
                    {n.in("q", {2, 3, 4}, DType::U8), n.cst("ds", Tensor::scalar<float>(0.5f)),
                     n.cst("dz", Tensor::scalar<uint8_t>(100))}));
  for (Value* v : n.b.op_n(OpKind::DynamicQuantizeLinear, {x}, 3)) n.b.output(v);
  n.b.output(n.b.op(OpKind::Det, {n.in("m", {2, 4, 4})}));
  n.b.output(
      n.b.op(OpKind::Einsum, {x, n.in("e", {4, 3})}, {{"equation", Attribute::of_string("bij,jk->bki")}}));
  expect_c_matches(n);
}

// QuantizeLinear from f32 at the edges of the generated code's branch-free
// rounding (integer clamp on the bits, +-1.5 * 2^23): halves (to even),
// the clamp bounds, huge values, infinities, NaN, denormals, -0, for int8
// and uint8 with zero points at both ends. The interpreter's kernel rounds
// in double with nearbyint: an independent implementation.
TEST(CEmitNn, QuantizeLinearEdgeValues) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {0.5f,      1.5f,       2.5f,        -0.5f,     -1.5f,    -2.5f,       127.5f,
                          128.5f,    -128.5f,    -129.5f,     255.5f,    256.0f,   256.5f,      -256.f,
                          -256.5f,   1e9f,       -1e9f,       3.4e38f,   -3.4e38f, inf,         -inf,
                          NAN,       -NAN,       1e-40f,      -1e-40f,   -0.0f,    0.49999997f, 8388607.5f,
                          8388608.f, 16777215.f, -4194303.5f, 254.49998f};
  for (int64_t k = 0; k < 300; ++k) v.push_back((float)(k - 150) * 0.75f + 0.25f);
  const int64_t n = (int64_t)v.size();
  for (float scale : {1.0f, 0.5f, 3.0f})
    for (auto [dt, zp] : {std::pair{DType::I8, -128},
                          {DType::I8, 127},
                          {DType::I8, 0},
                          {DType::U8, 0},
                          {DType::U8, 255},
                          {DType::U8, 17}}) {
      Net net;
      Value* x = net.b.input("x", static_type(DType::F32, {n}));
      net.feeds.push_back(Tensor::from_vector<float>({n}, v));
      Tensor z(dt, {});
      z.set_double(0, zp);
      net.b.output(net.b.op(OpKind::QuantizeLinear,
                            {x, net.cst("s", Tensor::scalar<float>(scale)), net.cst("z", std::move(z))}));
      SCOPED_TRACE(fmt::format("scale {} zero point {} {}", scale, zp, dtype_name(dt)));
      expect_c_matches(net);
    }
}

TEST(CEmitRnn, GruLstmRnnVariants) {
  Net n;
  AttrMap gru = {{"direction", Attribute::of_string("bidirectional")},
                 {"linear_before_reset", Attribute::of_int(1)},
                 {"clip", Attribute::of_float(1.5f)},
                 {"hidden_size", Attribute::of_int(5)}};
  for (Value* v :
       n.b.op_n(OpKind::GRU,
                {n.in("x", {4, 2, 3}), n.cst("w", {2, 15, 3}), n.cst("r", {2, 15, 5}), n.cst("b", {2, 30})},
                2, gru))
    n.b.output(v);
  AttrMap lstm = {{"direction", Attribute::of_string("reverse")},
                  {"layout", Attribute::of_int(1)},
                  {"input_forget", Attribute::of_int(1)},
                  {"hidden_size", Attribute::of_int(5)},
                  {"activations", Attribute::of_strings({"HardSigmoid", "Tanh", "Softsign"})},
                  {"activation_alpha", Attribute::of_floats({0.3f})}};
  Value* lens = n.cst("lens", Tensor::from_vector<int32_t>({2}, {4, 2}));
  for (Value* v : n.b.op_n(
           OpKind::LSTM,
           {n.in("xl", {2, 4, 3}), n.cst("wl", {1, 20, 3}), n.cst("rl", {1, 20, 5}), n.cst("bl", {1, 40}),
            lens, n.in("h0", {2, 1, 5}), n.in("c0", {2, 1, 5}), n.cst("p", {1, 15})},
           3, lstm))
    n.b.output(v);
  AttrMap rnn = {{"activations", Attribute::of_strings({"LeakyRelu"})},
                 {"activation_alpha", Attribute::of_floats({0.2f})},
                 {"hidden_size", Attribute::of_int(4)}};
  for (Value* v :
       n.b.op_n(OpKind::RNN, {n.in("xr", {3, 1, 2}), n.cst("wr", {1, 4, 2}), n.cst("rr", {1, 4, 4})}, 2, rnn))
    n.b.output(v);
  expect_c_matches(n);
}

}  // namespace
}  // namespace weec
