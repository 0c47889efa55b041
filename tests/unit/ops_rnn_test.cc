// RNN, GRU, LSTM, Det, and the import-only legacy ops Scatter and Upsample.
// Expected values are hand-derived (the arithmetic is in the comments) unless
// a comment says numpy computed them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {
namespace {

std::vector<float> floats(const Tensor& t) {
  std::vector<float> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = (float)t.get_double(i);
  return v;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

Tensor f32(Dims dims, std::vector<float> v) { return Tensor::from_vector<float>(std::move(dims), v); }
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// A recurrent op whose inputs are all constants except X; runs it on x.
struct Recurrent {
  Graph g;
  std::vector<Value*> outs;
  Status status;
  Recurrent(OpKind op, const Tensor& x, const std::vector<std::optional<Tensor>>& rest, int n_out,
            AttrMap attrs) {
    Builder b(g, infer_node);
    std::vector<Value*> ins = {b.input("x", static_type(x.dtype(), x.dims()))};
    for (size_t i = 0; i < rest.size(); ++i)
      ins.push_back(rest[i] ? b.constant("in" + std::to_string(i + 1), *rest[i]) : nullptr);
    outs = b.op_n(op, ins, n_out, std::move(attrs));
    for (Value* o : outs) b.output(o);
    status = b.status();
  }
  std::vector<Tensor> run(const Tensor& x) {
    auto r = run_graph(g, {&x});
    EXPECT_TRUE(r.has_value()) << r.status().message();
    return r.has_value() ? *r : std::vector<Tensor>{};
  }
};

TEST(OpsRnn, ReverseReluRnnWithSequenceLensInBatchMajorLayout) {
  // H = I = 1, W = 1, R = 0.5, Wb = 1, h0 = 0, both rows x = 1, 2, 3.
  // Row 0 (length 3), backwards: t2 relu(3+0+1) = 4, t1 relu(2+2+1) = 5, t0 relu(1+2.5+1) = 4.5.
  // Row 1 (length 2): t1 relu(2+0+1) = 3, t0 relu(1+1.5+1) = 3.5; t2 is past the end: 0.
  Tensor x = f32({2, 3, 1}, {1, 2, 3, 1, 2, 3});
  Tensor lens = Tensor::from_vector<int32_t>({2}, {3, 2});
  Recurrent t(OpKind::RNN, x, {f32({1, 1, 1}, {1}), f32({1, 1, 1}, {0.5f}), f32({1, 2}, {1, 0}), lens}, 2,
              {{"hidden_size", Attribute::of_int(1)},
               {"direction", Attribute::of_string("reverse")},
               {"layout", Attribute::of_int(1)},
               {"activations", Attribute::of_strings({"Relu"})}});
  ASSERT_TRUE(t.status.is_ok()) << t.status.message();
  EXPECT_EQ(type_str(t.outs[0]->type), "f32[2,3,1,1]");
  EXPECT_EQ(type_str(t.outs[1]->type), "f32[2,1,1]");
  auto out = t.run(x);
  expect_near(floats(out[0]), {4.5f, 5, 4, 3.5f, 3, 0});
  expect_near(floats(out[1]), {4.5f, 3.5f});
}

TEST(OpsRnn, BidirectionalActivationsConsumeAlphaAndBetaInOrder) {
  // Forward LeakyRelu takes alpha 0.1; reverse HardSigmoid takes alpha 0.4 and
  // beta 0.3. W = 1, R = 0, x = -0.5: forward -0.05, reverse 0.4*-0.5+0.3 = 0.1.
  Tensor x = f32({1, 1, 1}, {-0.5f});
  Recurrent t(OpKind::RNN, x, {f32({2, 1, 1}, {1, 1}), f32({2, 1, 1}, {0, 0})}, 2,
              {{"direction", Attribute::of_string("bidirectional")},
               {"activations", Attribute::of_strings({"LeakyRelu", "HardSigmoid"})},
               {"activation_alpha", Attribute::of_floats({0.1f, 0.4f})},
               {"activation_beta", Attribute::of_floats({0.3f})}});
  ASSERT_TRUE(t.status.is_ok()) << t.status.message();
  EXPECT_EQ(type_str(t.outs[0]->type), "f32[1,2,1,1]");  // hidden_size from R
  auto out = t.run(x);
  expect_near(floats(out[0]), {-0.05f, 0.1f});
  expect_near(floats(out[1]), {-0.05f, 0.1f});
}

TEST(OpsRnn, GruLinearBeforeResetMovesTheResetGate) {
  // H = I = 1; only the h gate has weights: Wh = Rh = 1, Rbh = 1; x = 1, h0 = 2.
  // z = r = sigmoid(0) = 0.5. Ht = 0.5 * h~ + 0.5 * 2.
  // linear_before_reset=0: h~ = tanh(1 + (0.5*2)*1 + 1) = tanh(3).
  // linear_before_reset=1: h~ = tanh(1 + 0.5*(2*1 + 1)) = tanh(2.5).
  Tensor x = f32({1, 1, 1}, {1});
  for (int lbr : {0, 1}) {
    Recurrent t(OpKind::GRU, x,
                {f32({1, 3, 1}, {0, 0, 1}), f32({1, 3, 1}, {0, 0, 1}), f32({1, 6}, {0, 0, 0, 0, 0, 1}),
                 std::nullopt, f32({1, 1, 1}, {2})},
                2, {{"hidden_size", Attribute::of_int(1)}, {"linear_before_reset", Attribute::of_int(lbr)}});
    ASSERT_TRUE(t.status.is_ok()) << t.status.message();
    auto out = t.run(x);
    float want = (float)(0.5 * std::tanh(lbr ? 2.5 : 3.0) + 1);
    expect_near(floats(out[1]), {want});
  }
}

TEST(OpsRnn, LstmPeepholesInputForgetAndClip) {
  // H = I = 1; only Wc = 1; peepholes Pi = 1, Po = 1, Pf = 0; x = 0.5, h0 = 0, c0 = 2.
  // Default: i = sigmoid(2), f = sigmoid(0) = 0.5, c~ = tanh(0.5), C = f*2 + i*c~,
  //   o = sigmoid(C) (the output peephole sees the new C), H = o * tanh(C).
  // input_forget=1, clip=1: i = sigmoid(clip(2)) = sigmoid(1), f = 1 - i,
  //   o = sigmoid(clip(C)); tanh(C) itself is not clipped.
  Tensor x = f32({1, 1, 1}, {0.5f});
  std::vector<std::optional<Tensor>> rest = {
      f32({1, 4, 1}, {0, 0, 0, 1}), f32({1, 4, 1}, {0, 0, 0, 0}), std::nullopt,          std::nullopt,
      f32({1, 1, 1}, {0}),          f32({1, 1, 1}, {2}),          f32({1, 3}, {1, 1, 0})};
  for (bool coupled : {false, true}) {
    AttrMap attrs = {{"hidden_size", Attribute::of_int(1)}};
    if (coupled) {
      attrs["input_forget"] = Attribute::of_int(1);
      attrs["clip"] = Attribute::of_float(1);
    }
    Recurrent t(OpKind::LSTM, x, rest, 3, attrs);
    ASSERT_TRUE(t.status.is_ok()) << t.status.message();
    auto out = t.run(x);
    double i = sigmoid(coupled ? 1 : 2), f = coupled ? 1 - i : 0.5;
    double c = f * 2 + i * std::tanh(0.5);
    double h = sigmoid(coupled ? std::min(c, 1.0) : c) * std::tanh(c);
    expect_near(floats(out[0]), {(float)h});
    expect_near(floats(out[1]), {(float)h});
    expect_near(floats(out[2]), {(float)c});
  }
}

TEST(OpsRnn, BidirectionalLstmWithEverything) {
  // T = B = I = H = 2, sequence_lens {2, 1}; expected values computed with a
  // numpy transcription of the ONNX LSTM equations (float64).
  Tensor x = f32({2, 2, 2}, {0.25, 0.79, 0.55, -0.55, -0.4, 0.75, -0.99, 0.64});
  std::vector<std::optional<Tensor>> rest = {
      f32({2, 8, 2}, {0.59,  -0.06, -0.39, -0.44, -0.49, -0.11, 0.01,  0.11,  0.99, 0.59, 0.24,
                      0.98,  -0.57, -0.68, 0.23,  -0.91, -0.93, 0.03,  -0.07, 0.83, 0.26, 0.03,
                      -0.01, -0.5,  -0.98, -0.62, 0.38,  -0.6,  -0.26, -0.99, 0.66, -0.69}),
      f32({2, 8, 2}, {-0.46, 0.76,  0.02,  0.69,  0.28, 0.48,  -0.82, 0.08,  0.02, 0.74, -0.28,
                      0.2,   -0.88, -0.22, -0.35, -0.7, 0.63,  -0.24, 0.96,  0.18, 0.21, 0.28,
                      0.35,  -0.7,  -0.12, -0.52, -0.2, -0.81, 0.94,  -0.57, 0.34, -0.4}),
      f32({2, 16}, {0.75,  0.32, -0.74, 0.69,  0.89,  0.81,  0.14,  -0.71, -0.62, 0.86,  0.1,
                    -0.64, 0.77, 0.28,  0.14,  -0.25, -0.18, -0.52, -0.92, 0.75,  -0.06, 0.1,
                    -0.36, 0.5,  -0.95, -0.26, -0.94, -0.75, 0.93,  0.32,  -0.14, 0.05}),
      Tensor::from_vector<int32_t>({2}, {2, 1}),
      f32({2, 2, 2}, {0.75, -0.31, 0.18, 0.37, -0.29, 0.04, 0.53, 0.82}),
      f32({2, 2, 2}, {-0.7, 0.87, -0.99, 0.51, 0.62, -0.73, -0.16, 0.63}),
      f32({2, 6}, {-0.97, 0.26, 0.59, 0.03, 0.45, -0.55, -0.6, -0.27, -0.64, -0.31, 0.9, 0.15})};
  Recurrent t(OpKind::LSTM, x, rest, 3,
              {{"hidden_size", Attribute::of_int(2)}, {"direction", Attribute::of_string("bidirectional")}});
  ASSERT_TRUE(t.status.is_ok()) << t.status.message();
  EXPECT_EQ(type_str(t.outs[0]->type), "f32[2,2,2,2]");
  auto out = t.run(x);
  expect_near(floats(out[0]),
              {-0.1536814f, 0.0111892f, -0.1633672f, -0.07872913f, 0.004169166f, -0.05480842f, -0.01970135f,
               0.2315761f, -0.166989f, -0.3234075f, 0, 0, 0.02973582f, -0.1792884f, 0, 0});
  expect_near(floats(out[1]), {-0.166989f, -0.3234075f, -0.1633672f, -0.07872913f, 0.004169166f, -0.05480842f,
                               -0.01970135f, 0.2315761f});
  expect_near(floats(out[2]), {-0.7172436f, -0.6608575f, -0.7544714f, -0.1698316f, 0.03028945f, -0.1239514f,
                               -0.09462646f, 0.6142782f});
}

TEST(OpsRnn, InferenceKeepsSymbolsAndTakesHiddenFromW) {
  Graph g;
  Builder b(g, infer_node);
  Shape xs;
  xs.rank_known = true;
  xs.dims = {Dim::named("T"), Dim::named("N"), Dim::known(4)};
  Value* x = b.input("x", TensorType{DType::F32, xs});
  Value* w = b.input("w", static_type(DType::F32, {1, 20, 4}));
  Value* r = b.input("r", TensorType{DType::F32, Shape::unknown_rank()});
  auto outs = b.op_n(OpKind::LSTM, {x, w, r}, 3);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(outs[0]->type), "f32[T,1,N,5]");
  EXPECT_EQ(type_str(outs[2]->type), "f32[1,N,5]");

  Value* xu = b.input("xu", TensorType{DType::F16, Shape::unknown_rank()});
  Value* wu = b.input("wu", TensorType{DType::F16, Shape::unknown_rank()});
  auto outs2 =
      b.op_n(OpKind::GRU, {xu, wu, wu}, 2,
             {{"hidden_size", Attribute::of_int(3)}, {"direction", Attribute::of_string("bidirectional")}});
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(outs2[0]->type), "f16[?,2,?,3]");
}

TEST(OpsRnn, BadAttributesAreErrors) {
  Tensor x = f32({1, 1, 1}, {1});
  Recurrent bad_act(OpKind::RNN, x, {f32({1, 1, 1}, {1}), f32({1, 1, 1}, {1})}, 1,
                    {{"activations", Attribute::of_strings({"Swish"})}});
  ASSERT_FALSE(bad_act.status.is_ok());
  EXPECT_NE(bad_act.status.message().find("activation 'Swish' is not supported"), std::string::npos);
  Recurrent bad_count(OpKind::GRU, x, {f32({1, 3, 1}, {1, 1, 1}), f32({1, 3, 1}, {1, 1, 1})}, 1,
                      {{"activations", Attribute::of_strings({"Sigmoid"})}});
  EXPECT_FALSE(bad_count.status.is_ok());
  Recurrent bad_rows(OpKind::LSTM, x, {f32({1, 3, 1}, {1, 1, 1}), f32({1, 3, 1}, {1, 1, 1})}, 1,
                     {{"hidden_size", Attribute::of_int(1)}});
  EXPECT_FALSE(bad_rows.status.is_ok());
}

TEST(OpsDet, BatchedDeterminantsWithPivotingAndSingularMatrices) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F32, {3, 2, 2}));
  b.output(b.op(OpKind::Det, {x}));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(g.outputs[0]->type), "f32[3]");
  // 1*4 - 2*3 = -2; [[0,1],[1,0]] needs a row swap: -1; [[1,2],[2,4]] is singular: 0.
  Tensor t = f32({3, 2, 2}, {1, 2, 3, 4, 0, 1, 1, 0, 1, 2, 2, 4});
  auto out = run_graph(g, {&t});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ(floats((*out)[0]), (std::vector<float>{-2, -1, 0}));
  EXPECT_FALSE(std::signbit((*out)[0].data<float>()[2]));
}

TEST(OpsDet, ThreeByThreeInDoubleAndEmptyMatrices) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F64, {3, 3}));
  b.output(b.op(OpKind::Det, {x}));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(g.outputs[0]->type), "f64[]");
  // Cofactors along row 0: 2*(4*6-5*0) - 1*(3*6-5*1) + 0 = 48 - 13 = 35.
  Tensor t = Tensor::from_vector<double>({3, 3}, {2, 1, 0, 3, 4, 5, 1, 0, 6});
  auto out = run_graph(g, {&t});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_DOUBLE_EQ((*out)[0].data<double>()[0], 35.0);

  Graph g2;
  Builder b2(g2, infer_node);
  Value* e = b2.input("e", static_type(DType::F32, {2, 0, 0}));
  b2.output(b2.op(OpKind::Det, {e}));
  Tensor te(DType::F32, {2, 0, 0});
  auto out2 = run_graph(g2, {&te});
  ASSERT_TRUE(out2.has_value()) << out2.status().message();
  EXPECT_EQ(floats((*out2)[0]), (std::vector<float>{1, 1}));  // the empty product
}

TEST(OpsDet, NonSquareIsAnError) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F32, {2, 3}));
  b.op(OpKind::Det, {x});
  ASSERT_FALSE(b.status().is_ok());
  EXPECT_NE(b.status().message().find("square"), std::string::npos);
}

TEST(OpsLegacy, ScatterAndUpsampleOnlyExistDuringImport) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F32, {1, 1, 2, 2}));
  Value* s = b.constant("s", f32({4}, {1, 1, 2, 2}));
  b.op(OpKind::Upsample, {x, s});
  ASSERT_FALSE(b.status().is_ok());
  EXPECT_NE(b.status().message().find("Upsample is rewritten at import"), std::string::npos);
  EXPECT_EQ(op_schema(OpKind::Scatter).kernel, nullptr);
}

}  // namespace
}  // namespace weec
