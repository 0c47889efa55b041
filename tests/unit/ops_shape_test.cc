// Shape and data-movement ops: inference and kernels on small cases. Expected
// values are hand-derived or, where noted, computed with numpy.
#include <gtest/gtest.h>

#include <limits>

#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Tensor i64s(const std::vector<int64_t>& v) { return Tensor::from_vector<int64_t>({(int64_t)v.size()}, v); }

std::vector<float> floats(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

Shape sym_shape(std::vector<Dim> dims) {
  Shape s;
  s.rank_known = true;
  s.dims = std::move(dims);
  return s;
}

// Runs a one-node graph on `x` with the other inputs constant.
Expected<Tensor> run1(OpKind op, const Tensor& x, std::vector<Tensor> consts, AttrMap attrs = {}) {
  Graph g;
  Builder b(g, infer_node);
  std::vector<Value*> ins = {b.input("x", TensorType{x.dtype(), Shape::of(x.dims())})};
  for (size_t i = 0; i < consts.size(); ++i) ins.push_back(b.constant("c" + std::to_string(i), consts[i]));
  b.output(b.op(op, ins, attrs));
  if (!b.status()) return b.status();
  auto out = run_graph(g, {&x});
  if (!out) return out.status();
  return (*out)[0];
}

TEST(OpsShape, ReshapeZeroCopiesAndMinusOneIsInferred) {
  Tensor x(DType::F32, {2, 3, 4});
  auto r = run1(OpKind::Reshape, x, {i64s({0, -1})});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->dims(), (Dims{2, 12}));
  r = run1(OpKind::Reshape, x, {i64s({4, 0, -1})});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->dims(), (Dims{4, 3, 2}));
  // allowzero=1: a 0 is a real zero-sized dim.
  Tensor empty(DType::F32, {0, 3});
  r = run1(OpKind::Reshape, empty, {i64s({3, 0})}, {{"allowzero", Attribute::of_int(1)}});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->dims(), (Dims{3, 0}));
  // Without allowzero the 0 copies dim 1 (3): 9 elements != 0.
  EXPECT_FALSE(run1(OpKind::Reshape, empty, {i64s({3, 0})}).has_value());
  EXPECT_FALSE(run1(OpKind::Reshape, x, {i64s({-1, -1})}).has_value());
}

TEST(OpsShape, ReshapeInferenceKeepsSymbols) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", TensorType{DType::F32, sym_shape({Dim::named("N"), Dim::known(3), Dim::known(4)})});
  Value* y = b.input("y", TensorType{DType::F32, sym_shape({Dim::named("N"), Dim::known(4)})});
  Value* a = b.op(OpKind::Reshape, {x, b.constant("s1", i64s({0, -1}))});
  Value* c = b.op(OpKind::Reshape, {x, b.constant("s2", i64s({-1, 4}))});
  Value* d = b.op(OpKind::Reshape, {y, b.constant("s3", i64s({-1, 2, 2}))});
  Value* shape_in = b.input("s", static_type(DType::I64, {3}));
  Value* e = b.op(OpKind::Reshape, {x, shape_in});
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(shape_str(a->type.shape), "[N,12]");
  EXPECT_EQ(shape_str(c->type.shape), "[?,4]");  // 3N: not a single symbol
  EXPECT_EQ(shape_str(d->type.shape), "[N,2,2]");
  EXPECT_EQ(shape_str(e->type.shape), "[?,?,?]");
}

TEST(OpsShape, SliceNegativeStepsAndClamping) {
  std::vector<int64_t> v(10);
  for (int i = 0; i < 10; ++i) v[i] = i;
  Tensor x = i64s(v);
  auto slice = [&](int64_t s, int64_t e, int64_t st) {
    return run1(OpKind::Slice, x, {i64s({s}), i64s({e}), i64s({0}), i64s({st})});
  };
  // numpy: a[-1::-3], a[20:-100:-1], a[1000:1001], a[-100:3]
  auto r = slice(-1, kMin, -3);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->to_int_vector(), (std::vector<int64_t>{9, 6, 3, 0}));
  r = slice(20, -100, -1);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->to_int_vector(), (std::vector<int64_t>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  r = slice(1000, 1001, 1);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->numel(), 0);
  r = slice(-100, 3, 1);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->to_int_vector(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_FALSE(slice(0, 3, 0).has_value());
  // numpy: b = arange(12).reshape(3, 4); b[2:0:-1, ::-2] == [[11, 9], [7, 5]]
  Tensor m(DType::I64, {3, 4});
  for (int i = 0; i < 12; ++i) m.data<int64_t>()[i] = i;
  r = run1(OpKind::Slice, m, {i64s({2, -1}), i64s({0, kMin}), i64s({0, -1}), i64s({-1, -2})});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->dims(), (Dims{2, 2}));
  EXPECT_EQ(r->to_int_vector(), (std::vector<int64_t>{11, 9, 7, 5}));
}

TEST(OpsShape, GatherTakesNegativeIndicesFromTheEnd) {
  Tensor data = Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  auto r = run1(OpKind::Gather, data, {i64s({-1, 0})});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->dims(), (Dims{2, 2}));
  EXPECT_EQ(floats(*r), (std::vector<float>{5, 6, 1, 2}));
  r = run1(OpKind::Gather, data, {i64s({-1})}, {{"axis", Attribute::of_int(1)}});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(floats(*r), (std::vector<float>{2, 4, 6}));
  EXPECT_FALSE(run1(OpKind::Gather, data, {i64s({3})}).has_value());
}

TEST(OpsShape, PadReflectAndEdge) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  // numpy: np.pad(x, ((1, 1), (2, 0)), 'reflect')
  auto r = run1(OpKind::Pad, x, {i64s({1, 2, 1, 0})}, {{"mode", Attribute::of_string("reflect")}});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->dims(), (Dims{4, 5}));
  EXPECT_EQ(floats(*r), (std::vector<float>{6, 5, 4, 5, 6, 3, 2, 1, 2, 3, 6, 5, 4, 5, 6, 3, 2, 1, 2, 3}));
  // numpy: np.pad(x, ((0, 1), (3, 2)), 'edge')
  r = run1(OpKind::Pad, x, {i64s({0, 3, 1, 2})}, {{"mode", Attribute::of_string("edge")}});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(floats(*r),
            (std::vector<float>{1, 1, 1, 1, 2, 3, 3, 3, 4, 4, 4, 4, 5, 6, 6, 6, 4, 4, 4, 4, 5, 6, 6, 6}));
  // Constant with a value; a negative pad crops.
  r = run1(OpKind::Pad, x, {i64s({0, -1, 0, 1}), Tensor::scalar<float>(9)});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(floats(*r), (std::vector<float>{2, 3, 9, 5, 6, 9}));
}

TEST(OpsShape, ResizeNearestAndLinear) {
  Tensor x = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  // nearest, half_pixel, round_prefer_floor, scales [1,1,2,3]: each pixel repeated.
  auto r = run1(OpKind::Resize, x, {Tensor(DType::F32, {0}), Tensor::from_vector<float>({4}, {1, 1, 2, 3})});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->dims(), (Dims{1, 1, 4, 6}));
  EXPECT_EQ(floats(*r),
            (std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
  // linear, half_pixel, sizes 4x4: source coords -0.25, 0.25, 0.75, 1.25 (clamped
  // at the edges), so each axis interpolates [a, b] to [a, .75a+.25b, .25a+.75b, b].
  r = run1(OpKind::Resize, x, {Tensor(DType::F32, {0}), Tensor(DType::F32, {0}), i64s({1, 1, 4, 4})},
           {{"mode", Attribute::of_string("linear")}});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(floats(*r), (std::vector<float>{1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3,
                                            3.25, 3.75, 4}));
  // linear, align_corners, scales 0.6 on [1,2,3,4]: 1 output of 2.4 wide -> x=1
  // maps to 1 * 3 / 1.4 (the resized length is scale * input length).
  Tensor row = Tensor::from_vector<float>({1, 4}, {1, 2, 3, 4});
  r = run1(OpKind::Resize, row, {Tensor(DType::F32, {0}), Tensor::from_vector<float>({2}, {1, 0.6f})},
           {{"mode", Attribute::of_string("linear")},
            {"coordinate_transformation_mode", Attribute::of_string("align_corners")}});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  ASSERT_EQ(r->dims(), (Dims{1, 2}));
  EXPECT_FLOAT_EQ(floats(*r)[0], 1.f);
  EXPECT_NEAR(floats(*r)[1], 1 + 3 / 1.4, 1e-6);
}

TEST(OpsShape, SplitEvenlyWithSmallerLastChunk) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F32, {5}));
  auto outs = b.op_n(OpKind::Split, {x}, 2);
  for (Value* v : outs) b.output(v);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(type_str(outs[0]->type), "f32[3]");
  EXPECT_EQ(type_str(outs[1]->type), "f32[2]");
  Tensor t = Tensor::from_vector<float>({5}, {1, 2, 3, 4, 5});
  auto r = run_graph(g, {&t});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(floats((*r)[1]), (std::vector<float>{4, 5}));
}

TEST(OpsShape, UniqueSortedMatchesNumpy) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", static_type(DType::F32, {6}));
  auto outs = b.op_n(OpKind::Unique, {x}, 4);
  for (Value* v : outs) b.output(v);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  Tensor t = Tensor::from_vector<float>({6}, {2, 1, 1, 3, 4, 3});
  auto r = run_graph(g, {&t});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  // numpy.unique(x, True, True, True)
  EXPECT_EQ(floats((*r)[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ((*r)[1].to_int_vector(), (std::vector<int64_t>{1, 0, 3, 4}));
  EXPECT_EQ((*r)[2].to_int_vector(), (std::vector<int64_t>{1, 0, 0, 2, 3, 2}));
  EXPECT_EQ((*r)[3].to_int_vector(), (std::vector<int64_t>{2, 1, 2, 1}));
}

TEST(OpsShape, InferenceUsesConstantShapeInputsOnly) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", TensorType{DType::F32, sym_shape({Dim::named("N"), Dim::known(1), Dim::known(3)})});
  Value* dyn = b.input("shape", static_type(DType::I64, {3}));
  Value* e1 = b.op(OpKind::Expand, {x, b.constant("s", i64s({4, 3}))});
  Value* e2 = b.op(OpKind::Expand, {x, dyn});
  Value* t = b.op(OpKind::Tile, {x, b.constant("r", i64s({1, 2, 2}))});
  Value* c = b.op(OpKind::ConstantOfShape, {b.constant("cs", i64s({2, 5}))});
  Value* rg = b.op(OpKind::Range,
                   {b.constant("a", Tensor::scalar<int64_t>(10)), b.constant("l", Tensor::scalar<int64_t>(4)),
                    b.constant("d", Tensor::scalar<int64_t>(-3))});
  Value* sl = b.op(OpKind::Slice, {x, b.constant("st", i64s({0})), b.constant("en", i64s({kMax}))});
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  EXPECT_EQ(shape_str(e1->type.shape), "[N,4,3]");
  EXPECT_EQ(shape_str(e2->type.shape), "[?,?,3]");
  EXPECT_EQ(shape_str(t->type.shape), "[N,2,6]");
  EXPECT_EQ(type_str(c->type), "f32[2,5]");
  EXPECT_EQ(type_str(rg->type), "i64[2]");  // 10, 7
  EXPECT_EQ(shape_str(sl->type.shape), "[N,1,3]");
}

}  // namespace
}  // namespace weec
