// quantize and lower-qdq: calibration ranges, the QDQ form, and its lowering
// to integer ops. The references are independent of the integer kernels: the
// QDQ graph runs in float through the ordinary Conv/Gemm/QuantizeLinear
// kernels (real arithmetic, one rounding at each quantiser), so a single
// integer layer must agree with it within 1 LSB, and a table lookup exactly.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <random>

#include "frontend/onnx/export.h"
#include "frontend/onnx/importer.h"
#include "interp/interpreter.h"
#include "ir/printer.h"
#include "ops/registry.h"
#include "passes/pass.h"
#include "passes/range_observer.h"

namespace weec {
namespace {

Tensor random_tensor(Dims dims, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t(DType::F32, std::move(dims));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs) {
  std::vector<const Tensor*> ptrs;
  for (auto& t : inputs) ptrs.push_back(&t);
  auto r = run_graph(g, ptrs);
  EXPECT_TRUE(r.has_value()) << r.status().message();
  return r.has_value() ? std::move(*r) : std::vector<Tensor>{};
}

int count_op(const Graph& g, OpKind op) {
  int n = 0;
  for (auto& node : g.nodes()) n += node->op == op;
  return n;
}

void run_passes(Graph& g, PassContext& ctx, std::vector<std::string> passes) {
  Status st = PassManager(std::move(passes)).run(g, ctx);
  ASSERT_TRUE(st.is_ok()) << st.message() << "\n" << print_graph(g);
}

std::vector<std::vector<Tensor>> samples(const Dims& dims, int n, uint32_t seed, float lo = -1,
                                         float hi = 1) {
  std::vector<std::vector<Tensor>> s;
  for (int i = 0; i < n; ++i) s.push_back({random_tensor(dims, seed + i, lo, hi)});
  return s;
}

// ---- observers ----

TEST(RangeObserver, MethodsClipOutliersDifferently) {
  // 10,000 values uniform in [-1, 1] and one outlier at 50.
  Tensor t = random_tensor({10001}, 7);
  t.data<float>()[10000] = 50.f;
  RangeObserver o;
  o.observe_range(t);
  o.start_histogram();
  o.observe_histogram(t);
  auto mm = o.range(CalibMethod::MinMax, 0, 256);
  EXPECT_FLOAT_EQ(mm.second, 50.f);
  EXPECT_NEAR(mm.first, -1.0, 1e-3);
  auto pc = o.range(CalibMethod::Percentile, 99.9, 256);
  EXPECT_LT(pc.second, 1.1);  // the one outlier is beyond the 99.9th percentile
  EXPECT_GT(pc.second, 0.9);
}

TEST(RangeObserver, MseClipsALongTail) {
  // Laplace(0, b = 0.1): for 8 bits the clip minimising the mean squared
  // error is about 9.89 b (Banner et al., "ACIQ", 2019), inside the max of
  // 100,000 draws (about 12 b).
  std::mt19937 rng(3);
  std::exponential_distribution<float> e(10.f);
  Tensor t(DType::F32, {100000});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = (i % 2 ? 1 : -1) * e(rng);
  RangeObserver o;
  o.observe_range(t);
  o.start_histogram();
  o.observe_histogram(t);
  auto mm = o.range(CalibMethod::MinMax, 0, 256);
  auto ms = o.range(CalibMethod::Mse, 0, 256);
  EXPECT_LT(ms.second, mm.second);
  EXPECT_GT(ms.first, mm.first);
  // Each side is searched on its own over a 2% grid: the span is near the
  // symmetric optimum 2 * 9.89 b, each end within a quarter of 9.89 b.
  EXPECT_NEAR(ms.second - ms.first, 2 * 0.989, 0.25);
  EXPECT_NEAR(ms.second, 0.989, 0.25);
  EXPECT_NEAR(-ms.first, 0.989, 0.25);
}

TEST(RangeObserver, AffineParamsRepresentZeroExactly) {
  for (auto [lo, hi] : std::vector<std::pair<double, double>>{{-1, 3}, {0.5, 2}, {-4, -1}, {-0.3, 0.7}}) {
    AffineParams p = affine_params(lo, hi, -128, 127);
    EXPECT_GE(p.zero_point, -128);
    EXPECT_LE(p.zero_point, 127);
    // 0 is a grid point, and the grid spans [min(lo,0), max(hi,0)] within one step.
    EXPECT_LE(p.scale * (-128 - p.zero_point), std::min(lo, 0.0) + p.scale);
    EXPECT_GE(p.scale * (127 - p.zero_point), std::max(hi, 0.0) - p.scale);
  }
}

// ---- one Conv + Relu ----

std::unique_ptr<Graph> conv_relu_graph(int64_t cin, int64_t cout, int64_t group) {
  auto g = std::make_unique<Graph>();
  Builder b(*g, infer_node);
  Value* x = b.input("x", TensorType{DType::F32, Shape::of({1, cin, 7, 6})});
  Value* w = b.constant("w", random_tensor({cout, cin / group, 3, 3}, 11));
  Value* bias = b.constant("b", random_tensor({cout}, 12, -0.2f, 0.2f));
  Value* c = b.op(OpKind::Conv, {x, w, bias},
                  {{"pads", Attribute::of_ints({1, 0, 1, 2})},
                   {"strides", Attribute::of_ints({2, 1})},
                   {"group", Attribute::of_int(group)}},
                  "conv");
  b.output(b.op(OpKind::Relu, {c}));
  EXPECT_TRUE(b.status().is_ok()) << b.status().message();
  return g;
}

class QuantizeConv : public testing::TestWithParam<std::tuple<int64_t, DType, CalibMethod>> {};

TEST_P(QuantizeConv, IntegerLayerWithinOneStepOfQdq) {
  auto [group, act, method] = GetParam();
  auto g = conv_relu_graph(4, 8, group);
  PassContext ctx;
  ctx.quantize.calibration = samples({1, 4, 7, 6}, 16, 100, -2, 3);
  ctx.quantize.activation_dtype = act;
  ctx.quantize.method = method;
  run_passes(*g, ctx, {"infer-shapes", "quantize"});
  EXPECT_EQ(count_op(*g, OpKind::QuantizeLinear), 2) << print_graph(*g);  // input, relu output
  auto qdq = g->clone();
  run_passes(*g, ctx, {"lower-qdq", "eliminate-dead-code"});
  EXPECT_EQ(count_op(*g, OpKind::Conv), 0) << print_graph(*g);
  EXPECT_EQ(count_op(*g, OpKind::Relu), 0);
  EXPECT_EQ(count_op(*g, OpKind::QConv), 1);
  const Value* out = g->outputs[0];
  ASSERT_TRUE(out->producer && out->producer->op == OpKind::DequantizeLinear);
  double step = out->producer->inputs[1]->constant->get_double(0);

  for (uint32_t seed = 0; seed < 8; ++seed) {
    std::vector<Tensor> in = {random_tensor({1, 4, 7, 6}, 500 + seed, -2, 3)};
    Tensor want = run(*qdq, in)[0], got = run(*g, in)[0];
    ASSERT_EQ(want.dims(), got.dims());
    for (int64_t i = 0; i < want.numel(); ++i)
      ASSERT_LE(std::fabs(want.get_double(i) - got.get_double(i)), step * 1.001) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, QuantizeConv,
                         testing::Values(std::make_tuple(1, DType::I8, CalibMethod::MinMax),
                                         std::make_tuple(2, DType::U8, CalibMethod::Percentile),
                                         std::make_tuple(4, DType::I8, CalibMethod::Mse)));

// ---- a unary op becomes a table ----

TEST(LowerQdq, UnaryOpBecomesExactLookupTable) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", TensorType{DType::F32, Shape::of({3, 50})});
  b.output(b.op(OpKind::Sigmoid, {b.op(OpKind::Tanh, {x})}));
  PassContext ctx;
  ctx.quantize.calibration = samples({3, 50}, 4, 9, -4, 4);
  run_passes(g, ctx, {"infer-shapes", "quantize"});
  auto qdq = g.clone();
  run_passes(g, ctx, {"lower-qdq", "eliminate-dead-code"});
  EXPECT_EQ(count_op(g, OpKind::QLookup), 2) << print_graph(g);
  EXPECT_EQ(count_op(g, OpKind::Tanh) + count_op(g, OpKind::Sigmoid), 0);
  std::vector<Tensor> in = {random_tensor({3, 50}, 77, -5, 5)};
  EXPECT_TRUE(run(*qdq, in)[0].identical(run(g, in)[0]));
}

// ---- the Fashion-MNIST example CNN (Conv, BN, Relu, MaxPool, Flatten, Gemm) ----

std::unique_ptr<Graph> example_cnn() {
  auto m = import_onnx_file(std::string(WEEC_SOURCE_DIR) + "/examples/fashion_mnist/model.onnx");
  EXPECT_TRUE(m.has_value()) << m.status().message();
  return m.has_value() ? std::move(m->graph) : nullptr;
}

std::vector<std::string> o1_then_quantize() {
  auto p = pipeline("O1");
  std::vector<std::string> q = with_quantization(*p);
  q.pop_back();  // no plan-memory: the graphs are run in the interpreter
  return q;
}

TEST(LowerQdq, ExampleCnnBecomesIntegerBetweenEdges) {
  auto g = example_cnn();
  ASSERT_TRUE(g);
  auto original = g->clone();
  PassContext ctx;
  ctx.input_shapes["image"] = {1, 1, 28, 28};
  ctx.quantize.calibration = samples({1, 1, 28, 28}, 32, 1, 0, 1);
  run_passes(*g, ctx, o1_then_quantize());
  EXPECT_EQ(count_op(*g, OpKind::QConv), 2) << print_graph(*g);
  EXPECT_EQ(count_op(*g, OpKind::QGemm), 2);
  EXPECT_EQ(count_op(*g, OpKind::MaxPool), 2);
  // Float remains only at the edges: one quantiser in, one dequantiser out.
  int float_ops = 0;
  for (auto& n : g->nodes())
    for (Value* o : n->outputs) float_ops += o->type.dtype == DType::F32;
  EXPECT_EQ(float_ops, 1) << print_graph(*g);
  EXPECT_EQ(count_op(*g, OpKind::QuantizeLinear), 1);

  // Against the float model: the int8 logits track the float ones (a few
  // output steps, the errors of 4 layers) and the top-1 class agrees.
  double step = g->outputs[0]->producer->inputs[1]->constant->get_double(0);
  int agree = 0;
  for (uint32_t s = 0; s < 16; ++s) {
    std::vector<Tensor> in = {random_tensor({1, 1, 28, 28}, 900 + s, 0, 1)};
    Tensor want = run(*original, in)[0], got = run(*g, in)[0];
    int64_t wi = 0, gi = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      EXPECT_LE(std::fabs(want.get_double(i) - got.get_double(i)), 8 * step)
          << "sample " << s << " logit " << i;
      if (want.get_double(i) > want.get_double(wi)) wi = i;
      if (got.get_double(i) > got.get_double(gi)) gi = i;
    }
    agree += wi == gi;
  }
  EXPECT_GE(agree, 14);
}

TEST(LowerQdq, IntIoLeavesNoFloatAnywhere) {
  auto g = example_cnn();
  ASSERT_TRUE(g);
  PassContext ctx;
  ctx.input_shapes["image"] = {1, 1, 28, 28};
  ctx.quantize.calibration = samples({1, 1, 28, 28}, 8, 1, 0, 1);
  ctx.quantize.int_io = true;
  run_passes(*g, ctx, o1_then_quantize());
  for (auto& v : g->values())
    if (!v->constant || g->users(v.get()).size()) EXPECT_NE(v->type.dtype, DType::F32) << "%" << v->name;
  ASSERT_TRUE(g->inputs[0]->type.quant.has_value());
  EXPECT_EQ(g->inputs[0]->name, "image");
  EXPECT_EQ(g->outputs[0]->name, "logits");
  EXPECT_TRUE(g->outputs[0]->type.quant.has_value());
  EXPECT_EQ(g->inputs[0]->type.dtype, DType::I8);
}

// The QDQ form written as ONNX and read back lowers to the same integer
// graph: same ops, bit-identical outputs (scales are f32 on both sides).
TEST(LowerQdq, ExportedQdqModelLowersAfterImport) {
  auto g = example_cnn();
  ASSERT_TRUE(g);
  PassContext ctx;
  ctx.input_shapes["image"] = {1, 1, 28, 28};
  ctx.quantize.calibration = samples({1, 1, 28, 28}, 8, 1, 0, 1);
  auto passes = pipeline("O1");
  passes->back() = "quantize";
  run_passes(*g, ctx, *passes);
  auto proto = export_onnx(*g);
  ASSERT_TRUE(proto.has_value()) << proto.status().message();
  auto back = import_onnx_bytes(proto->SerializeAsString(), ".");
  ASSERT_TRUE(back.has_value()) << back.status().message();
  Graph& h = *back->graph;
  run_passes(*g, ctx, {"lower-qdq", "eliminate-dead-code"});
  run_passes(h, ctx, {"infer-shapes", "lower-qdq", "eliminate-dead-code"});
  for (OpKind op : {OpKind::QConv, OpKind::QGemm, OpKind::MaxPool, OpKind::QuantizeLinear, OpKind::Conv})
    EXPECT_EQ(count_op(h, op), count_op(*g, op)) << print_graph(h);
  for (uint32_t s = 0; s < 4; ++s) {
    std::vector<Tensor> in = {random_tensor({1, 1, 28, 28}, 40 + s, 0, 1)};
    EXPECT_TRUE(run(*g, in)[0].identical(run(h, in)[0])) << "sample " << s;
  }
}

TEST(Quantize, RefusesWithoutCalibrationData) {
  auto g = conv_relu_graph(2, 2, 1);
  PassContext ctx;
  Status st = PassManager(std::vector<std::string>{"infer-shapes", "quantize"}).run(*g, ctx);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("calibration"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace weec
