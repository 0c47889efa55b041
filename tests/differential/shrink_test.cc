// The shrinker against fake failures: a predicate that "fails" on a graph
// property must leave the smallest graph with that property.
#include <gtest/gtest.h>

#include "differential.h"
#include "ops/registry.h"
#include "shrink_edits.h"

namespace weec::diff {
namespace {

Tensor filled(const Dims& d, double v) {
  Tensor t(DType::F32, d);
  for (int64_t i = 0; i < t.numel(); ++i) t.set_double(i, v + 0.01 * static_cast<double>(i % 7));
  return t;
}

TensorType f32(const Dims& d) { return {DType::F32, Shape::of(d), std::nullopt}; }

// x[2,4,9,11] -> grouped, dilated, strided, padded conv -> Relu -> 1x1 conv -> + per-channel constant.
std::unique_ptr<Graph> three_layers() {
  auto g = std::make_unique<Graph>();
  Builder b(*g, infer_node);
  Value* x = b.input("x", f32({2, 4, 9, 11}));
  AttrMap a;
  a["group"] = Attribute::of_int(2);
  a["kernel_shape"] = Attribute::of_ints({3, 3});
  a["dilations"] = Attribute::of_ints({2, 3});
  a["strides"] = Attribute::of_ints({2, 1});
  a["pads"] = Attribute::of_ints({1, 0, 2, 1});
  Value* y =
      b.op(OpKind::Conv, {x, b.constant("w", filled({6, 2, 3, 3}, 0.1)), b.constant("b", filled({6}, 0))}, a);
  y = b.op(OpKind::Relu, {y});
  y = b.op(OpKind::Conv, {y, b.constant("w2", filled({5, 6, 1, 1}, -0.2))});
  y = b.op(OpKind::Add, {y, b.constant("c", filled({5, 1, 1}, 0.5))});
  b.output(y);
  EXPECT_TRUE(b.status()) << b.status().message();
  return g;
}

bool has_dilated_conv(const Graph& g) {
  for (auto& n : g.nodes())
    if (const Attribute* d = n->attr("dilations"); n->op == OpKind::Conv && d)
      for (int64_t v : d->ints)
        if (v > 1) return true;
  return false;
}

TEST(Shrink, FakeDilationFailureShrinksToOneTinyConv) {
  auto g = three_layers();
  std::mt19937 rng(3);
  Case c;
  c.graph = g.get();
  c.feeds = random_inputs(*g, rng);
  Predicate fails = [](const Case& t) {
    return has_dilated_conv(*t.graph) ? std::string("fake: dilated") : "";
  };
  EXPECT_EQ(shrink(g, c, fails), "fake: dilated");
  ASSERT_EQ(g->nodes().size(), 1u);
  const Node& n = *g->nodes()[0];
  EXPECT_EQ(n.op, OpKind::Conv);
  // Everything but one dilation > 1 is simplified away, every dim cut to 1.
  EXPECT_EQ(n.attr("group"), nullptr);
  EXPECT_EQ(n.attr("pads"), nullptr);
  EXPECT_EQ(n.attr("strides")->ints, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(n.attr("kernel_shape")->ints, (std::vector<int64_t>{1, 1}));
  const auto& d = n.attr("dilations")->ints;
  EXPECT_EQ(std::count_if(d.begin(), d.end(), [](int64_t v) { return v > 1; }), 1);
  EXPECT_EQ(g->inputs[0]->type.shape.static_dims(), (Dims{1, 1, 1, 1}));
  EXPECT_EQ(n.inputs[1]->constant->dims(), (Dims{1, 1, 1, 1}));
  EXPECT_EQ(c.graph, g.get());
  EXPECT_EQ(c.feeds[0].dims(), (Dims{1, 1, 1, 1}));  // fresh feeds for the cut input
}

TEST(Shrink, KeepsTheFailingCheck) {
  // A candidate failing another check is not taken: here every cut "fails"
  // differently, so the graph stays whole.
  auto g = three_layers();
  const size_t nodes = g->nodes().size();
  std::mt19937 rng(3);
  Case c;
  c.graph = g.get();
  c.feeds = random_inputs(*g, rng);
  Predicate fails = [nodes](const Case& t) {
    return std::string(t.graph->nodes().size() == nodes ? "interp-vs-c: x" : "O0-vs-O2: y");
  };
  EXPECT_EQ(shrink(g, c, fails), "interp-vs-c: x");
  EXPECT_EQ(g->nodes().size(), nodes);
}

TEST(Shrink, FewerChannelsAdaptConsumers) {
  // Cutting the input's channels from 4 to 1: the grouped conv becomes a
  // plain one, whose weights are cut; the rest still infers.
  auto g = three_layers();
  auto h = g->clone();
  h->inputs[0]->type.shape = Shape::of({1, 1, 9, 11});
  ASSERT_TRUE(reinfer(*h));
  EXPECT_EQ(h->nodes()[0]->inputs[1]->constant->dims(), (Dims{6, 1, 3, 3}));
  EXPECT_EQ(h->outputs[0]->type.shape.static_dims(), (Dims{1, 5, 4, 6}));
}

TEST(Shrink, ResizeAxisCutsAndTiles) {
  Tensor t = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor cut = resize_axis(t, 1, 2), tiled = resize_axis(t, 0, 3);
  EXPECT_EQ(cut.dims(), (Dims{2, 2}));
  EXPECT_EQ(cut.get_double(2), 4);
  EXPECT_EQ(tiled.dims(), (Dims{3, 3}));
  EXPECT_EQ(tiled.get_double(6), 1);
}

}  // namespace
}  // namespace weec::diff
