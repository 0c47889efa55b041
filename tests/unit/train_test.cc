// Training (src/train): the optimizers against PyTorch's update rules
// written out here in double, and small end-to-end runs on synthetic data
// whose answer is known: a 3-class problem split by angle, a smooth
// regression, a conv net with BatchNormalization; same seed, same weights.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "interp/interpreter.h"
#include "ops/registry.h"
#include "train/presets.h"
#include "train/trainer.h"
#include "train_datasets.h"

namespace weec::train {
namespace {

MlpSpec mlp(std::vector<int64_t> sizes, OpKind act, uint64_t seed) {
  MlpSpec s;
  s.sizes = std::move(sizes);
  s.act = act;
  s.seed = seed;
  return s;
}

Tensor filled(const Dims& d, std::vector<float> v) {
  Tensor t(DType::F32, d);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v[(size_t)i];
  return t;
}

// torch.optim.SGD(momentum=0.9, weight_decay=0.1) and Adam(weight_decay=0.1)
// for three steps with fixed gradients, as torch/optim/{sgd,adam}.py compute.
TEST(Train, OptimizersFollowPyTorch) {
  const std::vector<std::vector<float>> gs = {{0.5f, -1.0f}, {0.25f, 2.0f}, {-0.75f, 0.1f}};
  for (auto kind : {OptimizerOptions::Kind::Sgd, OptimizerOptions::Kind::Adam}) {
    OptimizerOptions o;
    o.kind = kind;
    o.lr = 0.1, o.momentum = 0.9, o.weight_decay = 0.1;
    Tensor p = filled({2}, {1.0f, -2.0f});
    Optimizer opt(o, {&p});
    double ref[2] = {1.0, -2.0}, buf[2] = {0, 0}, m[2] = {0, 0}, v[2] = {0, 0};
    for (size_t t = 0; t < gs.size(); ++t) {
      Tensor g = filled({2}, gs[t]);
      opt.step({&g});
      for (int i = 0; i < 2; ++i) {
        const double d = gs[t][i] + 0.1 * ref[i];
        if (kind == OptimizerOptions::Kind::Sgd) {
          buf[i] = t == 0 ? d : 0.9 * buf[i] + d;
          ref[i] -= 0.1 * buf[i];
        } else {
          m[i] = 0.9 * m[i] + 0.1 * d;
          v[i] = 0.999 * v[i] + 0.001 * d * d;
          const double mh = m[i] / (1 - std::pow(0.9, t + 1)), vh = v[i] / (1 - std::pow(0.999, t + 1));
          ref[i] -= 0.1 * mh / (std::sqrt(vh) + 1e-8);
        }
        EXPECT_NEAR(p.data<float>()[i], ref[i], 1e-5) << "step " << t << " element " << i;
      }
    }
  }
}

TEST(Train, MlpLearnsAnglesDeterministically) {
  std::vector<Tensor> weights[2];
  for (int run = 0; run < 2; ++run) {
    auto g = make_mlp(mlp({2, 16, 3}, OpKind::Tanh, 7));
    ASSERT_TRUE(g.has_value()) << g.status().message();
    Dataset d = angles(1200, 3);
    TrainOptions o;
    o.opt.lr = 0.1, o.opt.momentum = 0.9, o.epochs = 15, o.batch = 32, o.seed = 11;
    auto stats = train_model(**g, d, o);
    ASSERT_TRUE(stats.has_value()) << stats.status().message();
    EXPECT_GT(stats->back().val_accuracy, 0.93);
    EXPECT_LT(stats->back().loss, stats->front().loss);
    for (const Param& p : trainable_params(**g)) weights[run].push_back(p.data);
  }
  ASSERT_EQ(weights[0].size(), weights[1].size());
  for (size_t k = 0; k < weights[0].size(); ++k)
    for (int64_t i = 0; i < weights[0][k].numel(); ++i)
      ASSERT_EQ(weights[0][k].data<float>()[i], weights[1][k].data<float>()[i]) << "param " << k;
}

TEST(Train, RegressionWithMseAndAdam) {
  auto g = make_mlp(mlp({1, 24, 24, 1}, OpKind::Tanh, 5));
  ASSERT_TRUE(g.has_value());
  Dataset d{Tensor(DType::F32, {400, 1}), Tensor(DType::F32, {400, 1})};
  for (int64_t i = 0; i < 400; ++i) {
    const float x = -3.0f + 6.0f * (float)i / 399.0f;
    d.x.data<float>()[i] = x, d.y.data<float>()[i] = std::sin(x);
  }
  TrainOptions o;
  o.loss = Loss::Mse;
  o.opt.kind = OptimizerOptions::Kind::Adam;
  o.opt.lr = 0.01, o.epochs = 60, o.batch = 20;
  auto stats = train_model(**g, d, o);
  ASSERT_TRUE(stats.has_value()) << stats.status().message();
  EXPECT_LT(stats->back().val_loss, 0.01);  // sin has variance 0.47 on this range
}

// Conv -> BatchNormalization -> Relu -> GlobalAveragePool -> Gemm: trains
// with batch statistics, and the running statistics move off their start.
TEST(Train, ConvNetWithBatchNorm) {
  Graph g;
  Builder b(g, infer_node);
  Shape s = Shape::of({1, 1, 6, 6});
  s.dims[0] = Dim::named("N");
  Value* x = b.input("x", TensorType{DType::F32, s});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  auto rnd = [&](const Dims& d) {
    Tensor t(DType::F32, d);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
    return t;
  };
  Value* c = b.op(OpKind::Conv, {x, b.constant("w", rnd({4, 1, 3, 3})), b.constant("cb", rnd({4}))},
                  {{"pads", Attribute::of_ints({1, 1, 1, 1})}});
  Value* bn =
      b.op(OpKind::BatchNormalization,
           {c, b.constant("scale", filled({4}, {1, 1, 1, 1})), b.constant("bias", filled({4}, {0, 0, 0, 0})),
            b.constant("mean", filled({4}, {0, 0, 0, 0})), b.constant("var", filled({4}, {1, 1, 1, 1}))});
  Value* p = b.op(OpKind::Flatten, {b.op(OpKind::GlobalAveragePool, {b.op(OpKind::Relu, {bn})})});
  b.output(b.op(OpKind::Gemm, {p, b.constant("fw", rnd({2, 4})), b.constant("fb", rnd({2}))},
                {{"transB", Attribute::of_int(1)}}));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  // Class 1: a bright vertical bar somewhere; class 0: noise only.
  Dataset d{Tensor(DType::F32, {256, 1, 6, 6}), Tensor(DType::I64, {256})};
  for (int64_t i = 0; i < 256; ++i) {
    float* im = d.x.data<float>() + i * 36;
    for (int k = 0; k < 36; ++k) im[k] = 0.3f * u(rng);
    d.y.data<int64_t>()[i] = i % 2;
    if (i % 2)
      for (int r = 0; r < 6; ++r) im[r * 6 + (i / 2) % 6] += 1.5f;
  }
  TrainOptions o;
  o.opt.lr = 0.05, o.opt.momentum = 0.9, o.epochs = 12, o.batch = 16;
  auto stats = train_model(g, d, o);
  ASSERT_TRUE(stats.has_value()) << stats.status().message();
  EXPECT_GT(stats->back().val_accuracy, 0.9);
  const Tensor mean = bn_state(g)[0].data;  // started at 0
  double moved = 0;
  for (int64_t k = 0; k < 4; ++k) moved += std::abs(mean.data<float>()[k]);
  EXPECT_GT(moved, 1e-3);
}

TEST(Train, ErrorsAreClear) {
  auto g = make_mlp(mlp({3, 2}, OpKind::Relu, 0));
  ASSERT_TRUE(g.has_value());
  auto d = make_dataset(**g, Tensor(DType::F32, {5, 4}), Tensor(DType::I64, {5}), Loss::CrossEntropy);
  ASSERT_FALSE(d.has_value());
  EXPECT_NE(d.status().message().find("a sample of the data is 4 values"), std::string::npos)
      << d.status().message();
  auto e = make_dataset(**g, Tensor(DType::F32, {5, 3}), Tensor(DType::F32, {5}), Loss::CrossEntropy);
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.status().message().find("integer class id"), std::string::npos);
  EXPECT_FALSE(make_mlp(mlp({3}, OpKind::Relu, 0)).has_value());
}

}  // namespace
}  // namespace weec::train
