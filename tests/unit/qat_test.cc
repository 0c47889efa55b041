// Quantisation-aware training (src/train/qat): the QAT graph starts as the
// post-training quantised model, the QDQ model it writes carries the scales
// training ended with, and training moves what it should (weights, and the
// step sizes only with LSQ).
#include "train/qat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "interp/interpreter.h"
#include "ops/registry.h"
#include "passes/pass.h"
#include "train/presets.h"
#include "train/trainer.h"
#include "train_datasets.h"

namespace weec::train {
namespace {

std::unique_ptr<Graph> trained_mlp(const Dataset& d) {
  MlpSpec s;
  s.sizes = {2, 16, 3};
  s.seed = 3;
  auto g = make_mlp(s);
  EXPECT_TRUE(g) << g.status().message();
  TrainOptions o;
  o.opt.kind = OptimizerOptions::Kind::Adam;
  o.opt.lr = 0.03;
  o.epochs = 4, o.batch = 32, o.val_fraction = 0;
  EXPECT_TRUE(train_model(**g, d, o));
  return std::move(*g);
}

Tensor row(const Tensor& x, int64_t i) {
  Tensor t(DType::F32, {1, x.dim(1)});
  for (int64_t k = 0; k < x.dim(1); ++k) t.set_double(k, x.get_double(i * x.dim(1) + k));
  return t;
}

QatOptions options(const Dataset& d, int bits, bool lsq) {
  QatOptions q;
  q.weight_bits = bits, q.lsq = lsq;
  for (int64_t i = 0; i < 64; ++i) q.calibration.push_back({row(d.x, i)});
  return q;
}

std::vector<Tensor> run(const Graph& g, const Tensor& x) {
  auto r = run_graph(g, {&x});
  EXPECT_TRUE(r) << r.status().message();
  return r ? *r : std::vector<Tensor>{};
}

// The post-training QDQ model, as `weec compile --quantize` builds it before lowering.
std::unique_ptr<Graph> ptq(const Graph& model, const QatOptions& q) {
  auto g = model.clone();
  g->inputs[0]->type.shape.dims[0] = Dim::known(1);
  PassContext ctx;
  ctx.quantize.calibration = q.calibration;
  ctx.quantize.weight_bits = q.weight_bits;
  Status st = PassManager(std::vector<std::string>{"infer-shapes", "fold-constants", "eliminate-dead-code",
                                                   "simplify-inference", "fold-constants",
                                                   "eliminate-dead-code", "quantize"})
                  .run(*g, ctx);
  EXPECT_TRUE(st) << st.message();
  return g;
}

// The QAT graph with its batch bound to 1, as the QDQ model has it.
std::unique_ptr<Graph> batch_one(const Graph& g) {
  auto b = g.clone();
  b->inputs[0]->type.shape.dims[0] = Dim::known(1);
  Status st = infer_graph(*b);
  EXPECT_TRUE(st) << st.message();
  return b;
}

int count(const Graph& g, OpKind op) {
  int n = 0;
  for (auto& node : g.nodes()) n += node->op == op;
  return n;
}

// Before any training the QAT graph computes what the post-training QDQ
// model computes. Only the bias differs: QDQ rounds it to int32 steps of
// s_x * s_w, QAT keeps it float, so outputs agree to a few such steps.
TEST(Qat, StartsAsThePostTrainingModel) {
  const Dataset d = angles(600, 1);
  auto model = trained_mlp(d);
  for (int bits : {8, 4}) {
    const QatOptions q = options(d, bits, false);
    auto qat = make_qat_model(*model, q);
    ASSERT_TRUE(qat) << qat.status().message();
    EXPECT_EQ(qat->weights, 2);
    EXPECT_EQ(qat->activations, 3);  // input, Relu, logits
    auto ref = ptq(*model, q);
    auto qat1 = batch_one(*qat->graph);
    double worst = 0;
    for (int64_t i = 100; i < 200; ++i) {
      const Tensor x = row(d.x, i);
      auto a = run(*qat1, x), b = run(*ref, x);
      ASSERT_EQ(a.size(), 1u);
      ASSERT_EQ(b.size(), 1u);
      for (int64_t k = 0; k < 3; ++k)
        worst = std::max(worst, std::fabs(a[0].get_double(k) - b[0].get_double(k)));
    }
    // The logits' own quantiser: one step is its scale; a bias rounding
    // moves a value across a step boundary at most.
    double out_step = 0;
    for (auto& n : ref->nodes())
      if (n->op == OpKind::DequantizeLinear && n->outputs[0] == ref->outputs[0])
        out_step = n->input(1)->constant->get_double(0);
    ASSERT_GT(out_step, 0);
    EXPECT_LE(worst, out_step * 1.001) << bits << "-bit";
  }
}

// The QDQ model written after training holds the scales training ended
// with, and computes what the trained QAT graph computes.
TEST(Qat, ExportCarriesTheTrainedScales) {
  const Dataset d = angles(600, 2);
  auto model = trained_mlp(d);
  for (bool lsq : {false, true}) {
    auto qat = make_qat_model(*model, options(d, 4, lsq));
    ASSERT_TRUE(qat);
    TrainOptions o;
    o.opt.kind = OptimizerOptions::Kind::Adam;
    o.opt.lr = 0.01;
    o.epochs = 2, o.batch = 32, o.val_fraction = 0;
    o.extras = qat->extras;
    o.after_step = qat->after_step;
    std::map<std::string, Tensor> before;  // every FakeQuantize scale
    for (auto& n : qat->graph->nodes())
      if (n->op == OpKind::FakeQuantize) before[n->input(1)->name] = *n->input(1)->constant;
    ASSERT_TRUE(train_model(*qat->graph, d, o));
    // Which FakeQuantize scales moved: with LSQ all of them; without, only
    // the weight scales (tracking max |w| / 7), never the activation ranges.
    for (auto& n : qat->graph->nodes()) {
      if (n->op != OpKind::FakeQuantize) continue;
      const Tensor& s = *n->input(1)->constant;
      const Value* x = n->inputs[0];
      if (x->constant) {
        std::vector<double> mx(s.numel(), 0);  // per output channel: Gemm weights are [out, in]
        const Tensor& w = *x->constant;
        for (int64_t i = 0; i < w.numel(); ++i)
          mx[i / w.dim(1)] = std::max(mx[i / w.dim(1)], std::fabs(w.get_double(i)));
        for (int64_t c = 0; c < s.numel(); ++c) {
          if (!lsq) {
            EXPECT_FLOAT_EQ(s.get_double(c), mx[c] / 7) << x->name;
          }
        }
      }
      bool moved = false;
      const Tensor& was = before.at(n->input(1)->name);
      for (int64_t i = 0; i < s.numel(); ++i) moved |= was.get_double(i) != s.get_double(i);
      if (lsq || x->constant) {
        EXPECT_TRUE(moved) << n->input(1)->name;
      } else {
        EXPECT_FALSE(moved) << "a calibrated activation range moved: " << n->input(1)->name;
      }
    }
    auto qdq = qat_to_qdq(*qat->graph, 4);
    ASSERT_TRUE(qdq) << qdq.status().message();
    EXPECT_EQ(count(**qdq, OpKind::FakeQuantize), 0);
    EXPECT_EQ(count(**qdq, OpKind::QuantizeLinear), 3);  // input, Relu, logits
    // Each activation's QuantizeLinear has the scale and zero point its
    // FakeQuantize ended training with (a graph output's value is renamed
    // NAME_float by the pass).
    int matched = 0;
    for (auto& f : qat->graph->nodes()) {
      if (f->op != OpKind::FakeQuantize || f->inputs[0]->constant) continue;
      for (auto& n : (*qdq)->nodes())
        if (n->op == OpKind::QuantizeLinear && (n->inputs[0]->name == f->inputs[0]->name ||
                                                n->inputs[0]->name == f->inputs[0]->name + "_float")) {
          EXPECT_EQ((float)n->input(1)->constant->get_double(0), (float)f->input(1)->constant->get_double(0));
          EXPECT_EQ(n->input(2)->constant->get_int(0), std::llround(f->input(2)->constant->get_double(0)));
          ++matched;
        }
    }
    EXPECT_EQ(matched, 3);
    // And each weight's DequantizeLinear the per-channel scales training ended with.
    for (auto& f : qat->graph->nodes()) {
      if (f->op != OpKind::FakeQuantize || !f->inputs[0]->constant) continue;
      const Tensor& fs = *f->input(1)->constant;
      bool found = false;
      for (auto& n : (*qdq)->nodes())
        if (n->op == OpKind::DequantizeLinear && n->outputs[0]->name == f->inputs[0]->name + "_dequantized") {
          found = true;
          const Tensor& qs = *n->input(1)->constant;
          ASSERT_EQ(qs.numel(), fs.numel());
          for (int64_t c = 0; c < qs.numel(); ++c) EXPECT_EQ(qs.get_double(c), fs.get_double(c));
        }
      EXPECT_TRUE(found) << f->inputs[0]->name;
    }
    // The weights as stored: 4-bit values, scales exactly the trained ones.
    for (auto& n : (*qdq)->nodes())
      if (n->op == OpKind::DequantizeLinear && n->inputs[0]->constant &&
          n->inputs[0]->constant->dtype() == DType::I8)
        for (int64_t i = 0; i < n->inputs[0]->constant->numel(); ++i) {
          EXPECT_LE(std::abs(n->inputs[0]->constant->get_int(i)), 7);
        }
    auto qat1 = batch_one(*qat->graph);
    int same = 0;
    for (int64_t i = 0; i < 100; ++i) {
      const Tensor x = row(d.x, i);
      auto a = run(*qat1, x), b = run(**qdq, x);
      int arg_a = 0, arg_b = 0;
      for (int k = 1; k < 3; ++k) {
        if (a[0].get_double(k) > a[0].get_double(arg_a)) arg_a = k;
        if (b[0].get_double(k) > b[0].get_double(arg_b)) arg_b = k;
      }
      same += arg_a == arg_b;
    }
    EXPECT_GE(same, 98) << (lsq ? "lsq" : "ste");
  }
}

TEST(Qat, RejectsWhatItCannotDo) {
  const Dataset d = angles(100, 3);
  auto model = trained_mlp(d);
  QatOptions q = options(d, 8, false);
  q.weight_bits = 3;
  auto r = make_qat_model(*model, q);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("8 or 4 bits"), std::string::npos);
  q.weight_bits = 8;
  q.calibration.clear();
  r = make_qat_model(*model, q);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("calibration"), std::string::npos);
}

}  // namespace
}  // namespace weec::train
