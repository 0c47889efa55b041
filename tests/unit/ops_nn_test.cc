// Convolution, pooling, Gemm/MatMul, BatchNormalization and QuantizeLinear.
// Expected values are hand-derived (arithmetic in the comments) or, where a
// comment says so, computed with numpy (/usr/bin/python3) by a naive
// loop-over-windows reference and pasted here.
#include <gtest/gtest.h>

#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {
namespace {

// One node whose inputs are all graph inputs; runs it on `inputs` (the
// interpreter also checks every result against the inferred type).
struct NodeRun {
  Graph g;
  std::vector<Value*> outs;
  std::vector<Tensor> results;
  Status status;
  NodeRun(OpKind op, const std::vector<Tensor>& inputs, AttrMap attrs = {}, int n_out = 1) {
    Builder b(g, infer_node);
    std::vector<Value*> ins;
    for (size_t i = 0; i < inputs.size(); ++i)
      ins.push_back(b.input("in" + std::to_string(i), static_type(inputs[i].dtype(), inputs[i].dims())));
    outs = b.op_n(op, ins, n_out, std::move(attrs));
    for (Value* o : outs) b.output(o);
    status = b.status();
    if (!status) return;
    std::vector<const Tensor*> ptrs;
    for (auto& t : inputs) ptrs.push_back(&t);
    auto r = run_graph(g, ptrs);
    if (!r)
      status = r.status();
    else
      results = std::move(*r);
  }
  std::string type(size_t i = 0) const { return type_str(outs[i]->type); }
  std::vector<double> values(size_t i = 0) const {
    std::vector<double> v;
    for (int64_t k = 0; k < results[i].numel(); ++k) v.push_back(results[i].get_double(k));
    return v;
  }
};

std::vector<float> iota(int64_t n, float start = 0) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = start + (float)i;
  return v;
}
AttrMap ints_attr(const std::string& name, std::vector<int64_t> v) { return {{name, Attribute::of_ints(v)}}; }

// ---- Conv ----

struct ConvCase {
  const char* name;
  AttrMap attrs;
  std::string type;
  std::vector<double> want;
};

TEST(OpsNn, ConvStridePadDilationTable) {
  // x = arange(32) as (1,2,4,4); w = (arange(16) % 5 - 2) as (2,2,2,2).
  // Expected outputs from numpy (naive sliding-window reference).
  Tensor x = Tensor::from_vector<float>({1, 2, 4, 4}, iota(32));
  std::vector<float> wv(16);
  for (int i = 0; i < 16; ++i) wv[i] = (float)(i % 5 - 2);
  Tensor w = Tensor::from_vector<float>({2, 2, 2, 2}, wv);
  const std::vector<ConvCase> cases = {
      // (0,0) of channel 0 by hand: [-2,-1,0,1].[0,1,4,5] + [2,-2,-1,0].[16,17,20,21] = 4 - 22 = -18.
      {"plain",
       {},
       "f32[1,2,3,3]",
       {-18, -21, -24, -30, -33, -36, -42, -45, -48, 4, 5, 6, 8, 9, 10, 12, 13, 14}},
      {"stride2", ints_attr("strides", {2, 2}), "f32[1,2,2,2]", {-18, -24, -42, -48, 4, 6, 12, 14}},
      {"asym_pad_stride",
       {{"pads", Attribute::of_ints({1, 0, 0, 1})}, {"strides", Attribute::of_ints({2, 1})}},
       "f32[1,2,2,4]",
       {-15, -15, -15, -19, -30, -33, -36, 5, -3, -6, -9, 32, 8, 9, 10, 39}},
      {"dilation2", ints_attr("dilations", {2, 2}), "f32[1,2,2,2]", {-20, -23, -32, -35, -8, -7, -4, -3}},
  };
  for (const auto& c : cases) {
    NodeRun r(OpKind::Conv, {x, w}, c.attrs);
    ASSERT_TRUE(r.status.is_ok()) << c.name << ": " << r.status.message();
    EXPECT_EQ(r.type(), c.type) << c.name;
    EXPECT_EQ(r.values(), c.want) << c.name;
  }
}

TEST(OpsNn, ConvDepthwiseWithBias) {
  // group = 2 = channels; w = (arange(8) % 3 - 1) as (2,1,2,2); bias [10, -10].
  // Channel 0, weights [-1,0,1,-1] at (0,0): -0 + 0 + 4 - 5 + 10 = 9, and each step
  // right/down shifts x by 1/4 so the sum by -1/-4. Channel 1, weights [0,1,-1,0]:
  // x[i][j+1] - x[i+1][j] = -3 everywhere, so -13. (numpy agrees.)
  Tensor x = Tensor::from_vector<float>({1, 2, 4, 4}, iota(32));
  Tensor w = Tensor::from_vector<float>({2, 1, 2, 2}, {-1, 0, 1, -1, 0, 1, -1, 0});
  Tensor b = Tensor::from_vector<float>({2}, {10, -10});
  NodeRun r(OpKind::Conv, {x, w, b}, {{"group", Attribute::of_int(2)}});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.values(),
            (std::vector<double>{9, 8, 7, 5, 4, 3, 1, 0, -1, -13, -13, -13, -13, -13, -13, -13, -13, -13}));
}

TEST(OpsNn, ConvSameUpperAndLowerSplitOddPadding) {
  // 1-D x = [1..5], kernel [1,1], stride 1: SAME keeps 5 outputs and needs one pad.
  // SAME_UPPER pads the end: [1+2, 2+3, 3+4, 4+5, 5+0]; SAME_LOWER the start: [0+1, 1+2, ...].
  Tensor x = Tensor::from_vector<float>({1, 1, 5}, iota(5, 1));
  Tensor w = Tensor::from_vector<float>({1, 1, 2}, {1, 1});
  NodeRun up(OpKind::Conv, {x, w}, {{"auto_pad", Attribute::of_string("SAME_UPPER")}});
  NodeRun lo(OpKind::Conv, {x, w}, {{"auto_pad", Attribute::of_string("SAME_LOWER")}});
  ASSERT_TRUE(up.status.is_ok() && lo.status.is_ok());
  EXPECT_EQ(up.type(), "f32[1,1,5]");
  EXPECT_EQ(up.values(), (std::vector<double>{3, 5, 7, 9, 5}));
  EXPECT_EQ(lo.values(), (std::vector<double>{1, 3, 5, 7, 9}));
}

TEST(OpsNn, ConvKeepsSymbolicBatchAndChecksChannels) {
  Graph g;
  Builder b(g, infer_node);
  TensorType xt = static_type(DType::F32, {1, 3, 8, 8});
  xt.shape.dims[0] = Dim::named("N");
  Value* y = b.op(OpKind::Conv, {b.input("x", xt), b.input("w", static_type(DType::F32, {4, 3, 3, 3}))},
                  {{"strides", Attribute::of_ints({2, 2})}});
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(y->type), "f32[N,4,3,3]");  // floor((8 - 3) / 2) + 1 = 3
  EXPECT_EQ(node_macs(*y->producer), 0);         // N is unknown
  b.op(OpKind::Conv, {b.input("x2", static_type(DType::F32, {1, 2, 8, 8})),
                      b.input("w2", static_type(DType::F32, {4, 3, 3, 3}))});
  EXPECT_FALSE(b.status().is_ok());  // 2 input channels vs weight's 3
}

// ---- pooling output sizes ----

struct PoolSize {
  int64_t in, k, s, pad_begin, pad_end;
  int64_t floor_out, ceil_out;
};

TEST(OpsNn, PoolCeilModeOutputSizes) {
  // floor((in + pads - k) / s) + 1, or ceil(...) + 1 with ceil_mode, dropping a
  // last window that would start in the end padding. By hand:
  const std::vector<PoolSize> cases = {
      {4, 3, 2, 0, 0, 1, 2},  // (4-3)/2 = 0.5 -> 1 or 2
      {5, 2, 2, 0, 0, 2, 3},  // 1.5 -> 2 or 3
      {6, 3, 2, 1, 1, 3, 4},  // (6+2-3)/2 = 2.5 -> 3 or 4 (window 3 starts at 6-1=5 < 6+1)
      {4, 2, 2, 0, 1, 2, 2},  // 1.5 -> ceil 3, but window 2 would start at 4 = in + pad_begin: dropped
      {7, 3, 2, 0, 0, 3, 3},  // exact: 2 -> 3 either way
  };
  for (const auto& c : cases)
    for (int ceil = 0; ceil < 2; ++ceil) {
      Graph g;
      Builder b(g, infer_node);
      Value* y = b.op(OpKind::MaxPool, {b.input("x", static_type(DType::F32, {1, 1, c.in}))},
                      {{"kernel_shape", Attribute::of_ints({c.k})},
                       {"strides", Attribute::of_ints({c.s})},
                       {"pads", Attribute::of_ints({c.pad_begin, c.pad_end})},
                       {"ceil_mode", Attribute::of_int(ceil)}});
      ASSERT_TRUE(b.status().is_ok()) << b.status().message();
      int64_t want = ceil ? c.ceil_out : c.floor_out;
      EXPECT_EQ(type_str(y->type), fmt::format("f32[1,1,{}]", want)) << "in=" << c.in << " ceil=" << ceil;
    }
}

TEST(OpsNn, MaxPoolCeilValuesAndIndices) {
  // x = 0..24 as 5x5, k 2, s 2, ceil_mode: 3x3 windows; the last row/column
  // windows see only x's last row/column. Max is each window's bottom-right.
  Tensor x = Tensor::from_vector<float>({1, 1, 5, 5}, iota(25));
  NodeRun r(OpKind::MaxPool, {x},
            {{"kernel_shape", Attribute::of_ints({2, 2})},
             {"strides", Attribute::of_ints({2, 2})},
             {"ceil_mode", Attribute::of_int(1)}},
            2);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.type(0), "f32[1,1,3,3]");
  EXPECT_EQ(r.type(1), "i64[1,1,3,3]");
  std::vector<double> want = {6, 8, 9, 16, 18, 19, 21, 23, 24};
  EXPECT_EQ(r.values(0), want);
  EXPECT_EQ(r.values(1), want);  // row-major flat index equals the value here
}

TEST(OpsNn, AveragePoolCountIncludePad) {
  // x = [1,2,3], k 2, pads [1,1]: windows {pad,1} {1,2} {2,3} {3,pad}.
  Tensor x = Tensor::from_vector<float>({1, 1, 3}, {1, 2, 3});
  AttrMap a = {{"kernel_shape", Attribute::of_ints({2})}, {"pads", Attribute::of_ints({1, 1})}};
  NodeRun ex(OpKind::AveragePool, {x}, a);
  a["count_include_pad"] = Attribute::of_int(1);
  NodeRun in(OpKind::AveragePool, {x}, a);
  EXPECT_EQ(ex.values(), (std::vector<double>{1, 1.5, 2.5, 3}));
  EXPECT_EQ(in.values(), (std::vector<double>{0.5, 1.5, 2.5, 1.5}));
}

// ---- Gemm / MatMul ----

TEST(OpsNn, GemmTransposesAlphaBetaAndBias) {
  // A = [[1,2,3],[4,5,6]], B = [[1,0],[0,1],[1,1]]: A*B = [[4,5],[10,11]] (by hand).
  Tensor a = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor at = Tensor::from_vector<float>({3, 2}, {1, 4, 2, 5, 3, 6});
  Tensor b = Tensor::from_vector<float>({3, 2}, {1, 0, 0, 1, 1, 1});
  Tensor bt = Tensor::from_vector<float>({2, 3}, {1, 0, 1, 0, 1, 1});
  Tensor c = Tensor::from_vector<float>({2}, {100, 200});  // broadcast along rows
  const std::vector<double> ab = {4, 5, 10, 11};
  struct Case {
    Tensor a, b;
    int ta, tb;
  };
  for (const Case& k : {Case{a, b, 0, 0}, Case{at, b, 1, 0}, Case{a, bt, 0, 1}, Case{at, bt, 1, 1}}) {
    NodeRun r(OpKind::Gemm, {k.a, k.b},
              {{"transA", Attribute::of_int(k.ta)}, {"transB", Attribute::of_int(k.tb)}});
    ASSERT_TRUE(r.status.is_ok()) << r.status.message();
    EXPECT_EQ(r.type(), "f32[2,2]");
    EXPECT_EQ(r.values(), ab) << "transA=" << k.ta << " transB=" << k.tb;
  }
  // 2 * A*B + 0.5 * C: [[8+50, 10+100], [20+50, 22+100]].
  NodeRun r(OpKind::Gemm, {a, b, c}, {{"alpha", Attribute::of_float(2)}, {"beta", Attribute::of_float(0.5)}});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.values(), (std::vector<double>{58, 110, 70, 122}));
  EXPECT_EQ(node_macs(*r.outs[0]->producer), 2 * 2 * 3);
}

TEST(OpsNn, MatMulOneDimensionalPromotion) {
  Tensor v = Tensor::from_vector<float>({3}, {1, 2, 3});
  Tensor m32 = Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor m23 = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  NodeRun vm(OpKind::MatMul, {v, m32});  // [1,2,3] . columns [1,3,5], [2,4,6] = 22, 28
  NodeRun mv(OpKind::MatMul, {m23, v});  // rows . [1,2,3] = 14, 32
  NodeRun vv(OpKind::MatMul, {v, v});    // 1 + 4 + 9
  ASSERT_TRUE(vm.status.is_ok() && mv.status.is_ok() && vv.status.is_ok());
  EXPECT_EQ(vm.type(), "f32[2]");
  EXPECT_EQ(vm.values(), (std::vector<double>{22, 28}));
  EXPECT_EQ(mv.type(), "f32[2]");
  EXPECT_EQ(mv.values(), (std::vector<double>{14, 32}));
  EXPECT_EQ(vv.type(), "f32[]");
  EXPECT_EQ(vv.values(), (std::vector<double>{14}));
}

TEST(OpsNn, MatMulBatchBroadcast) {
  // a = arange(12) as (2,1,2,3), b = arange(18) % 4 as (3,3,2); numpy.matmul gives (2,3,2,2).
  Tensor a = Tensor::from_vector<float>({2, 1, 2, 3}, iota(12));
  std::vector<float> bv(18);
  for (int i = 0; i < 18; ++i) bv[i] = (float)(i % 4);
  Tensor b = Tensor::from_vector<float>({3, 3, 2}, bv);
  NodeRun r(OpKind::MatMul, {a, b});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.type(), "f32[2,3,2,2]");
  EXPECT_EQ(r.values(), (std::vector<double>{2,  5,  8,  20, 4,  7,  16, 28, 2,  5,  8,  20,
                                             14, 35, 20, 50, 28, 49, 40, 70, 14, 35, 20, 50}));
}

TEST(OpsNn, MatMulIntegerWrapsLikeTheType) {
  // int32: 65536 * 65536 = 2^32 wraps to 0; plus 1 * 1.
  Tensor a = Tensor::from_vector<int32_t>({1, 2}, {65536, 1});
  Tensor b = Tensor::from_vector<int32_t>({2, 1}, {65536, 1});
  NodeRun r(OpKind::MatMul, {a, b});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.results[0].to_int_vector(), (std::vector<int64_t>{1}));
}

// ---- BatchNormalization ----

TEST(OpsNn, BatchNormInference) {
  // Channel 0: (x - 1) / sqrt(4 + 0) * 2 + 3 -> x=1: 3, x=5: 7.
  // Channel 1: (x - 0) / sqrt(0.25) * 1 - 1 -> x=1: 1, x=-1: -3.
  Tensor x = Tensor::from_vector<float>({1, 2, 2}, {1, 5, 1, -1});
  NodeRun r(OpKind::BatchNormalization,
            {x, Tensor::from_vector<float>({2}, {2, 1}), Tensor::from_vector<float>({2}, {3, -1}),
             Tensor::from_vector<float>({2}, {1, 0}), Tensor::from_vector<float>({2}, {4, 0.25f})},
            {{"epsilon", Attribute::of_float(0)}});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.values(), (std::vector<double>{3, 7, 1, -3}));
}

TEST(OpsNn, BatchNormTrainingUsesBatchStatistics) {
  // One channel, x = [1, 3]: batch mean 2, population variance 1; eps 0 so
  // y = (x - 2) / 1 = [-1, 1]. running = in * 0.9 + batch * 0.1: mean 0 -> 0.2, var 1 -> 1.
  Tensor x = Tensor::from_vector<float>({2, 1}, {1, 3});
  Tensor one = Tensor::from_vector<float>({1}, {1}), zero = Tensor::from_vector<float>({1}, {0});
  NodeRun r(OpKind::BatchNormalization, {x, one, zero, zero, one},
            {{"epsilon", Attribute::of_float(0)}, {"training_mode", Attribute::of_int(1)}}, 3);
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.values(0), (std::vector<double>{-1, 1}));
  EXPECT_NEAR(r.values(1)[0], 0.2, 1e-6);
  EXPECT_NEAR(r.values(2)[0], 1.0, 1e-6);
}

// ---- QuantizeLinear ----

TEST(OpsNn, QuantizeLinearRoundsHalfToEvenAndSaturates) {
  // Scale 1, int8 zero point 0: ties go to the even neighbour; 300 / -300 clamp.
  Tensor x = Tensor::from_vector<float>({8}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 300, -300});
  NodeRun r(OpKind::QuantizeLinear, {x, Tensor::scalar<float>(1), Tensor::scalar<int8_t>(0)});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.type(), "i8[8]");
  EXPECT_EQ(r.results[0].to_int_vector(), (std::vector<int64_t>{0, 2, 2, 0, -2, -2, 127, -128}));
  // uint8, scale 2, zero point 128: 1/2 = 0.5 -> 0, 3/2 -> 2, 5/2 -> 2, -1/2 -> -0, then + 128;
  // 1000/2 + 128 saturates to 255, -1000/2 + 128 to 0.
  Tensor x2 = Tensor::from_vector<float>({6}, {1, 3, 5, -1, 1000, -1000});
  NodeRun u(OpKind::QuantizeLinear, {x2, Tensor::scalar<float>(2), Tensor::scalar<uint8_t>(128)});
  ASSERT_TRUE(u.status.is_ok()) << u.status.message();
  EXPECT_EQ(u.results[0].to_int_vector(), (std::vector<int64_t>{128, 130, 130, 128, 255, 0}));
}

TEST(OpsNn, QuantizeLinearPerAxis) {
  // axis 1 of (1,2,2): channel 0 scale 1 zp 0, channel 1 scale 10 zp 5.
  // [2, 3] -> [2, 3]; [25, 35] -> 2.5 -> 2, 3.5 -> 4, + 5 = [7, 9].
  Tensor x = Tensor::from_vector<float>({1, 2, 2}, {2, 3, 25, 35});
  NodeRun r(OpKind::QuantizeLinear,
            {x, Tensor::from_vector<float>({2}, {1, 10}), Tensor::from_vector<uint8_t>({2}, {0, 5})});
  ASSERT_TRUE(r.status.is_ok()) << r.status.message();
  EXPECT_EQ(r.results[0].to_int_vector(), (std::vector<int64_t>{2, 3, 7, 9}));
}

}  // namespace
}  // namespace weec
