// simplify-inference: Identity/Dropout removal with graph output names kept,
// BatchNormalization folded into Conv (plain and depthwise), Gemm (transB,
// alpha/beta, C) and MatMul, and constant Mul/Add folded into Conv/Gemm; plus
// O1 on the Fashion-MNIST example. Each case checks which ops remain and that
// the interpreter computes the same outputs as on the unoptimised graph.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "frontend/onnx/importer.h"
#include "interp/interpreter.h"
#include "io/tensor_file.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ops/registry.h"
#include "ops/verify_ops.h"
#include "passes/pass.h"

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

// |want - got| <= atol + rtol * |want| elementwise.
void expect_close(const std::vector<Tensor>& want, const std::vector<Tensor>& got, double rtol, double atol) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].dims(), got[k].dims()) << "output " << k;
    ASSERT_EQ(want[k].dtype(), got[k].dtype()) << "output " << k;
    int bad = 0;
    for (int64_t i = 0; i < want[k].numel() && bad < 5; ++i) {
      double w = want[k].get_double(i), g = got[k].get_double(i);
      if (std::abs(w - g) > atol + rtol * std::abs(w)) {
        ADD_FAILURE() << "output " << k << "[" << i << "]: want " << w << ", got " << g;
        ++bad;
      }
    }
  }
}

int count_op(const Graph& g, OpKind op) {
  int n = 0;
  for (auto& node : g.nodes()) n += node->op == op;
  return n;
}

// Runs simplify-inference alone (the pass manager verifies the result).
void simplify(Graph& g, PassContext& ctx) {
  Status st = PassManager({"simplify-inference"}).run(g, ctx);
  ASSERT_TRUE(st.is_ok()) << st.message();
}

Value* add_bn(Builder& b, Value* x, int64_t channels, uint32_t seed) {
  Value* gamma = b.constant("gamma", random_tensor({channels}, seed, 0.5f, 1.5f));
  Value* beta = b.constant("beta", random_tensor({channels}, seed + 1));
  Value* mean = b.constant("mean", random_tensor({channels}, seed + 2));
  Value* var = b.constant("var", random_tensor({channels}, seed + 3, 0.1f, 2.f));
  return b.op(OpKind::BatchNormalization, {x, gamma, beta, mean, var},
              {{"epsilon", Attribute::of_float(1e-3f)}});
}

// Folded weights round once per element in f32: a few ulps on sums of ~30 terms.
constexpr double kBnRtol = 1e-5, kBnAtol = 1e-5;

// ---- (a) Identity and Dropout ----

const char* kPassthrough =
    R"(graph main(%x: f32[2,3], %x2: f32[2,3], %x3: f32[2,3]) -> (%out, %out2, %out3, %t2, %m, %mask) {
  %ratio: f32[] = const [0.5]
  %zero: f32[] = const [0.0]
  %yes: bool[] = const [true]
  %a: f32[2,3] = Identity(%x)
  %r: f32[2,3] = Relu(%a)
  %out: f32[2,3] = Dropout(%r)
  %out2: f32[2,3] = Dropout(%x2, %ratio)
  %out3: f32[2,3] = Identity(%x3)
  %t: f32[2,3] = Dropout(%x, %zero, %yes)
  %t2: f32[2,3] = Neg(%t)
  %m: f32[2,3], %mask: bool[2,3] = Dropout(%x)
  return %out, %out2, %out3, %t2, %m, %mask
}
)";

TEST(SimplifyInference, DropsIdentityAndDropoutKeepingOutputNames) {
  auto parsed = parse_graph(kPassthrough);
  ASSERT_TRUE(parsed.has_value()) << parsed.status().message();
  Graph& g = **parsed;
  ASSERT_TRUE(verify_graph_with_ops(g).is_ok());
  auto original = g.clone();
  std::vector<std::string> names;
  for (Value* o : g.outputs) names.push_back(o->name);

  PassContext ctx;
  simplify(g, ctx);
  // Identity(x) and Dropout(r) are gone; Relu now defines %out.
  // Dropout(x2) -> Identity (graph input to graph output); Identity(x3) stays;
  // training-mode Dropout and the one whose mask is used stay.
  EXPECT_EQ(count_op(g, OpKind::Identity), 2) << print_graph(g);
  EXPECT_EQ(count_op(g, OpKind::Dropout), 2) << print_graph(g);
  EXPECT_EQ(g.outputs[0]->producer->op, OpKind::Relu);
  EXPECT_EQ(g.outputs[0]->producer->inputs[0], g.inputs[0]);
  std::vector<std::string> after;
  for (Value* o : g.outputs) after.push_back(o->name);
  EXPECT_EQ(after, names);

  std::vector<Tensor> in = {random_tensor({2, 3}, 1), random_tensor({2, 3}, 2), random_tensor({2, 3}, 3)};
  expect_close(run(*original, in), run(g, in), 0, 0);
}

// ---- (b) BatchNormalization ----

struct ConvBnCase {
  const char* name;
  int64_t in_channels, out_channels, group;
  bool bias;
};

TEST(SimplifyInference, FoldsBatchNormIntoConv) {
  for (const ConvBnCase& c : {ConvBnCase{"plain", 3, 4, 1, true}, ConvBnCase{"depthwise", 4, 4, 4, false}}) {
    SCOPED_TRACE(c.name);
    Graph g;
    Builder b(g, infer_node);
    Value* x = b.input("x", TensorType{DType::F32, Shape::of({2, c.in_channels, 6, 6})});
    std::vector<Value*> ins = {
        x, b.constant("w", random_tensor({c.out_channels, c.in_channels / c.group, 3, 3}, 10))};
    if (c.bias) ins.push_back(b.constant("b", random_tensor({c.out_channels}, 11)));
    Value* conv = b.op(OpKind::Conv, ins,
                       {{"group", Attribute::of_int(c.group)}, {"pads", Attribute::of_ints({1, 1, 1, 1})}});
    Value* y = add_bn(b, conv, c.out_channels, 20);
    b.output(y);
    ASSERT_TRUE(b.status().is_ok()) << b.status().message();
    auto original = g.clone();

    PassContext ctx;
    simplify(g, ctx);
    ASSERT_EQ(g.nodes().size(), 1u) << print_graph(g);
    const Node& folded = *g.nodes()[0];
    EXPECT_EQ(folded.op, OpKind::Conv);
    EXPECT_EQ(folded.outputs[0], y);  // the BN output value (and name) survives
    EXPECT_EQ(g.outputs[0], y);
    ASSERT_EQ(folded.inputs.size(), 3u);  // a bias was created when absent
    EXPECT_TRUE(folded.inputs[2]->is_constant());
    EXPECT_NE(ctx.remarks.back().find("1 BatchNormalization"), std::string::npos) << ctx.remarks.back();

    std::vector<Tensor> in = {random_tensor({2, c.in_channels, 6, 6}, 30)};
    expect_close(run(*original, in), run(g, in), kBnRtol, kBnAtol);
  }
}

TEST(SimplifyInference, FoldsBatchNormIntoGemmWithTransBAndC) {
  Graph g;
  Builder b(g, infer_node);
  Value* a = b.input("a", TensorType{DType::F32, Shape::of({3, 5})});
  Value* w = b.constant("w", random_tensor({4, 5}, 40));  // transB: [N, K]
  Value* c = b.constant("c", random_tensor({4}, 41));
  Value* gemm = b.op(OpKind::Gemm, {a, w, c},
                     {{"transB", Attribute::of_int(1)},
                      {"alpha", Attribute::of_float(0.75f)},
                      {"beta", Attribute::of_float(1.5f)}});
  b.output(add_bn(b, gemm, 4, 50));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  auto original = g.clone();

  PassContext ctx;
  simplify(g, ctx);
  ASSERT_EQ(g.nodes().size(), 1u) << print_graph(g);
  EXPECT_EQ(g.nodes()[0]->op, OpKind::Gemm);
  std::vector<Tensor> in = {random_tensor({3, 5}, 60)};
  expect_close(run(*original, in), run(g, in), kBnRtol, kBnAtol);
}

TEST(SimplifyInference, FoldsBatchNormIntoMatMulAsMatMulAdd) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", TensorType{DType::F32, Shape::of({3, 5})});
  Value* mm = b.op(OpKind::MatMul, {x, b.constant("w", random_tensor({5, 4}, 70))});
  b.output(add_bn(b, mm, 4, 80));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  auto original = g.clone();

  PassContext ctx;
  simplify(g, ctx);
  ASSERT_EQ(g.nodes().size(), 2u) << print_graph(g);
  EXPECT_EQ(g.nodes()[0]->op, OpKind::MatMul);
  EXPECT_EQ(g.nodes()[1]->op, OpKind::Add);
  EXPECT_TRUE(g.nodes()[1]->inputs[1]->is_constant());
  std::vector<Tensor> in = {random_tensor({3, 5}, 90)};
  expect_close(run(*original, in), run(g, in), kBnRtol, kBnAtol);
}

TEST(SimplifyInference, KeepsBatchNormWhenConvOutputHasOtherUsers) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", TensorType{DType::F32, Shape::of({1, 2, 4, 4})});
  Value* conv = b.op(OpKind::Conv, {x, b.constant("w", random_tensor({2, 2, 1, 1}, 100))});
  b.output(add_bn(b, conv, 2, 110));
  b.output(b.op(OpKind::Relu, {conv}));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  PassContext ctx;
  simplify(g, ctx);
  EXPECT_EQ(count_op(g, OpKind::BatchNormalization), 1);
}

// ---- (c) constant Mul / Add ----

TEST(SimplifyInference, FoldsPerChannelMulAndAddIntoConv) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", TensorType{DType::F32, Shape::of({1, 3, 5, 5})});
  Value* conv = b.op(OpKind::Conv, {x, b.constant("w", random_tensor({4, 3, 3, 3}, 120)),
                                    b.constant("b", random_tensor({4}, 121))});
  Value* scaled = b.op(OpKind::Mul, {conv, b.constant("scale", random_tensor({4, 1, 1}, 122))});
  Value* shifted = b.op(OpKind::Add, {b.constant("shift", random_tensor({1, 4, 1, 1}, 123)), scaled});
  b.output(shifted);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  auto original = g.clone();

  PassContext ctx;
  simplify(g, ctx);
  ASSERT_EQ(g.nodes().size(), 1u) << print_graph(g);
  EXPECT_EQ(g.nodes()[0]->op, OpKind::Conv);
  EXPECT_EQ(g.outputs[0], shifted);
  EXPECT_NE(ctx.remarks.back().find("1 Mul, 1 Add"), std::string::npos) << ctx.remarks.back();
  std::vector<Tensor> in = {random_tensor({1, 3, 5, 5}, 124)};
  expect_close(run(*original, in), run(g, in), kBnRtol, kBnAtol);
}

TEST(SimplifyInference, FoldsScalarMulAndBiasAddIntoGemmWithoutC) {
  Graph g;
  Builder b(g, infer_node);
  Value* a = b.input("a", TensorType{DType::F32, Shape::of({2, 6})});
  Value* gemm = b.op(OpKind::Gemm, {a, b.constant("w", random_tensor({6, 3}, 130))});
  Value* scaled = b.op(OpKind::Mul, {gemm, b.constant("k", Tensor::scalar<float>(-2.5f))});
  b.output(b.op(OpKind::Add, {scaled, b.constant("bias", random_tensor({3}, 131))}));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  auto original = g.clone();

  PassContext ctx;
  simplify(g, ctx);
  ASSERT_EQ(g.nodes().size(), 1u) << print_graph(g);
  EXPECT_EQ(g.nodes()[0]->op, OpKind::Gemm);
  EXPECT_EQ(g.nodes()[0]->inputs.size(), 3u);  // C created for the bias
  std::vector<Tensor> in = {random_tensor({2, 6}, 132)};
  expect_close(run(*original, in), run(g, in), kBnRtol, kBnAtol);
}

TEST(SimplifyInference, KeepsMulThatIsNotPerChannel) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", TensorType{DType::F32, Shape::of({1, 2, 3, 3})});
  Value* conv = b.op(OpKind::Conv, {x, b.constant("w", random_tensor({2, 2, 1, 1}, 140))});
  // Varies along the last (spatial) axis: not a per-output-channel scale.
  b.output(b.op(OpKind::Mul, {conv, b.constant("s", random_tensor({1, 1, 1, 3}, 141))}));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  PassContext ctx;
  simplify(g, ctx);
  EXPECT_EQ(count_op(g, OpKind::Mul), 1);
  EXPECT_EQ(count_op(g, OpKind::Conv), 1);
}

// ---- O1 on the example model ----

TEST(SimplifyInference, FashionMnistAtO1LosesBatchNormKeepsOutputs) {
  const std::string dir = std::string(WEEC_SOURCE_DIR) + "/examples/fashion_mnist/";
  auto model = import_onnx_file(dir + "model.onnx");
  ASSERT_TRUE(model.has_value()) << model.status().message();
  Graph& g = *model->graph;
  ASSERT_EQ(count_op(g, OpKind::BatchNormalization), 1);
  auto original = g.clone();
  auto image = read_tensor_file(dir + "input_0.pb");
  ASSERT_TRUE(image.has_value()) << image.status().message();
  auto expected = read_tensor_file(dir + "expected_output_0.pb");
  ASSERT_TRUE(expected.has_value()) << expected.status().message();

  auto passes = pipeline("O1");
  ASSERT_TRUE(passes.has_value());
  PassContext ctx;
  ctx.input_shapes["image"] = image->dims();
  Status st = PassManager(*passes).run(g, ctx);
  ASSERT_TRUE(st.is_ok()) << st.message();

  EXPECT_EQ(count_op(g, OpKind::BatchNormalization), 0) << print_graph(g);
  EXPECT_EQ(count_op(g, OpKind::Conv), 2);
  EXPECT_EQ(count_op(g, OpKind::Gemm), 2);
  EXPECT_EQ(g.outputs[0]->name, original->outputs[0]->name);
  EXPECT_TRUE(g.outputs[0]->type.shape.is_static()) << type_str(g.outputs[0]->type);
  std::vector<Tensor> in = {*image};
  std::vector<Tensor> got = run(g, in);
  expect_close(run(*original, in), got, 1e-4, 1e-4);
  expect_close({*expected}, got, 1e-4, 1e-4);
}

// ---- (d) input-side Mul/Add (input normalisation) ----

const char* kInputAffine = R"(graph main(%x: f32[2,6], %img: f32[1,2,5,5]) -> (%y, %z, %u) {
  %a: f32[] = const [0.0039215689]
  %b: f32[6] = const [-0.5, 0.25, 1.0, -2.0, 0.0, 3.0]
  %w: f32[4,6] = const [1,2,3,4,5,6, -1,0,1,0,-1,0, 0.5,0.5,0.5,0.5,0.5,0.5, 2,-2,2,-2,2,-2]
  %c: f32[4] = const [0.1, 0.2, 0.3, 0.4]
  %k: f32[3,2,3,3] = const [1,0,-1,2,0,-2,1,0,-1, 0,1,0,1,-4,1,0,1,0, 1,1,1,1,1,1,1,1,1, -1,-1,-1,0,0,0,1,1,1, 2,0,2,0,2,0,2,0,2, 0.5,0.25,0,0,0,0,0,0,1]
  %m: f32[] = const [2.5]
  %s: f32[] = const [-0.75]
  %xm: f32[2,6] = Mul(%x, %a)
  %xa: f32[2,6] = Add(%xm, %b)
  %y: f32[2,4] = Gemm(%xa, %w, %c) {transB=1}
  %im: f32[1,2,5,5] = Mul(%m, %img)
  %z: f32[1,3,5,5] = Conv(%im, %k) {pads=[1,1,1,1]}
  %ia: f32[1,2,5,5] = Add(%img, %s)
  %u: f32[1,3,3,3] = Conv(%ia, %k)
  return %y, %z, %u
}
)";

TEST(SimplifyInference, FoldsInputNormalisationIntoGemmAndConv) {
  auto parsed = parse_graph(kInputAffine);
  ASSERT_TRUE(parsed.has_value()) << parsed.status().message();
  Graph& g = **parsed;
  auto original = g.clone();
  PassContext ctx;
  simplify(g, ctx);
  // Every Mul/Add folded: the scalar Mul into the padded Conv, the Add only
  // into the unpadded one, per-feature Add and scalar Mul into the Gemm.
  EXPECT_EQ(count_op(g, OpKind::Mul), 0) << print_graph(g);
  EXPECT_EQ(count_op(g, OpKind::Add), 0) << print_graph(g);
  std::vector<Tensor> in = {random_tensor({2, 6}, 5, 0, 255), random_tensor({1, 2, 5, 5}, 6)};
  expect_close(run(*original, in), run(g, in), 1e-5, 1e-5);
}

TEST(SimplifyInference, KeepsAnInputAddInFrontOfAPaddedConv) {
  const char* src = R"(graph main(%img: f32[1,1,4,4]) -> (%z) {
  %k: f32[1,1,3,3] = const [1,1,1,1,1,1,1,1,1]
  %s: f32[] = const [1.0]
  %ia: f32[1,1,4,4] = Add(%img, %s)
  %z: f32[1,1,4,4] = Conv(%ia, %k) {pads=[1,1,1,1]}
  return %z
}
)";
  auto parsed = parse_graph(src);
  ASSERT_TRUE(parsed.has_value()) << parsed.status().message();
  PassContext ctx;
  simplify(**parsed, ctx);
  EXPECT_EQ(count_op(**parsed, OpKind::Add), 1);  // padded zeros would not get + 1
}

}  // namespace
}  // namespace weec
