// Gradient checks: every op with a gradient hook, on small f64 graphs with
// odd shapes, against central finite differences of the forward graph in
// the interpreter. The loss is sum(y * R) for a fixed random R (so every
// output element gets a different weight); the analytic gradient is the
// gradient graph (append_gradients) run by the interpreter.
//
// Tolerance: |analytic - numeric| <= 1e-4 * max(|analytic|, |numeric|, 1e-3)
// with step h = 1e-5 (f64: truncation error ~h^2, rounding ~1e-16 / h).
// Inputs of kinked ops (Relu, LeakyRelu) stay at least 0.05 from the kink.
#include "autodiff/autodiff.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "interp/interpreter.h"
#include "ir/verifier.h"
#include "ops/registry.h"

namespace weec {
namespace {

struct GradCase {
  Graph g;
  Builder b{g, infer_node};
  std::vector<Tensor> feeds;
  std::mt19937 rng;
  explicit GradCase(uint32_t seed) : rng(seed) {}

  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
  // A float input in [-2, 2], |x| >= away (away from a kink at 0).
  Value* in(const Dims& d, double away = 0.0) {
    Tensor t(DType::F64, d);
    for (int64_t i = 0; i < t.numel(); ++i) {
      double v = uniform(away, 2.0);
      t.set_double(i, uniform(0, 1) < 0.5 ? -v : v);
    }
    return add(std::move(t));
  }
  Value* add(Tensor t) {
    Value* v = b.input("x" + std::to_string(feeds.size()), TensorType{t.dtype(), Shape::of(t.dims())});
    feeds.push_back(std::move(t));
    return v;
  }
  Value* labels(const Dims& d, int64_t classes) {
    Tensor t(DType::I64, d);
    for (int64_t i = 0; i < t.numel(); ++i)
      t.data<int64_t>()[i] = (int64_t)uniform(0, (double)classes - 1e-9);
    return add(std::move(t));
  }
  Value* ints(const std::vector<int64_t>& v) {
    Tensor t(DType::I64, {(int64_t)v.size()});
    for (size_t i = 0; i < v.size(); ++i) t.data<int64_t>()[i] = v[i];
    return b.constant(g.unique_name("c"), std::move(t));
  }
};

std::vector<const Tensor*> ptrs(const std::vector<Tensor>& v) {
  std::vector<const Tensor*> p;
  for (auto& t : v) p.push_back(&t);
  return p;
}

// Checks d(sum(y * R))/d(input) for every f64 input of c.g.
void check_gradients(GradCase& c, Value* y, const std::string& what) {
  ASSERT_TRUE(c.b.status().is_ok()) << what << ": " << c.b.status().message();
  Tensor r(DType::F64, y->type.shape.static_dims());
  for (int64_t i = 0; i < r.numel(); ++i) r.set_double(i, c.uniform(-1, 1));
  Value* rv = c.b.constant("R", std::move(r));
  Value* loss =
      c.b.op(OpKind::ReduceSum, {c.b.op(OpKind::Mul, {y, rv})}, {{"keepdims", Attribute::of_int(0)}});
  c.g.outputs = {loss};
  ASSERT_TRUE(c.b.status().is_ok()) << what << ": " << c.b.status().message();

  std::unique_ptr<Graph> gg = c.g.clone();
  std::vector<Value*> wrt;
  std::vector<size_t> which;
  for (size_t i = 0; i < gg->inputs.size(); ++i)
    if (gg->inputs[i]->type.dtype == DType::F64) wrt.push_back(gg->inputs[i]), which.push_back(i);
  auto grads = append_gradients(*gg, gg->outputs[0], wrt);
  ASSERT_TRUE(grads.has_value()) << what << ": " << grads.status().message();
  gg->outputs = *grads;
  Status ok = verify_graph(*gg);
  ASSERT_TRUE(ok.is_ok()) << what << ": " << ok.message();
  auto analytic = run_graph(*gg, ptrs(c.feeds));
  ASSERT_TRUE(analytic.has_value()) << what << ": " << analytic.status().message();

  const double h = 1e-5;
  auto loss_at = [&](std::vector<Tensor>& feeds) {
    auto out = run_graph(c.g, ptrs(feeds));
    EXPECT_TRUE(out.has_value()) << out.status().message();
    return out ? (*out)[0].get_double(0) : 0.0;
  };
  for (size_t k = 0; k < which.size(); ++k) {
    const Tensor& a = (*analytic)[k];
    std::vector<Tensor> feeds = c.feeds;
    Tensor& x = feeds[which[k]];
    ASSERT_EQ(a.dims(), x.dims()) << what;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double x0 = x.get_double(i);
      x.set_double(i, x0 + h);
      const double lp = loss_at(feeds);
      x.set_double(i, x0 - h);
      const double lm = loss_at(feeds);
      x.set_double(i, x0);
      const double num = (lp - lm) / (2 * h), an = a.get_double(i);
      const double tol = 1e-4 * std::max({std::abs(an), std::abs(num), 1e-3});
      ASSERT_NEAR(an, num, tol) << what << ": input " << which[k] << " element " << i;
    }
  }
}

AttrMap attrs(std::initializer_list<std::pair<const std::string, Attribute>> a) { return AttrMap(a); }
Attribute i(int64_t v) { return Attribute::of_int(v); }

TEST(Autodiff, BroadcastingArithmetic) {
  const struct {
    OpKind op;
    Dims a, b;
  } cases[] = {
      {OpKind::Add, {3, 1, 5}, {4, 1}}, {OpKind::Sub, {2, 3}, {3}}, {OpKind::Mul, {2, 3, 4}, {1, 3, 1}},
      {OpKind::Div, {3, 5}, {3, 1}},    {OpKind::Mul, {7}, {}},     {OpKind::Sub, {1}, {2, 3}}};
  uint32_t seed = 1;
  for (const auto& k : cases) {
    GradCase c(seed++);
    Value* a = c.in(k.a);
    Value* b = c.in(k.b, k.op == OpKind::Div ? 0.5 : 0.0);
    check_gradients(c, c.b.op(k.op, {a, b}), std::string(op_name(k.op)));
  }
}

TEST(Autodiff, Activations) {
  uint32_t seed = 10;
  for (OpKind op : {OpKind::Relu, OpKind::LeakyRelu, OpKind::Sigmoid, OpKind::Tanh}) {
    GradCase c(seed++);
    AttrMap a;
    if (op == OpKind::LeakyRelu) a["alpha"] = Attribute::of_float(0.2f);
    check_gradients(c, c.b.op(op, {c.in({3, 7}, 0.05)}, a), std::string(op_name(op)));
  }
}

TEST(Autodiff, SoftmaxFamily) {
  GradCase c(20);
  check_gradients(c, c.b.op(OpKind::Softmax, {c.in({3, 5, 2})}, attrs({{"axis", i(1)}})), "Softmax axis 1");
  GradCase d(21);
  check_gradients(d, d.b.op(OpKind::LogSoftmax, {d.in({4, 7})}, attrs({{"axis", i(-1)}})), "LogSoftmax");
}

TEST(Autodiff, GemmEveryTransposeAndBias) {
  uint32_t seed = 30;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (const Dims& cd : {Dims{4}, Dims{3, 1}, Dims{}, Dims{3, 4}}) {
        GradCase c(seed++);
        Value* a = c.in(ta ? Dims{5, 3} : Dims{3, 5});
        Value* b = c.in(tb ? Dims{4, 5} : Dims{5, 4});
        Value* bias = c.in(cd);
        AttrMap at = {{"transA", i(ta)},
                      {"transB", i(tb)},
                      {"alpha", Attribute::of_float(0.7f)},
                      {"beta", Attribute::of_float(1.25f)}};
        check_gradients(c, c.b.op(OpKind::Gemm, {a, b, bias}, at),
                        fmt::format("Gemm transA={} transB={} C{}", ta, tb, cd.size()));
      }
}

TEST(Autodiff, MatMulBroadcastBatches) {
  const struct {
    Dims a, b;
  } cases[] = {{{2, 3, 5}, {5, 4}}, {{3, 4}, {2, 4, 6}}, {{2, 1, 3, 4}, {5, 4, 2}}, {{1, 1}, {1, 3}}};
  uint32_t seed = 50;
  for (const auto& k : cases) {
    GradCase c(seed++);
    Value* a = c.in(k.a);
    check_gradients(c, c.b.op(OpKind::MatMul, {a, c.in(k.b)}), "MatMul");
  }
}

TEST(Autodiff, ShapeOps) {
  GradCase c(60);
  check_gradients(c, c.b.op(OpKind::Reshape, {c.in({2, 3, 4}), c.ints({6, -1})}), "Reshape");
  GradCase d(61);
  check_gradients(d, d.b.op(OpKind::Flatten, {d.in({2, 3, 2, 2})}, attrs({{"axis", i(2)}})), "Flatten");
  GradCase e(62);
  check_gradients(
      e, e.b.op(OpKind::Transpose, {e.in({2, 3, 4})}, attrs({{"perm", Attribute::of_ints({2, 0, 1})}})),
      "Transpose");
  GradCase f(63);
  check_gradients(f, f.b.op(OpKind::Transpose, {f.in({2, 3, 5})}), "Transpose default");
  GradCase g(64);
  check_gradients(g, g.b.op(OpKind::Identity, {g.in({5})}), "Identity");
}

TEST(Autodiff, Reductions) {
  GradCase c(70);
  check_gradients(c, c.b.op(OpKind::ReduceSum, {c.in({3, 4, 5}), c.ints({1})}, attrs({{"keepdims", i(0)}})),
                  "ReduceSum");
  GradCase d(71);
  check_gradients(d, d.b.op(OpKind::ReduceMean, {d.in({3, 4, 5}), d.ints({0, -1})}), "ReduceMean keepdims");
  GradCase e(72);
  check_gradients(e, e.b.op(OpKind::ReduceMean, {e.in({3, 2})}, attrs({{"keepdims", i(0)}})),
                  "ReduceMean all");
}

TEST(Autodiff, SoftmaxCrossEntropyLoss) {
  uint32_t seed = 80;
  for (const char* red : {"mean", "sum", "none"}) {
    GradCase c(seed++);
    Value* s = c.in({5, 7});
    Value* l = c.labels({5}, 7);
    check_gradients(
        c, c.b.op(OpKind::SoftmaxCrossEntropyLoss, {s, l}, attrs({{"reduction", Attribute::of_string(red)}})),
        std::string("SCE ") + red);
  }
  GradCase c(90);  // [N, C, d] scores, and the log_prob output used too
  Value* s = c.in({3, 4, 2});
  auto outs = c.b.op_n(OpKind::SoftmaxCrossEntropyLoss, {s, c.labels({3, 2}, 4)}, 2);
  check_gradients(
      c, c.b.op(OpKind::Add, {outs[0], c.b.op(OpKind::ReduceSum, {outs[1]}, attrs({{"keepdims", i(0)}}))}),
      "SCE with log_prob");
}

TEST(Autodiff, UnaryMath) {
  uint32_t seed = 120;
  for (OpKind op : {OpKind::Neg, OpKind::Abs, OpKind::Exp, OpKind::Log, OpKind::Sqrt, OpKind::Reciprocal}) {
    GradCase c(seed++);
    Value* x = c.in({2, 5}, 0.3);
    if (op == OpKind::Log || op == OpKind::Sqrt) x = c.b.op(OpKind::Abs, {x});  // positive inputs
    check_gradients(c, c.b.op(op, {x}), std::string(op_name(op)));
  }
}

// Conv in 1-D and 2-D: strides, dilations, asymmetric pads that leave rows
// out, groups (depthwise, with a multiplier, and several channels per group),
// bias; gradients for X, W and B.
TEST(Autodiff, Conv) {
  const struct {
    Dims x, w;
    std::vector<int64_t> strides, dilations, pads;
    int64_t group;
  } cases[] = {
      {{2, 3, 7, 6}, {4, 3, 3, 2}, {1, 1}, {1, 1}, {1, 0, 1, 1}, 1},
      {{1, 2, 9, 8}, {3, 2, 3, 3}, {2, 3}, {2, 1}, {0, 2, 1, 0}, 1},
      {{2, 4, 6, 5}, {4, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 4},
      {{1, 3, 7, 7}, {6, 1, 2, 3}, {2, 2}, {1, 2}, {0, 1, 1, 0}, 3},
      {{2, 4, 5, 6}, {6, 2, 3, 2}, {1, 2}, {1, 1}, {1, 1, 0, 0}, 2},
      {{3, 2, 11}, {3, 2, 4}, {3}, {2}, {2, 1}, 1},
  };
  uint32_t seed = 130;
  for (const auto& k : cases) {
    GradCase c(seed++);
    Value* x = c.in(k.x);
    Value* w = c.in(k.w);
    Value* b = c.in({k.w[0]});
    AttrMap a = {{"strides", Attribute::of_ints(k.strides)},
                 {"dilations", Attribute::of_ints(k.dilations)},
                 {"pads", Attribute::of_ints(k.pads)},
                 {"group", i(k.group)}};
    check_gradients(c, c.b.op(OpKind::Conv, {x, w, b}, a),
                    fmt::format("Conv x{} w{} group {}", dims_str(k.x), dims_str(k.w), k.group));
  }
}

TEST(Autodiff, Pools) {
  GradCase c(140);  // overlapping windows, padding, ceil_mode
  check_gradients(c,
                  c.b.op(OpKind::MaxPool, {c.in({2, 2, 7, 6})},
                         attrs({{"kernel_shape", Attribute::of_ints({3, 2})},
                                {"strides", Attribute::of_ints({2, 1})},
                                {"pads", Attribute::of_ints({1, 0, 1, 1})},
                                {"ceil_mode", i(1)}})),
                  "MaxPool");
  for (int64_t include : {0, 1}) {
    GradCase d(141 + (uint32_t)include);
    check_gradients(d,
                    d.b.op(OpKind::AveragePool, {d.in({2, 3, 7, 5})},
                           attrs({{"kernel_shape", Attribute::of_ints({3, 3})},
                                  {"strides", Attribute::of_ints({2, 2})},
                                  {"pads", Attribute::of_ints({1, 1, 1, 0})},
                                  {"count_include_pad", i(include)}})),
                    "AveragePool count_include_pad=" + std::to_string(include));
  }
  GradCase e(143);
  check_gradients(e, e.b.op(OpKind::GlobalAveragePool, {e.in({2, 3, 4, 5})}), "GlobalAveragePool");
}

TEST(Autodiff, Concat) {
  GradCase c(150);
  Value* a = c.in({2, 3, 4});
  Value* b = c.in({2, 1, 4});
  check_gradients(c, c.b.op(OpKind::Concat, {a, b, a}, attrs({{"axis", i(-2)}})), "Concat");
}

TEST(Autodiff, Slice) {
  GradCase c(160);
  check_gradients(c,
                  c.b.op(OpKind::Slice, {c.in({4, 5, 3}), c.ints({1, -4}), c.ints({100, 4}), c.ints({0, 1})}),
                  "Slice");
}

// BatchNormalization in training mode (batch statistics; gradients for X,
// scale, B) and in inference mode (also for the mean and variance inputs).
TEST(Autodiff, BatchNormalization) {
  for (int64_t training : {1, 0}) {
    GradCase c(170 + (uint32_t)training);
    Value* x = c.in({3, 2, 4, 3});
    Value* scale = c.in({2});
    Value* bias = c.in({2});
    Value* mean = c.in({2});
    Tensor var(DType::F64, {2});
    var.set_double(0, 0.7), var.set_double(1, 1.9);
    Value* v = c.add(std::move(var));
    AttrMap a = {{"epsilon", Attribute::of_float(1e-3f)}, {"training_mode", i(training)}};
    check_gradients(c, c.b.op(OpKind::BatchNormalization, {x, scale, bias, mean, v}, a),
                    training ? "BatchNormalization training" : "BatchNormalization inference");
  }
}

// FakeQuantize: exactly QuantizeLinear -> DequantizeLinear (int8, per
// channel on axis 0), and its straight-through and LSQ gradients as the
// formulas say, element by element (round() is not differentiable, so no
// finite differences here).
TEST(Autodiff, FakeQuantizeMatchesQdqAndStraightThrough) {
  GradCase c(180);
  Tensor x(DType::F32, {3, 7});
  for (int64_t k = 0; k < x.numel(); ++k) x.set_double(k, c.uniform(-3, 3));
  x.set_double(0, 0.25);  // a tie: half to even
  const std::vector<float> scale = {0.02f, 0.013f, 0.05f}, zp = {0, -3, 5};
  Tensor s(DType::F32, {3, 1}), z(DType::F32, {3, 1}), s1(DType::F32, {3}), z8(DType::I8, {3});
  for (int k = 0; k < 3; ++k)
    s.set_double(k, scale[k]), z.set_double(k, zp[k]), s1.set_double(k, scale[k]), z8.set_double(k, zp[k]);
  Value* xv = c.add(x);
  Value* sv = c.add(s);
  Value* zv = c.b.constant("zp", z);
  Value* fq = c.b.op(OpKind::FakeQuantize, {xv, sv, zv}, attrs({{"qmin", i(-128)}, {"qmax", i(127)}}));
  Value* q = c.b.op(OpKind::QuantizeLinear, {xv, c.b.constant("s1", s1), c.b.constant("z8", z8)},
                    attrs({{"axis", i(0)}}));
  Value* dq = c.b.op(OpKind::DequantizeLinear, {q, c.b.constant("s2", s1), c.b.constant("z9", z8)},
                     attrs({{"axis", i(0)}}));
  Tensor r(DType::F32, {3, 7});
  for (int64_t k = 0; k < r.numel(); ++k) r.set_double(k, c.uniform(-1, 1));
  Value* loss = c.b.op(OpKind::ReduceSum, {c.b.op(OpKind::Mul, {fq, c.b.constant("R", r)})},
                       attrs({{"keepdims", i(0)}}));
  c.g.outputs = {fq, dq, loss};
  ASSERT_TRUE(c.b.status().is_ok()) << c.b.status().message();
  auto grads = append_gradients(c.g, loss, {xv, sv});
  ASSERT_TRUE(grads.has_value()) << grads.status().message();
  c.g.outputs.insert(c.g.outputs.end(), grads->begin(), grads->end());
  auto out = run_graph(c.g, ptrs(c.feeds));
  ASSERT_TRUE(out.has_value()) << out.status().message();
  const Tensor &y = (*out)[0], &want = (*out)[1], &dx = (*out)[3], &ds = (*out)[4];
  double ds_want[3] = {0, 0, 0};
  for (int64_t k = 0; k < x.numel(); ++k) {
    ASSERT_EQ(y.get_double(k), want.get_double(k)) << "element " << k;
    const int ch = (int)(k / 7);
    const float xs = (float)x.get_double(k) / scale[ch], rq = std::nearbyint(xs), qv = rq + zp[ch];
    const bool inside = qv >= -128 && qv <= 127;
    EXPECT_EQ(dx.get_double(k), inside ? r.get_double(k) : 0.0) << "dx " << k;
    ds_want[ch] += r.get_double(k) * (inside ? (double)(rq - xs) : qv < -128 ? -128 - zp[ch] : 127 - zp[ch]);
  }
  for (int ch = 0; ch < 3; ++ch) EXPECT_NEAR(ds.get_double(ch), ds_want[ch], 1e-4) << "dscale " << ch;
}

// A 2-layer MLP with its loss, and a value used twice (the gradients of its
// uses add up).
TEST(Autodiff, ChainsAndFanOut) {
  GradCase c(100);
  Value* x = c.in({4, 6});
  Value* w1 = c.in({5, 6});
  Value* b1 = c.in({5});
  Value* w2 = c.in({5, 3});
  Value* h = c.b.op(OpKind::Tanh, {c.b.op(OpKind::Gemm, {x, w1, b1}, attrs({{"transB", i(1)}}))});
  Value* logits = c.b.op(OpKind::MatMul, {h, w2});
  check_gradients(c, c.b.op(OpKind::SoftmaxCrossEntropyLoss, {logits, c.labels({4}, 3)}), "MLP + SCE");
  GradCase d(101);
  Value* v = d.in({3, 4});
  Value* sq = d.b.op(OpKind::Mul, {v, v});
  check_gradients(d, d.b.op(OpKind::Add, {sq, d.b.op(OpKind::Sigmoid, {v})}), "x*x + sigmoid(x)");
}

TEST(Autodiff, ErrorsNameTheNode) {
  GradCase c(110);
  Value* y = c.b.op(OpKind::Erf, {c.in({3})});
  Value* loss = c.b.op(OpKind::ReduceSum, {y}, attrs({{"keepdims", i(0)}}));
  auto grads = append_gradients(c.g, loss, {c.g.inputs[0]});
  ASSERT_FALSE(grads.has_value());
  EXPECT_NE(grads.status().message().find("Erf has no gradient"), std::string::npos)
      << grads.status().message();
  // A value the loss does not depend on gets zeros.
  GradCase d(111);
  Value* a = d.in({2});
  Value* unused = d.in({3});
  Value* l = d.b.op(OpKind::ReduceSum, {a}, attrs({{"keepdims", i(0)}}));
  auto g = append_gradients(d.g, l, {unused});
  ASSERT_TRUE(g.has_value()) << g.status().message();
  ASSERT_TRUE((*g)[0]->constant);
  for (int64_t k = 0; k < 3; ++k) EXPECT_EQ((*g)[0]->constant->get_double(k), 0.0);
}

}  // namespace
}  // namespace weec
