// Graph mutation helpers: clone, topological_sort, replace_all_uses and
// removal. The text printer serves as the structural equality check.
#include <gtest/gtest.h>

#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "ops/op_util.h"

namespace weec {
namespace {

const char* kNested = R"(graph main(%c: bool[], %x: f32[2]) -> (%o, %n) {
  %one: f32[2] = const [1.0, 1.0]
  %n: f32[2] = Neg(%x) @neg
  %o: f32[2] = If(%c) {else_branch=graph else_body() -> (%e) {
    %e: f32[2] = Sub(%n, %one)
    return %e
  }, then_branch=graph then_body() -> (%t) {
    %inner: f32[2] = If(%c) {else_branch=graph e2() -> (%x) {
      return %x
    }, then_branch=graph t2() -> (%tt) {
      %tt: f32[2] = Add(%x, %one)
      return %tt
    }}
    %t: f32[2] = Mul(%inner, %x)
    return %t
  }} @if
  return %o, %n
}
)";

std::unique_ptr<Graph> parse_ok(std::string_view text) {
  auto r = parse_graph(text);
  EXPECT_TRUE(r.has_value()) << r.status().message();
  return r.has_value() ? std::move(*r) : nullptr;
}

const Graph& sub(const Graph& g, size_t node, const char* attr) { return *g.nodes()[node]->attr(attr)->g; }

TEST(IrGraph, CloneIsDeepAndRemapsOuterReferences) {
  auto g = parse_ok(kNested);
  ASSERT_TRUE(g);
  auto c = g->clone();
  EXPECT_EQ(print_graph(*c), print_graph(*g));
  EXPECT_TRUE(verify_graph(*c).is_ok()) << verify_graph(*c).message();
  EXPECT_EQ(c->parent, nullptr);
  // No pointer of the clone leads back into the original.
  EXPECT_NE(c->inputs[1], g->inputs[1]);
  EXPECT_EQ(c->inputs[1]->owner, c.get());
  const Graph& then_c = sub(*c, 1, "then_branch");
  EXPECT_EQ(then_c.parent, c.get());
  const Graph& t2 = sub(then_c, 0, "then_branch");
  EXPECT_EQ(t2.parent, &then_c);
  EXPECT_EQ(t2.nodes()[0]->inputs[0], c->inputs[1]);
  EXPECT_EQ(t2.nodes()[0]->inputs[1], c->find_value("one"));
  EXPECT_EQ(sub(then_c, 0, "else_branch").outputs[0], c->inputs[1]);
  EXPECT_EQ(sub(*c, 1, "else_branch").nodes()[0]->inputs[0], c->find_value("n"));
  // Constant data is immutable and shared.
  EXPECT_EQ(c->find_value("one")->constant, g->find_value("one")->constant);
  // Mutating the clone leaves the original alone.
  std::string before = print_graph(*g);
  c->nodes()[0]->name = "changed";
  c->find_value("x")->name = "x2";
  EXPECT_EQ(print_graph(*g), before);
  EXPECT_NE(print_graph(*c).find("%t: f32[2] = Mul(%inner, %x2)"), std::string::npos);
}

TEST(IrGraph, TopologicalSortIsStableAndFixesOrder) {
  Graph g;
  Value* x = g.add_input("x", static_type(DType::F32, {2}));
  Value* a = g.add_value("a", static_type(DType::F32, {2}));
  Value* b = g.add_value("b", static_type(DType::F32, {2}));
  Value* c = g.add_value("c", static_type(DType::F32, {2}));
  Value* d = g.add_value("d", static_type(DType::F32, {2}));
  g.add_node(OpKind::Add, {a, b}, {c}, {}, "n_c");  // needs a and b, defined below
  g.add_node(OpKind::Neg, {x}, {d}, {}, "n_d");     // independent: keeps its place before n_a
  g.add_node(OpKind::Relu, {x}, {b}, {}, "n_b");
  g.add_node(OpKind::Neg, {x}, {a}, {}, "n_a");
  g.outputs = {c, d};
  EXPECT_FALSE(verify_graph(g).is_ok());
  ASSERT_TRUE(g.topological_sort().is_ok());
  EXPECT_TRUE(verify_graph(g).is_ok()) << verify_graph(g).message();
  std::vector<std::string> order;
  for (auto& n : g.nodes()) order.push_back(n->name);
  // DFS from each node in the old order, dependencies in input order.
  EXPECT_EQ(order, (std::vector<std::string>{"n_a", "n_b", "n_c", "n_d"}));
  ASSERT_TRUE(g.topological_sort().is_ok());  // already sorted: unchanged
  std::vector<std::string> again;
  for (auto& n : g.nodes()) again.push_back(n->name);
  EXPECT_EQ(again, order);
}

TEST(IrGraph, TopologicalSortSeesSubgraphReads) {
  auto g = parse_ok(kNested);
  ASSERT_TRUE(g);
  // Move %n's producer after the If whose else branch reads %n.
  Graph& main = *g;
  Node* neg = main.nodes()[0].get();
  Node* if_node = main.nodes()[1].get();
  auto cl = main.clone();
  std::string expected = print_graph(*cl);
  // Rebuild the wrong order: remove Neg and append an equivalent node.
  Value* n = neg->outputs[0];
  Value* x = neg->inputs[0];
  main.remove_node(neg);
  main.add_node(OpKind::Neg, {x}, {n}, {}, "neg");
  EXPECT_EQ(main.nodes()[0].get(), if_node);
  EXPECT_FALSE(verify_graph(main).is_ok());
  ASSERT_TRUE(main.topological_sort().is_ok());
  EXPECT_EQ(print_graph(main), expected);
}

TEST(IrGraph, TopologicalSortReportsCycleAndKeepsGraph) {
  Graph g;
  Value* x = g.add_input("x", static_type(DType::F32, {2}));
  Value* t1 = g.add_value("t1");
  Value* t2 = g.add_value("t2");
  g.add_node(OpKind::Neg, {x}, {g.add_value("free")}, {}, "free");
  g.add_node(OpKind::Add, {x, t2}, {t1}, {}, "a");
  g.add_node(OpKind::Mul, {t1, x}, {t2}, {}, "b");
  std::string before = print_graph(g);
  Status st = g.topological_sort();
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("has a cycle"), std::string::npos) << st.message();
  EXPECT_EQ(print_graph(g), before);
  EXPECT_EQ(g.nodes().size(), 3u);
}

TEST(IrGraph, ReplaceAllUsesReachesSubgraphsAndOutputs) {
  auto g = parse_ok(kNested);
  ASSERT_TRUE(g);
  Value* x = g->find_value("x");
  Value* y = g->add_input("y", static_type(DType::F32, {2}));
  Value* n = g->find_value("n");
  g->replace_all_uses(n, y);
  g->replace_all_uses(x, y);
  EXPECT_TRUE(g->users(x).empty());
  EXPECT_EQ(g->outputs[1], y);
  const Graph& then_b = sub(*g, 1, "then_branch");
  EXPECT_EQ(sub(then_b, 0, "then_branch").nodes()[0]->inputs[0], y);
  EXPECT_EQ(sub(then_b, 0, "else_branch").outputs[0], y);  // a subgraph output is a use too
  EXPECT_EQ(sub(*g, 1, "else_branch").nodes()[0]->inputs[0], y);
  EXPECT_EQ(g->users(y).size(), 1u);  // Neg; subgraph uses are not listed by users()
  // The graph is still valid; %n now is dead but still defined.
  EXPECT_TRUE(verify_graph(*g).is_ok()) << verify_graph(*g).message();
}

TEST(IrGraph, RemoveNodeAndUnusedValues) {
  auto g = parse_ok(kNested);
  ASSERT_TRUE(g);
  Value* y = g->add_input("y", static_type(DType::F32, {2}));
  Value* n = g->find_value("n");
  g->replace_all_uses(n, y);
  Node* neg = n->producer;
  g->remove_node(neg);
  EXPECT_EQ(n->producer, nullptr);
  size_t before = g->values().size();
  g->remove_unused_values();
  EXPECT_EQ(g->values().size(), before - 1);
  EXPECT_EQ(g->find_value("n"), nullptr);
  EXPECT_NE(g->find_value("one"), nullptr);  // still read inside a subgraph
  EXPECT_TRUE(verify_graph(*g).is_ok()) << verify_graph(*g).message();
  std::string text = print_graph(*g);
  EXPECT_EQ(text.find("Neg"), std::string::npos);
  auto again = parse_ok(text);
  ASSERT_TRUE(again);
  EXPECT_EQ(print_graph(*again), text);
}

TEST(IrGraph, UniqueNameAvoidsExistingNames) {
  Graph g;
  g.add_input("x", static_type(DType::F32, {1}));
  g.add_value("x_1");
  EXPECT_EQ(g.unique_name("y"), "y");
  EXPECT_EQ(g.unique_name("x"), "x_2");
}

}  // namespace
}  // namespace weec
