// Broadcasting rules (numpy multidirectional), checked against hand-derived
// shapes and element values from the ONNX spec's examples.
#include <gtest/gtest.h>

#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {
namespace {

TEST(Broadcast, DimsFollowNumpyRules) {
  EXPECT_EQ(*broadcast_dims({{2, 3, 4, 5}, {}}), (Dims{2, 3, 4, 5}));
  EXPECT_EQ(*broadcast_dims({{2, 3, 4, 5}, {5}}), (Dims{2, 3, 4, 5}));
  EXPECT_EQ(*broadcast_dims({{4, 5}, {2, 3, 4, 5}}), (Dims{2, 3, 4, 5}));
  EXPECT_EQ(*broadcast_dims({{1, 4, 5}, {2, 3, 1, 1}}), (Dims{2, 3, 4, 5}));
  EXPECT_EQ(*broadcast_dims({{3, 4, 5}, {2, 1, 1, 1}}), (Dims{2, 3, 4, 5}));
  EXPECT_EQ(*broadcast_dims({{0, 3}, {1, 3}}), (Dims{0, 3}));
}

TEST(Broadcast, IncompatibleDimsAreAnError) {
  auto r = broadcast_dims({{2, 3}, {4}});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("[2,3], [4]"), std::string::npos);
}

TEST(Broadcast, SymbolicShapesKeepNamesAndPreferKnownDims) {
  Shape a;
  a.rank_known = true;
  a.dims = {Dim::named("N"), Dim::known(3)};
  auto r = broadcast_shapes({a, Shape::of({1, 3})});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(shape_str(*r), "[N,3]");
  auto r2 = broadcast_shapes({a, Shape::of({5, 1})});
  EXPECT_EQ(shape_str(*r2), "[5,3]");
}

TEST(Broadcast, AddBroadcastsRowAndColumn) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F32, {2, 1}));
  Value* y = b.input("y", static_type(DType::F32, {3}));
  b.output(b.op(OpKind::Add, {x, y}));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(g.outputs[0]->type), "f32[2,3]");
  Tensor tx = Tensor::from_vector<float>({2, 1}, {10, 20});
  Tensor ty = Tensor::from_vector<float>({3}, {1, 2, 3});
  auto out = run_graph(g, {&tx, &ty});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  const float* o = (*out)[0].data<float>();
  std::vector<float> got(o, o + 6);
  EXPECT_EQ(got, (std::vector<float>{11, 12, 13, 21, 22, 23}));
}

TEST(Broadcast, IntegerModTakesDivisorSignAndFmodTakesDividends) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::I32, {4}));
  Value* y = b.input("y", static_type(DType::I32, {4}));
  b.output(b.op(OpKind::Mod, {x, y}));
  b.output(b.op(OpKind::Mod, {x, y}, {{"fmod", Attribute::of_int(1)}}));
  Tensor tx = Tensor::from_vector<int32_t>({4}, {-4, 7, 5, -9});
  Tensor ty = Tensor::from_vector<int32_t>({4}, {3, -3, 8, -4});
  auto out = run_graph(g, {&tx, &ty});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  // numpy.mod and numpy.fmod on the same operands.
  EXPECT_EQ((*out)[0].to_int_vector(), (std::vector<int64_t>{2, -2, 5, -1}));
  EXPECT_EQ((*out)[1].to_int_vector(), (std::vector<int64_t>{-1, 1, 5, -1}));
}

}  // namespace
}  // namespace weec
