// If, Loop and Scan on tiny hand-built graphs. Every expected value is derived
// by hand in the comment next to it.
#include <gtest/gtest.h>

#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {
namespace {

std::vector<float> floats_of(const Tensor& t) {
  const float* p = t.data<float>();
  return std::vector<float>(p, p + t.numel());
}

// A subgraph of `outer` (bodies and branches), built with inference on.
std::shared_ptr<Graph> subgraph(Graph& outer, const std::string& name) {
  auto g = std::make_shared<Graph>();
  g->name = name;
  g->parent = &outer;
  return g;
}

TensorType scalar_type(DType t) { return TensorType{t, Shape::of({})}; }

TEST(OpsControlFlow, LoopRunningSumWithScanOutput) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F32, {2}));
  Value* init = b.input("init", static_type(DType::F32, {2}));
  Value* m = b.constant("M", Tensor::scalar<int64_t>(3));

  // body(i, cond, sum) = (cond, sum + x + float(i), sum + x + float(i)); x comes from the outer graph.
  auto body = subgraph(g, "body");
  Builder bb(*body, infer_node);
  Value* it = bb.input("i", scalar_type(DType::I64));
  Value* cond_in = bb.input("cond_in", scalar_type(DType::Bool));
  Value* sum_in = bb.input("sum_in", static_type(DType::F32, {2}));
  Value* it_f = bb.op(OpKind::Cast, {it}, {{"to", Attribute::of_int(1)}});
  Value* step = bb.op(OpKind::Add, {x, it_f});
  Value* sum_out = bb.op(OpKind::Add, {sum_in, step});
  bb.output(cond_in);  // passed straight through: the trip count is exactly M
  bb.output(sum_out);
  bb.output(sum_out);
  ASSERT_TRUE(bb.status().is_ok()) << bb.status().message();

  auto outs = b.op_n(OpKind::Loop, {m, nullptr, init}, 2, {{"body", Attribute::of_graph(body)}});
  b.output(outs[0]);
  b.output(outs[1]);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(outs[0]->type), "f32[2]");
  EXPECT_EQ(type_str(outs[1]->type), "f32[3,2]");

  Tensor tx = Tensor::from_vector<float>({2}, {1, 2});
  Tensor ti = Tensor::from_vector<float>({2}, {0, 0});
  auto r = run_graph(g, {&tx, &ti});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  // i=0: +[1,2] -> [1,2]; i=1: +[2,3] -> [3,5]; i=2: +[3,4] -> [6,9].
  EXPECT_EQ(floats_of((*r)[0]), (std::vector<float>{6, 9}));
  EXPECT_EQ((*r)[1].dims(), (Dims{3, 2}));
  EXPECT_EQ(floats_of((*r)[1]), (std::vector<float>{1, 2, 3, 5, 6, 9}));
}

TEST(OpsControlFlow, LoopWithoutTripCountStopsOnCond) {
  Graph g;
  Builder b(g, infer_node);
  Value* cond = b.input("cond", scalar_type(DType::Bool));
  Value* init = b.input("init", scalar_type(DType::I64));

  // body(i, c, v) = (v*2 < 100, v*2, i)
  auto body = subgraph(g, "body");
  Builder bb(*body, infer_node);
  Value* it = bb.input("i", scalar_type(DType::I64));
  bb.input("c", scalar_type(DType::Bool));
  Value* v = bb.input("v", scalar_type(DType::I64));
  Value* two = bb.constant("two", Tensor::scalar<int64_t>(2));
  Value* limit = bb.constant("limit", Tensor::scalar<int64_t>(100));
  Value* v2 = bb.op(OpKind::Mul, {v, two});
  bb.output(bb.op(OpKind::Less, {v2, limit}));
  bb.output(v2);
  bb.output(it);
  ASSERT_TRUE(bb.status().is_ok()) << bb.status().message();

  auto outs = b.op_n(OpKind::Loop, {nullptr, cond, init}, 2, {{"body", Attribute::of_graph(body)}});
  b.output(outs[0]);
  b.output(outs[1]);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(outs[1]->type), "i64[?]");

  Tensor tc = Tensor::scalar<bool>(true), tv = Tensor::scalar<int64_t>(1);
  auto r = run_graph(g, {&tc, &tv});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  // 1 -> 2,4,8,16,32,64 (all < 100), then 128 makes cond false: 7 iterations.
  EXPECT_EQ((*r)[0].to_int_vector(), (std::vector<int64_t>{128}));
  EXPECT_EQ((*r)[1].to_int_vector(), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));

  // cond false on entry: no iteration, the initial value comes back.
  Tensor tf = Tensor::scalar<bool>(false);
  auto r0 = run_graph(g, {&tf, &tv});
  ASSERT_TRUE(r0.has_value()) << r0.status().message();
  EXPECT_EQ((*r0)[0].to_int_vector(), (std::vector<int64_t>{1}));
  EXPECT_EQ((*r0)[1].dims(), (Dims{0}));
}

TEST(OpsControlFlow, ZeroTripLoopKeepsInitialValuesAndEmptyScans) {
  Graph g;
  Builder b(g, infer_node);
  Value* init = b.input("init", static_type(DType::F32, {1}));
  Value* m = b.constant("M", Tensor::scalar<int64_t>(0));

  // The carried input is declared f32[?], so scan output a is f32[?] statically.
  auto body = subgraph(g, "body");
  Builder bb(*body, infer_node);
  bb.input("i", scalar_type(DType::I64));
  Value* c = bb.input("cond_in", scalar_type(DType::Bool));
  Value* v = bb.input("v", TensorType{DType::F32, Shape::of_rank(1)});
  Value* one = bb.constant("one", Tensor::scalar<float>(1));
  Value* v1 = bb.op(OpKind::Add, {v, one});
  Value* k = bb.constant("k", Tensor(DType::F32, {2, 3}));
  bb.output(c);
  bb.output(v1);
  bb.output(v1);
  bb.output(k);
  ASSERT_TRUE(bb.status().is_ok()) << bb.status().message();

  auto outs = b.op_n(OpKind::Loop, {m, nullptr, init}, 3, {{"body", Attribute::of_graph(body)}});
  for (Value* o : outs) b.output(o);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(outs[0]->type), "f32[?]");  // [1] merged with the body's [?]
  EXPECT_EQ(type_str(outs[1]->type), "f32[0,?]");
  EXPECT_EQ(type_str(outs[2]->type), "f32[0,2,3]");

  Tensor ti = Tensor::from_vector<float>({1}, {5});
  auto r = run_graph(g, {&ti});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(floats_of((*r)[0]), (std::vector<float>{5}));
  EXPECT_EQ((*r)[1].dims(), (Dims{0, 0}));  // unknown body dim reads as 0
  EXPECT_EQ((*r)[2].dims(), (Dims{0, 2, 3}));
}

TEST(OpsControlFlow, IfPicksBranchReadingOuterValue) {
  Graph g;
  Builder b(g, infer_node);
  Value* cond = b.input("cond", scalar_type(DType::Bool));
  Value* x = b.input("x", static_type(DType::F32, {3}));

  auto then_g = subgraph(g, "then");
  Builder tb(*then_g, infer_node);
  tb.output(tb.op(OpKind::Add, {x, x}));  // x + x, x from the outer scope
  auto else_g = subgraph(g, "else");
  Builder eb(*else_g, infer_node);
  eb.output(eb.op(OpKind::Neg, {x}));
  ASSERT_TRUE(tb.status().is_ok() && eb.status().is_ok());

  Value* y =
      b.op(OpKind::If, {cond},
           {{"then_branch", Attribute::of_graph(then_g)}, {"else_branch", Attribute::of_graph(else_g)}});
  b.output(y);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(y->type), "f32[3]");

  Tensor tx = Tensor::from_vector<float>({3}, {1, -2, 3});
  Tensor t = Tensor::scalar<bool>(true), f = Tensor::scalar<bool>(false);
  auto rt = run_graph(g, {&t, &tx});
  ASSERT_TRUE(rt.has_value()) << rt.status().message();
  EXPECT_EQ(floats_of((*rt)[0]), (std::vector<float>{2, -4, 6}));
  auto rf = run_graph(g, {&f, &tx});
  ASSERT_TRUE(rf.has_value()) << rf.status().message();
  EXPECT_EQ(floats_of((*rf)[0]), (std::vector<float>{-1, 2, -3}));
}

TEST(OpsControlFlow, IfMergesDifferingBranchDims) {
  Graph g;
  Builder b(g, infer_node);
  Value* cond = b.input("cond", scalar_type(DType::Bool));
  auto then_g = subgraph(g, "then");
  then_g->outputs.push_back(then_g->add_constant("a", Tensor::from_vector<float>({3}, {1, 2, 3})));
  auto else_g = subgraph(g, "else");
  else_g->outputs.push_back(else_g->add_constant("b", Tensor::from_vector<float>({2}, {4, 5})));
  Value* y =
      b.op(OpKind::If, {cond},
           {{"then_branch", Attribute::of_graph(then_g)}, {"else_branch", Attribute::of_graph(else_g)}});
  b.output(y);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(y->type), "f32[?]");
  Tensor f = Tensor::scalar<bool>(false);
  auto r = run_graph(g, {&f});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(floats_of((*r)[0]), (std::vector<float>{4, 5}));
}

TEST(OpsControlFlow, ScanReversedInputStackedOnAxis1) {
  Graph g;
  Builder b(g, infer_node);
  Value* init = b.input("init", static_type(DType::F32, {2}));
  Value* x = b.input("x", static_type(DType::F32, {3, 2}));
  auto body = subgraph(g, "body");
  Builder bb(*body, infer_node);
  Value* sum_in = bb.input("sum_in", static_type(DType::F32, {2}));
  Value* next = bb.input("next", static_type(DType::F32, {2}));
  Value* sum_out = bb.op(OpKind::Add, {sum_in, next});
  bb.output(sum_out);
  bb.output(sum_out);
  ASSERT_TRUE(bb.status().is_ok()) << bb.status().message();

  auto outs = b.op_n(OpKind::Scan, {init, x}, 2,
                     {{"body", Attribute::of_graph(body)},
                      {"num_scan_inputs", Attribute::of_int(1)},
                      {"scan_input_directions", Attribute::of_ints({1})},
                      {"scan_output_axes", Attribute::of_ints({-1})}});
  b.output(outs[0]);
  b.output(outs[1]);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(outs[1]->type), "f32[2,3]");

  Tensor ti = Tensor::from_vector<float>({2}, {0, 0});
  Tensor tx = Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  auto r = run_graph(g, {&ti, &tx});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  // Rows in reverse: [5,6] -> [5,6]; +[3,4] -> [8,10]; +[1,2] -> [9,12].
  EXPECT_EQ(floats_of((*r)[0]), (std::vector<float>{9, 12}));
  // Pieces [5,6], [8,10], [9,12] as columns of a [2,3] tensor.
  EXPECT_EQ(floats_of((*r)[1]), (std::vector<float>{5, 8, 9, 6, 10, 12}));
}

}  // namespace
}  // namespace weec
