// Reductions, arg-reductions, the softmax family, losses, CumSum and TopK.
// Expected values are hand-derived (the arithmetic is in the comments) unless
// a comment says numpy computed them.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {
namespace {

const float kInf = std::numeric_limits<float>::infinity();

std::vector<float> floats(const Tensor& t) {
  std::vector<float> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = (float)t.get_double(i);
  return v;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(want[i]))
      EXPECT_EQ(got[i], want[i]) << "at " << i;
    else
      EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
  }
}

Tensor i64s(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({(int64_t)v.size()}, v); }

// One op on one input x (plus constant extra inputs); returns its outputs and
// checks the computed types against inference (the interpreter does that).
struct OneOp {
  Graph g;
  std::vector<Value*> outs;
  Status status;
  OneOp(OpKind op, const TensorType& xt, std::vector<Value*> (*extra)(Builder&), AttrMap attrs,
        int n_out = 1) {
    Builder b(g, infer_node);
    std::vector<Value*> ins = {b.input("x", xt)};
    if (extra)
      for (Value* v : extra(b)) ins.push_back(v);
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

Tensor x23() { return Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}); }
AttrMap keep(int k) { return {{"keepdims", Attribute::of_int(k)}}; }

TEST(OpsReduce, SumKeepdimsAlongAxis1) {
  OneOp t(
      OpKind::ReduceSum, static_type(DType::F32, {2, 3}),
      [](Builder& b) { return std::vector<Value*>{b.constant("axes", i64s({1}))}; }, keep(1));
  ASSERT_TRUE(t.status.is_ok()) << t.status.message();
  EXPECT_EQ(type_str(t.outs[0]->type), "f32[2,1]");
  expect_near(floats(t.run(x23())[0]), {6, 15});  // 1+2+3, 4+5+6
}

TEST(OpsReduce, MeanNegativeAxisWithoutKeepdims) {
  OneOp t(
      OpKind::ReduceMean, static_type(DType::F32, {2, 3}),
      [](Builder& b) { return std::vector<Value*>{b.constant("axes", i64s({-2}))}; }, keep(0));
  EXPECT_EQ(type_str(t.outs[0]->type), "f32[3]");
  expect_near(floats(t.run(x23())[0]), {2.5f, 3.5f, 4.5f});  // column means
}

TEST(OpsReduce, NoAxesReducesEverything) {
  OneOp t(OpKind::ReduceMax, static_type(DType::F32, {2, 3}), nullptr, keep(1));
  EXPECT_EQ(type_str(t.outs[0]->type), "f32[1,1]");
  expect_near(floats(t.run(x23())[0]), {6});
  OneOp u(OpKind::ReduceL2, static_type(DType::F32, {2, 3}), nullptr, keep(0));
  EXPECT_EQ(type_str(u.outs[0]->type), "f32[]");
  expect_near(floats(u.run(x23())[0]), {std::sqrt(91.f)});  // 1+4+9+16+25+36 = 91
}

TEST(OpsReduce, EmptyAxesWithNoopIsIdentity) {
  AttrMap a = {{"noop_with_empty_axes", Attribute::of_int(1)}};
  OneOp t(
      OpKind::ReduceSum, static_type(DType::F32, {2, 3}),
      [](Builder& b) { return std::vector<Value*>{b.constant("axes", i64s({}))}; }, a);
  EXPECT_EQ(type_str(t.outs[0]->type), "f32[2,3]");
  expect_near(floats(t.run(x23())[0]), {1, 2, 3, 4, 5, 6});
  // Without noop, empty axes reduce everything.
  OneOp u(
      OpKind::ReduceSum, static_type(DType::F32, {2, 3}),
      [](Builder& b) { return std::vector<Value*>{b.constant("axes", i64s({}))}; }, keep(0));
  EXPECT_EQ(type_str(u.outs[0]->type), "f32[]");
  expect_near(floats(u.run(x23())[0]), {21});
}

TEST(OpsReduce, RuntimeAxesKnowRankOnlyWithKeepdims) {
  for (int k : {0, 1}) {
    Graph g;
    Builder b(g, infer_node);
    Value* x = b.input("x", static_type(DType::F32, {2, 3}));
    Value* axes = b.input("axes", static_type(DType::I64, {1}));
    b.output(b.op(OpKind::ReduceSum, {x, axes}, keep(k)));
    ASSERT_TRUE(b.status().is_ok()) << b.status().message();
    // keepdims=0 with one runtime axis: rank 1, but which dim survives is unknown.
    EXPECT_EQ(type_str(g.outputs[0]->type), k ? "f32[?,?]" : "f32[?]");
    Tensor tx = x23(), ta = i64s({0});
    auto out = run_graph(g, {&tx, &ta});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    EXPECT_EQ((*out)[0].dims(), k ? (Dims{1, 3}) : (Dims{3}));
    expect_near(floats((*out)[0]), {5, 7, 9});
  }
}

TEST(OpsReduce, EmptySetGivesTheIdentity) {
  Tensor x(DType::F32, {2, 0});
  auto axis1 = [](Builder& b) { return std::vector<Value*>{b.constant("axes", i64s({1}))}; };
  struct Case {
    OpKind op;
    float want;
  } cases[] = {{OpKind::ReduceSum, 0},       {OpKind::ReduceProd, 1},       {OpKind::ReduceMax, -kInf},
               {OpKind::ReduceMin, kInf},    {OpKind::ReduceL1, 0},         {OpKind::ReduceL2, 0},
               {OpKind::ReduceSumSquare, 0}, {OpKind::ReduceLogSum, -kInf}, {OpKind::ReduceLogSumExp, -kInf}};
  for (auto& c : cases) {
    OneOp t(c.op, static_type(DType::F32, {2, 0}), axis1, keep(0));
    EXPECT_EQ(type_str(t.outs[0]->type), "f32[2]");
    expect_near(floats(t.run(x)[0]), {c.want, c.want});
  }
}

TEST(OpsReduce, IntegersWrapAndTruncate) {
  OneOp s(OpKind::ReduceSum, static_type(DType::I8, {2}), nullptr, keep(0));
  EXPECT_EQ(s.run(Tensor::from_vector<int8_t>({2}, {100, 100}))[0].get_int(0), -56);  // 200 - 256
  OneOp m(OpKind::ReduceMean, static_type(DType::I32, {2}), nullptr, keep(0));
  EXPECT_EQ(m.run(Tensor::from_vector<int32_t>({2}, {1, 2}))[0].get_int(0), 1);  // 1.5 truncated
  OneOp mx(OpKind::ReduceMax, static_type(DType::U8, {3}), nullptr, keep(0));
  EXPECT_EQ(mx.run(Tensor::from_vector<uint8_t>({3}, {7, 250, 3}))[0].get_int(0), 250);
}

TEST(OpsReduce, LogSumExpIsStableAndMaxPropagatesNaN) {
  OneOp t(OpKind::ReduceLogSumExp, static_type(DType::F32, {2}), nullptr, keep(0));
  // log(e^1000 + e^1000) = 1000 + ln 2
  expect_near(floats(t.run(Tensor::from_vector<float>({2}, {1000, 1000}))[0]), {1000.6931472f}, 1e-3f);
  OneOp m(OpKind::ReduceMax, static_type(DType::F32, {3}), nullptr, keep(0));
  EXPECT_TRUE(std::isnan(floats(m.run(Tensor::from_vector<float>({3}, {1, NAN, 5}))[0])[0]));
}

TEST(OpsReduce, DuplicateAxesAreAnError) {
  OneOp t(
      OpKind::ReduceSum, static_type(DType::F32, {2, 3}),
      [](Builder& b) {
        return std::vector<Value*>{b.constant("axes", i64s({1, -1}))};
      },
      keep(1));
  EXPECT_FALSE(t.status.is_ok());
}

TEST(OpsReduce, ImportTurnsAxesAttributeIntoInput) {
  Graph g;
  Value* x = g.add_input("x", static_type(DType::F32, {2, 3}));
  Value* y = g.add_value("y");
  ImportContext ctx(g, 11, "r", {x}, {y},
                    {{"axes", Attribute::of_ints({0})}, {"keepdims", Attribute::of_int(0)}});
  ASSERT_TRUE(op_schema(OpKind::ReduceMin).import(ctx).is_ok());
  ASSERT_EQ(g.nodes().size(), 1u);
  const Node& n = *g.nodes()[0];
  ASSERT_EQ(n.inputs.size(), 2u);
  ASSERT_TRUE(n.inputs[1]->is_constant());
  EXPECT_EQ(n.inputs[1]->constant->to_int_vector(), (std::vector<int64_t>{0}));
  EXPECT_EQ(n.attr("axes"), nullptr);
  ASSERT_TRUE(validate_node(n).is_ok());
  g.outputs.push_back(y);
  ASSERT_TRUE(infer_graph(g).is_ok());
  Tensor tx = x23();
  auto out = run_graph(g, {&tx});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  expect_near(floats((*out)[0]), {1, 2, 3});
}

TEST(OpsArgReduce, SelectLastIndexPicksTheLastTie) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 3, 3, 2, 2, 0});
  for (int last : {0, 1}) {
    AttrMap a = {{"axis", Attribute::of_int(1)},
                 {"keepdims", Attribute::of_int(0)},
                 {"select_last_index", Attribute::of_int(last)}};
    OneOp mx(OpKind::ArgMax, static_type(DType::F32, {2, 3}), nullptr, a);
    EXPECT_EQ(type_str(mx.outs[0]->type), "i64[2]");
    EXPECT_EQ(mx.run(x)[0].to_int_vector(),
              last ? (std::vector<int64_t>{2, 1}) : (std::vector<int64_t>{1, 0}));
    OneOp mn(OpKind::ArgMin, static_type(DType::F32, {2, 3}), nullptr, a);
    EXPECT_EQ(mn.run(x)[0].to_int_vector(), (std::vector<int64_t>{0, 2}));
  }
  OneOp k(OpKind::ArgMax, static_type(DType::F32, {2, 3}), nullptr, {});  // axis 0, keepdims
  EXPECT_EQ(type_str(k.outs[0]->type), "i64[1,3]");
  EXPECT_EQ(k.run(x)[0].to_int_vector(), (std::vector<int64_t>{1, 0, 0}));
}

// x = [[[0, 1], [2, 3]]] (shape [1,2,2]) with axis 1.
Tensor x122() { return Tensor::from_vector<float>({1, 2, 2}, {0, 1, 2, 3}); }

TEST(OpsSoftmax, Opset13NormalisesOneAxis) {
  OneOp t(OpKind::Softmax, static_type(DType::F32, {1, 2, 2}), nullptr, {{"axis", Attribute::of_int(1)}});
  // Pairs (0, 2) and (1, 3): 1 / (1 + e^2) = 0.1192029, e^2 / (1 + e^2) = 0.8807971.
  expect_near(floats(t.run(x122())[0]), {0.1192029f, 0.1192029f, 0.8807971f, 0.8807971f});
  OneOp l(OpKind::LogSoftmax, static_type(DType::F32, {1, 2, 2}), nullptr, {{"axis", Attribute::of_int(1)}});
  expect_near(floats(l.run(x122())[0]), {-2.1269280f, -2.1269280f, -0.1269280f, -0.1269280f});  // ln of above
  OneOp h(OpKind::Hardmax, static_type(DType::F32, {1, 2, 2}), nullptr, {});                    // axis -1
  expect_near(floats(h.run(x122())[0]), {0, 1, 0, 1});
}

// Opset < 13: the import hook flattens [axis, rank) into one block.
void check_legacy_softmax(TensorType xt) {
  Graph g;
  Value* x = g.add_input("x", xt);
  Value* y = g.add_value("y");
  ImportContext ctx(g, 11, "sm", {x}, {y}, {{"axis", Attribute::of_int(1)}});
  ASSERT_TRUE(op_schema(OpKind::Softmax).import(ctx).is_ok());
  g.outputs.push_back(y);
  for (auto& n : g.nodes()) ASSERT_TRUE(validate_node(*n).is_ok()) << validate_node(*n).message();
  ASSERT_TRUE(infer_graph(g).is_ok()) << infer_graph(g).message();
  Tensor tx = x122();
  auto out = run_graph(g, {&tx});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ((*out)[0].dims(), (Dims{1, 2, 2}));
  // e^k / (1 + e + e^2 + e^3), sum = 31.1928749
  expect_near(floats((*out)[0]), {0.0320586f, 0.0871443f, 0.2368828f, 0.6439143f});
}

TEST(OpsSoftmax, LegacyOpsetFlattensStaticShape) { check_legacy_softmax(static_type(DType::F32, {1, 2, 2})); }

TEST(OpsSoftmax, LegacyOpsetFlattensUnknownShape) {
  check_legacy_softmax(TensorType{DType::F32, Shape::unknown_rank()});
}

TEST(OpsSoftmax, LargeInputsDoNotOverflow) {
  OneOp t(OpKind::Softmax, static_type(DType::F32, {2}), nullptr, {});
  expect_near(floats(t.run(Tensor::from_vector<float>({2}, {10000, 10000}))[0]), {0.5f, 0.5f});
}

TEST(OpsLoss, NllIgnoreIndexAndWeights) {
  // input [[-1,-2,-3],[-4,-5,-6]], target [1, 2], weight [0.5, 2, 4], ignore_index 2:
  // element 0 -> -2 * -2 = 4 (weight 2), element 1 ignored -> 0.
  for (std::string red : {"none", "sum", "mean"}) {
    Graph g;
    Builder b(g, infer_node);
    Value* x = b.input("x", static_type(DType::F32, {2, 3}));
    Value* t = b.constant("t", Tensor::from_vector<int64_t>({2}, {1, 2}));
    Value* w = b.constant("w", Tensor::from_vector<float>({3}, {0.5f, 2, 4}));
    AttrMap a = {{"reduction", Attribute::of_string(red)}, {"ignore_index", Attribute::of_int(2)}};
    b.output(b.op(OpKind::NegativeLogLikelihoodLoss, {x, t, w}, a));
    b.output(b.op(OpKind::NegativeLogLikelihoodLoss, {x, t}, a));
    ASSERT_TRUE(b.status().is_ok()) << b.status().message();
    Tensor tx = Tensor::from_vector<float>({2, 3}, {-1, -2, -3, -4, -5, -6});
    auto out = run_graph(g, {&tx});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    if (red == "none") {
      expect_near(floats((*out)[0]), {4, 0});
      expect_near(floats((*out)[1]), {2, 0});
    } else if (red == "sum") {
      expect_near(floats((*out)[0]), {4});
      expect_near(floats((*out)[1]), {2});
    } else {  // divided by the weights of the non-ignored elements: 4 / 2, 2 / 1
      expect_near(floats((*out)[0]), {2});
      expect_near(floats((*out)[1]), {2});
    }
  }
}

TEST(OpsLoss, SoftmaxCrossEntropyWithLogProb) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F32, {1, 2}));
  Value* t = b.constant("t", Tensor::from_vector<int32_t>({1}, {1}));
  auto outs = b.op_n(OpKind::SoftmaxCrossEntropyLoss, {x, t}, 2, {});
  b.output(outs[0]);
  b.output(outs[1]);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(outs[0]->type), "f32[]");
  Tensor tx = Tensor::from_vector<float>({1, 2}, {0, 0});
  auto out = run_graph(g, {&tx});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  expect_near(floats((*out)[0]), {0.6931472f});  // -ln(1/2)
  expect_near(floats((*out)[1]), {-0.6931472f, -0.6931472f});
}

TEST(OpsCumSum, ExclusiveReverse) {
  AttrMap a = {{"exclusive", Attribute::of_int(1)}, {"reverse", Attribute::of_int(1)}};
  OneOp t(
      OpKind::CumSum, static_type(DType::I32, {4}),
      [](Builder& b) { return std::vector<Value*>{b.constant("axis", Tensor::scalar<int32_t>(0))}; }, a);
  // from the end, excluding self: [2+3+4, 3+4, 4, 0]
  EXPECT_EQ(t.run(Tensor::from_vector<int32_t>({4}, {1, 2, 3, 4}))[0].to_int_vector(),
            (std::vector<int64_t>{9, 7, 4, 0}));
  OneOp u(OpKind::CumSum, static_type(DType::F32, {2, 3}),
          [](Builder& b) { return std::vector<Value*>{b.constant("axis", Tensor::scalar<int64_t>(-1))}; },
          {});
  expect_near(floats(u.run(x23())[0]), {1, 3, 6, 4, 9, 15});
}

TEST(OpsTopK, TiesTakeTheLowerIndexFirst) {
  for (int largest : {1, 0}) {
    OneOp t(
        OpKind::TopK, static_type(DType::F32, {4}),
        [](Builder& b) { return std::vector<Value*>{b.constant("k", i64s({2}))}; },
        {{"largest", Attribute::of_int(largest)}}, 2);
    ASSERT_TRUE(t.status.is_ok()) << t.status.message();
    EXPECT_EQ(type_str(t.outs[1]->type), "i64[2]");
    auto r = t.run(Tensor::from_vector<float>({4}, {3, 1, 3, 2}));
    if (largest) {
      expect_near(floats(r[0]), {3, 3});
      EXPECT_EQ(r[1].to_int_vector(), (std::vector<int64_t>{0, 2}));
    } else {
      expect_near(floats(r[0]), {1, 2});
      EXPECT_EQ(r[1].to_int_vector(), (std::vector<int64_t>{1, 3}));
    }
  }
}

TEST(OpsTopK, Opset1AttributeBecomesInput) {
  Graph g;
  Value* x = g.add_input("x", static_type(DType::F32, {2, 2}));
  Value* v = g.add_value("v");
  Value* i = g.add_value("i");
  ImportContext ctx(g, 1, "topk", {x}, {v, i}, {{"k", Attribute::of_int(1)}, {"axis", Attribute::of_int(0)}});
  ASSERT_TRUE(op_schema(OpKind::TopK).import(ctx).is_ok());
  ASSERT_TRUE(validate_node(*g.nodes()[0]).is_ok());
  g.outputs = {v, i};
  ASSERT_TRUE(infer_graph(g).is_ok());
  EXPECT_EQ(type_str(v->type), "f32[1,2]");
  Tensor tx = Tensor::from_vector<float>({2, 2}, {1, 5, 4, 2});
  auto out = run_graph(g, {&tx});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  expect_near(floats((*out)[0]), {4, 5});
  EXPECT_EQ((*out)[1].to_int_vector(), (std::vector<int64_t>{1, 0}));
}

}  // namespace
}  // namespace weec
