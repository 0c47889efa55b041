// The verifier: each structural rule broken on purpose, plus the ops-aware
// checks (arity, inferred types) of verify_graph_with_ops. Add/Sub/Mul give
// real type inference.
#include <gtest/gtest.h>

#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "ops/op_util.h"
#include "ops/registry.h"
#include "ops/verify_ops.h"

namespace weec {
namespace {

void expect_error(const Status& st, const std::string& expected) {
  ASSERT_FALSE(st.is_ok()) << "expected an error containing: " << expected;
  EXPECT_NE(st.message().find(expected), std::string::npos) << st.message();
}

TEST(IrVerifier, ValidGraphPasses) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F32, {2, 1}));
  Value* y = b.input("y", static_type(DType::F32, {3}));
  Value* c = b.constant("c", Tensor::from_vector<float>({3}, {1, 2, 3}));
  Value* s = b.op(OpKind::Add, {x, y}, {}, "add");
  b.output(b.op(OpKind::Mul, {s, c}));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_TRUE(verify_graph(g).is_ok());
  Status st = verify_graph_with_ops(g);
  EXPECT_TRUE(st.is_ok()) << st.message();
}

TEST(IrVerifier, UseBeforeDefinition) {
  Graph g;
  Value* x = g.add_input("x", static_type(DType::F32, {2}));
  Value* later = g.add_value("later", static_type(DType::F32, {2}));
  Value* y = g.add_value("y", static_type(DType::F32, {2}));
  g.add_node(OpKind::Add, {x, later}, {y}, {}, "first");
  g.add_node(OpKind::Neg, {x}, {later}, {}, "second");
  g.outputs.push_back(y);
  expect_error(verify_graph(g),
               "node 'first' (Add): input 1 %later is used before its definition by node 'second' (Neg) "
               "(nodes are not in topological order)");
}

TEST(IrVerifier, CycleIsNamed) {
  Graph g;
  Value* x = g.add_input("x", static_type(DType::F32, {2}));
  Value* t1 = g.add_value("t1");
  Value* t2 = g.add_value("t2");
  g.add_node(OpKind::Add, {x, t2}, {t1}, {}, "a");
  g.add_node(OpKind::Mul, {t1, x}, {t2}, {}, "b");
  expect_error(verify_graph(g),
               "node 'a' (Add): input 1 %t2 comes from node 'b' (Mul), which depends on this node: "
               "the graph has a cycle");
  Graph g2;
  Value* u = g2.add_value("u");
  g2.add_node(OpKind::Relu, {u}, {u});
  expect_error(verify_graph(g2),
               "node #0 (Relu): input 0 %u comes from node #0 (Relu), which depends on this node");
}

TEST(IrVerifier, UndefinedValueAndGraphOutput) {
  Graph g;
  Value* x = g.add_input("x", static_type(DType::F32, {2}));
  Value* ghost = g.add_value("ghost");
  g.outputs.push_back(x);
  g.outputs.push_back(ghost);
  expect_error(verify_graph(g), "graph 'main': output 1 %ghost is not defined");
  g.outputs.pop_back();
  g.add_node(OpKind::Relu, {ghost}, {g.add_value("r")}, {}, "relu");
  expect_error(verify_graph(g), "node 'relu' (Relu): input 0 %ghost is not defined");
}

TEST(IrVerifier, DuplicateDefinitions) {
  {
    Graph g;
    Value* x = g.add_input("x", static_type(DType::F32, {2}));
    Value* y = g.add_value("y");
    g.add_node(OpKind::Relu, {x}, {y}, {}, "one");
    g.add_node(OpKind::Neg, {x}, {y}, {}, "two");
    expect_error(verify_graph(g),
                 "value %y is defined twice: as an output of node 'one' (Relu) and as an output of "
                 "node 'two' (Neg)");
  }
  {
    Graph g;
    Value* x = g.add_input("x", static_type(DType::F32, {2}));
    g.inputs.push_back(x);
    expect_error(verify_graph(g), "value %x is defined twice: as a graph input and as a graph input");
  }
  {
    Graph g;
    Value* x = g.add_input("x", static_type(DType::F32, {2}));
    g.add_node(OpKind::Relu, {x}, {g.add_value("x")}, {}, "r");
    expect_error(verify_graph(g), "graph 'main' has two values named %x");
  }
  {
    Graph g;
    Value* x = g.add_input("x", static_type(DType::F32, {2}));
    g.add_node(OpKind::Relu, {x}, {x}, {}, "r");
    expect_error(verify_graph(g), "graph input %x is also an output of node 'r' (Relu)");
  }
}

TEST(IrVerifier, ConstantTypeMustMatchItsData) {
  Graph g;
  Value* c = g.add_constant("c", Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}));
  EXPECT_TRUE(verify_graph(g).is_ok());
  c->type = static_type(DType::F32, {4});
  expect_error(verify_graph(g), "constant %c has type f32[4] but its data is f32[2,2]");
  c->type = static_type(DType::I64, {2, 2});
  expect_error(verify_graph(g), "constant %c has type i64[2,2] but its data is f32[2,2]");
}

TEST(IrVerifier, OwnershipLinks) {
  Graph g, other;
  other.name = "other";
  Value* x = g.add_input("x", static_type(DType::F32, {2}));
  Value* foreign = other.add_input("foreign", static_type(DType::F32, {2}));
  Node* n = g.add_node(OpKind::Add, {x, foreign}, {g.add_value("y")}, {}, "add");
  expect_error(verify_graph(g),
               "node 'add' (Add): input 1 %foreign belongs to graph 'other', which does not enclose");
  n->inputs[1] = x;
  EXPECT_TRUE(verify_graph(g).is_ok());
  n->outputs[0]->output_index = 3;
  expect_error(verify_graph(g), "value %y: its producer node 'add' (Add) does not have it as output 3");
  n->outputs[0]->output_index = 0;
  n->owner = &other;
  expect_error(verify_graph(g), "its owner is not graph 'main'");
}

// A graph with an If whose branches read outer values, built by parsing.
std::unique_ptr<Graph> parse_if_graph() {
  auto r = parse_graph(R"(graph main(%c: bool[], %x: f32[2]) -> (%o) {
  %one: f32[2] = const [1.0, 1.0]
  %o: f32[2] = If(%c) {else_branch=graph else_body() -> (%e) {
    %e: f32[2] = Sub(%x, %one)
    return %e
  }, then_branch=graph then_body() -> (%t) {
    %t: f32[2] = Add(%x, %one) @inner_add
    return %t
  }} @if
  return %o
})");
  EXPECT_TRUE(r.has_value()) << r.status().message();
  return r.has_value() ? std::move(*r) : nullptr;
}

TEST(IrVerifier, SubgraphsResolveOuterValues) {
  auto g = parse_if_graph();
  ASSERT_TRUE(g);
  EXPECT_TRUE(verify_graph(*g).is_ok());
  Status st = verify_graph_with_ops(*g);
  EXPECT_TRUE(st.is_ok()) << st.message();
  // A subgraph verified on its own may read its ancestors' values.
  Graph& then_body = *g->nodes()[0]->attrs["then_branch"].g;
  EXPECT_TRUE(verify_graph(then_body).is_ok());

  // An outer value defined after the node holding the subgraph.
  Value* late = g->add_value("late", static_type(DType::F32, {2}));
  g->add_node(OpKind::Neg, {g->inputs[1]}, {late}, {}, "neg");
  then_body.nodes()[0]->inputs[1] = late;
  expect_error(verify_graph(*g),
               "in subgraph 'then_body' (attribute 'then_branch') of node 'if' (If): node "
               "'inner_add' (Add): input 1 %late of enclosing graph 'main' is used before its "
               "definition there");
  then_body.nodes()[0]->inputs[1] = g->find_value("one");
  then_body.parent = nullptr;
  expect_error(verify_graph(*g),
               "node 'if' (If): subgraph 'then_body' (attribute 'then_branch') does not have graph "
               "'main' as its parent");
}

TEST(IrVerifier, WrongArityIsCaughtWithOps) {
  Graph g;
  Value* x = g.add_input("x", static_type(DType::F32, {2}));
  g.add_node(OpKind::Add, {x, x, x}, {g.add_value("y", static_type(DType::F32, {2}))}, {}, "add3");
  EXPECT_TRUE(verify_graph(g).is_ok());  // structurally fine
  expect_error(verify_graph_with_ops(g), "node 'add3' (Add): has 3 inputs, expected 2..2");
}

TEST(IrVerifier, UnknownAttributeIsCaughtWithOps) {
  Graph g;
  Value* x = g.add_input("x", static_type(DType::F32, {2}));
  g.add_node(OpKind::Add, {x, x}, {g.add_value("y", static_type(DType::F32, {2}))},
             {{"bogus", Attribute::of_int(1)}}, "add");
  expect_error(verify_graph_with_ops(g), "node 'add' (Add): unknown attribute 'bogus'");
}

TEST(IrVerifier, InconsistentInferredTypeIsCaught) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F32, {2, 1}));
  Value* y = b.input("y", static_type(DType::F32, {3}));
  Value* s = b.op(OpKind::Add, {x, y}, {}, "add");
  b.output(s);
  ASSERT_TRUE(b.status().is_ok());
  ASSERT_TRUE(verify_graph_with_ops(g).is_ok());
  s->type = static_type(DType::F32, {5, 3});
  expect_error(verify_graph_with_ops(g),
               "node 'add' (Add): output 0 %Add0 has type f32[5,3] but inference gives f32[2,3]");
  s->type = static_type(DType::I32, {2, 3});
  expect_error(verify_graph_with_ops(g), "has type i32[2,3] but inference gives f32[2,3]");
  // Less precise but consistent types are fine: inference may know more.
  s->type = TensorType{DType::F32, Shape::of_rank(2)};
  EXPECT_TRUE(verify_graph_with_ops(g).is_ok());
  s->type = TensorType{DType::F32, Shape::unknown_rank()};
  EXPECT_TRUE(verify_graph_with_ops(g).is_ok());

  // The same check inside a subgraph, with the subgraph path in the message.
  auto ig = parse_if_graph();
  ASSERT_TRUE(ig);
  ig->nodes()[0]->attrs["then_branch"].g->nodes()[0]->outputs[0]->type = static_type(DType::F32, {3});
  expect_error(verify_graph_with_ops(*ig),
               "in subgraph 'then_body' (attribute 'then_branch') of node 'if' (If): "
               "node 'inner_add' (Add): output 0 %t has type f32[3] but inference gives "
               "f32[2]");
}

int g_checked = 0;
Status count_and_reject_sub(const Node& n) {
  ++g_checked;
  if (n.op == OpKind::Sub) return error("{}: no Sub allowed", n.describe());
  return Status::ok();
}

TEST(IrVerifier, CheckNodeHookSeesSubgraphNodes) {
  auto g = parse_if_graph();
  ASSERT_TRUE(g);
  VerifyOptions opt;
  opt.check_node = count_and_reject_sub;
  g_checked = 0;
  expect_error(verify_graph(*g, opt),
               "in subgraph 'else_body' (attribute 'else_branch') of node 'if' (If): node #0 "
               "(Sub): no Sub allowed");
  EXPECT_EQ(g_checked, 1);
}

TEST(IrVerifier, NullPointersAreReportedNotDereferenced) {
  Graph g;
  Value* x = g.add_input("x", static_type(DType::F32, {2}));
  g.outputs.push_back(nullptr);
  expect_error(verify_graph(g), "graph 'main': output 0 is null");
  g.outputs.clear();
  Attribute a;
  a.kind = Attribute::Kind::Graph;
  g.add_node(OpKind::If, {x}, {}, {{"then_branch", a}}, "if");
  expect_error(verify_graph(g), "node 'if' (If): attribute 'then_branch' holds a null graph");
  // The printer does not crash on it either.
  EXPECT_NE(print_graph(g).find("then_branch=<null graph>"), std::string::npos);
}

}  // namespace
}  // namespace weec
