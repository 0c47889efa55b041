// Elementwise ops (unary math, activations, comparisons, variadic, Cast):
// NaN/inf semantics, rounding, integer wrap-around, broadcasting and the
// legacy-opset import hooks. Expected values are hand-derived from the ONNX
// spec and IEEE arithmetic (each case says how), not from weec itself.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Runs one node on constant-free inputs; returns its single output.
Tensor run1(OpKind op, const std::vector<Tensor>& ins, AttrMap attrs = {}, std::vector<bool> present = {}) {
  Graph g;
  Builder b(g, infer_node);
  std::vector<Value*> vals;
  std::vector<const Tensor*> feed;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!present.empty() && !present[i]) {
      vals.push_back(nullptr);
      continue;
    }
    vals.push_back(b.input("in" + std::to_string(i), static_type(ins[i].dtype(), ins[i].dims())));
    feed.push_back(&ins[i]);
  }
  b.output(b.op(op, vals, std::move(attrs)));
  EXPECT_TRUE(b.status().is_ok()) << b.status().message();
  auto out = run_graph(g, feed);
  EXPECT_TRUE(out.has_value()) << out.status().message();
  return out.has_value() ? (*out)[0] : Tensor();
}

std::vector<float> floats(const Tensor& t) {
  std::vector<float> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back((float)t.get_double(i));
  return v;
}

// Element-wise float equality where NaN equals NaN and -0 differs from +0 only if `signed_zero`.
void expect_floats(const Tensor& t, const std::vector<float>& want) {
  std::vector<float> got = floats(t);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i << " = " << got[i];
    else
      EXPECT_EQ(got[i], want[i]) << "element " << i;
  }
}

Tensor f32(std::vector<float> v) { return Tensor::from_vector<float>({(int64_t)v.size()}, v); }

struct UnaryCase {
  OpKind op;
  std::vector<float> in, want;
};

TEST(OpsElementwise, UnaryFloatSemantics) {
  const UnaryCase cases[] = {
      // Round: ONNX spec examples plus ties (half to even), NaN and inf.
      {OpKind::Round,
       {0.5f, 1.5f, 2.5f, -2.5f, -0.5f, 2.3f, -4.5f, 0.9f, kNaN, -kInf},
       {0.f, 2.f, 2.f, -2.f, -0.f, 2.f, -4.f, 1.f, kNaN, -kInf}},
      // IEEE: sqrt of a negative is NaN, log(0) = -inf, 1/0 = inf, 1/-0 = -inf.
      {OpKind::Sqrt, {-1.f, 4.f, kInf, kNaN}, {kNaN, 2.f, kInf, kNaN}},
      {OpKind::Log, {0.f, 1.f, -1.f, kInf}, {-kInf, 0.f, kNaN, kInf}},
      {OpKind::Reciprocal, {0.f, -0.f, 4.f, kInf}, {kInf, -kInf, 0.25f, 0.f}},
      {OpKind::Exp, {-kInf, 0.f, kNaN}, {0.f, 1.f, kNaN}},
      // numpy.sign: NaN stays NaN.
      {OpKind::Sign, {-3.f, 0.f, 2.f, kNaN, -kInf}, {-1.f, 0.f, 1.f, kNaN, -1.f}},
      {OpKind::Floor, {-1.5f, 1.5f, kNaN}, {-2.f, 1.f, kNaN}},
      {OpKind::Ceil, {-1.5f, 1.5f, -kInf}, {-1.f, 2.f, -kInf}},
      {OpKind::Abs, {-kInf, -2.f, kNaN}, {kInf, 2.f, kNaN}},
      // Activations keep NaN (numpy references: max/clip propagate it).
      {OpKind::Relu, {-1.f, 2.f, kNaN, -kInf}, {0.f, 2.f, kNaN, 0.f}},
      {OpKind::Sigmoid, {-kInf, 0.f, kInf, kNaN}, {0.f, 0.5f, 1.f, kNaN}},
      // Softplus: log(1 + e^x) -> 0 at -inf, x at +inf (no inf/inf).
      {OpKind::Softplus, {-kInf, kInf, 0.f}, {0.f, kInf, std::log(2.f)}},
      // HardSwish: x * clip(x/6 + 1/2, 0, 1): -3 -> 0, 3 -> 3, 0 -> 0, 1.5 -> 1.5*0.75.
      {OpKind::HardSwish, {-3.f, 3.f, 0.f, 1.5f, kNaN}, {-0.f, 3.f, 0.f, 1.125f, kNaN}},
      // ThresholdedRelu(alpha=1): x > 1 ? x : 0; NaN passes through like the numpy clip reference.
      {OpKind::ThresholdedRelu, {1.f, 1.5f, -2.f, kNaN}, {0.f, 1.5f, 0.f, kNaN}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(op_name(c.op)));
    expect_floats(run1(c.op, {f32(c.in)}), c.want);
  }
}

TEST(OpsElementwise, RoundHalfToEvenInHalfPrecision) {
  // f16 holds 0.5, 1.5, 2.5, -2.5 exactly; results 0, 2, 2, -2 (bits 0x0000, 0x4000, 0x4000, 0xC000).
  Tensor x(DType::F16, {4});
  const uint16_t in[] = {0x3800, 0x3E00, 0x4100, 0xC100};
  std::memcpy(x.raw(), in, sizeof(in));
  Tensor y = run1(OpKind::Round, {x});
  EXPECT_EQ(y.dtype(), DType::F16);
  const uint16_t* o = y.data<uint16_t>();
  EXPECT_EQ(o[0], 0x0000);
  EXPECT_EQ(o[1], 0x4000);
  EXPECT_EQ(o[2], 0x4000);
  EXPECT_EQ(o[3], 0xC000);
}

TEST(OpsElementwise, IsNaNAndIsInfSelectSigns) {
  Tensor x = f32({kNaN, kInf, -kInf, 1.f});
  EXPECT_EQ(run1(OpKind::IsNaN, {x}).to_int_vector(), (std::vector<int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(run1(OpKind::IsInf, {x}).to_int_vector(), (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(run1(OpKind::IsInf, {x}, {{"detect_negative", Attribute::of_int(0)}}).to_int_vector(),
            (std::vector<int64_t>{0, 1, 0, 0}));
  EXPECT_EQ(run1(OpKind::IsInf, {x}, {{"detect_positive", Attribute::of_int(0)}}).to_int_vector(),
            (std::vector<int64_t>{0, 0, 1, 0}));
}

TEST(OpsElementwise, IntegerAbsNegSignWrapLikeTwosComplement) {
  // Two's complement: -INT_MIN does not fit and wraps to INT_MIN (numpy.abs does the same).
  const int32_t mn = std::numeric_limits<int32_t>::min();
  Tensor x = Tensor::from_vector<int32_t>({4}, {mn, -5, 0, 7});
  EXPECT_EQ(run1(OpKind::Abs, {x}).to_int_vector(), (std::vector<int64_t>{mn, 5, 0, 7}));
  EXPECT_EQ(run1(OpKind::Neg, {x}).to_int_vector(), (std::vector<int64_t>{mn, 5, 0, -7}));
  EXPECT_EQ(run1(OpKind::Sign, {x}).to_int_vector(), (std::vector<int64_t>{-1, -1, 0, 1}));
  Tensor x8 = Tensor::from_vector<int8_t>({2}, {-128, -1});
  Tensor a8 = run1(OpKind::Abs, {x8});
  EXPECT_EQ(a8.dtype(), DType::I8);
  EXPECT_EQ(a8.to_int_vector(), (std::vector<int64_t>{-128, 1}));
  Tensor u = Tensor::from_vector<uint8_t>({2}, {0, 200});
  EXPECT_EQ(run1(OpKind::Sign, {u}).to_int_vector(), (std::vector<int64_t>{0, 1}));
}

TEST(OpsElementwise, VariadicMaxMinPropagateNaNAndBroadcast) {
  // numpy.maximum/minimum: NaN in either operand wins. Shapes [2,1], [3], [] broadcast to [2,3].
  Tensor a = Tensor::from_vector<float>({2, 1}, {1.f, kNaN});
  Tensor b = f32({0.f, 5.f, kNaN});
  Tensor c = Tensor::scalar<float>(2.f);
  Tensor mx = run1(OpKind::Max, {a, b, c});
  EXPECT_EQ(mx.dims(), (Dims{2, 3}));
  expect_floats(mx, {2.f, 5.f, kNaN, kNaN, kNaN, kNaN});
  expect_floats(run1(OpKind::Min, {a, b, c}), {0.f, 1.f, kNaN, kNaN, kNaN, kNaN});
  // Sum / Mean of [1,2] + [3,4] + [5]: sums 9, 11; means 3, 11/3.
  Tensor s = run1(OpKind::Sum, {f32({1, 2}), f32({3, 4}), f32({5})});
  expect_floats(s, {9.f, 11.f});
  expect_floats(run1(OpKind::Mean, {f32({1, 2}), f32({3, 4}), f32({5})}), {3.f, 11.f / 3.f});
  Tensor i = run1(OpKind::Max, {Tensor::from_vector<int64_t>({2}, {-7, 9}), Tensor::scalar<int64_t>(0)});
  EXPECT_EQ(i.to_int_vector(), (std::vector<int64_t>{0, 9}));
}

TEST(OpsElementwise, ClipWithMissingMinAndIntegers) {
  Tensor x = f32({-100.f, 1.f, 3.f, kNaN, kInf});
  Tensor max = Tensor::scalar<float>(2.f);
  // Inputs (x, <omitted min>, max): only the upper bound applies; NaN passes through.
  expect_floats(run1(OpKind::Clip, {x, Tensor(), max}, {}, {true, false, true}),
                {-100.f, 1.f, 2.f, kNaN, 2.f});
  // No bounds at all: identity, infinities included.
  expect_floats(run1(OpKind::Clip, {x}), {-100.f, 1.f, 3.f, kNaN, kInf});
  // min > max: numpy.clip gives max everywhere.
  expect_floats(run1(OpKind::Clip, {f32({0.f, 9.f}), Tensor::scalar<float>(5.f), Tensor::scalar<float>(1.f)}),
                {1.f, 1.f});
  Tensor xi = Tensor::from_vector<int8_t>({3}, {-128, 0, 127});
  Tensor r = run1(OpKind::Clip, {xi, Tensor::scalar<int8_t>(-5), Tensor::scalar<int8_t>(5)});
  EXPECT_EQ(r.to_int_vector(), (std::vector<int64_t>{-5, 0, 5}));
}

TEST(OpsElementwise, WhereBroadcastsThreeWays) {
  // cond [2,1] picks rows; x [1,3]; y scalar: row 0 = x, row 1 = y.
  Tensor cond = Tensor::from_vector<bool>({2, 1}, {true, false});
  Tensor x = Tensor::from_vector<float>({1, 3}, {1, 2, 3});
  Tensor y = Tensor::scalar<float>(-1.f);
  Tensor r = run1(OpKind::Where, {cond, x, y});
  EXPECT_EQ(r.dims(), (Dims{2, 3}));
  expect_floats(r, {1, 2, 3, -1, -1, -1});
  Tensor sx(DType::String, {2});
  sx.strings() = {"a", "b"};
  Tensor sy(DType::String, {});
  sy.strings() = {"z"};
  Tensor rs = run1(OpKind::Where, {Tensor::from_vector<bool>({2}, {false, true}), sx, sy});
  EXPECT_EQ(rs.strings(), (std::vector<std::string>{"z", "b"}));
}

TEST(OpsElementwise, ComparisonsWithNaNAreFalse) {
  Tensor a = f32({kNaN, 1.f, 2.f});
  Tensor b = f32({kNaN, 1.f, kNaN});
  EXPECT_EQ(run1(OpKind::Equal, {a, b}).to_int_vector(), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(run1(OpKind::GreaterOrEqual, {a, b}).to_int_vector(), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(run1(OpKind::Less, {a, b}).to_int_vector(), (std::vector<int64_t>{0, 0, 0}));
  Tensor s1(DType::String, {2}), s2(DType::String, {});
  s1.strings() = {"x", "y"};
  s2.strings() = {"y"};
  EXPECT_EQ(run1(OpKind::Equal, {s1, s2}).to_int_vector(), (std::vector<int64_t>{0, 1}));
}

TEST(OpsElementwise, CastRoundsToHalfNearestEven) {
  // f16 has 10 mantissa bits: 1 + 2^-11 is halfway between 1 (0x3C00) and 1 + 2^-10 (0x3C01): ties
  // go to even 0x3C00. 1 + 3*2^-11 is halfway between 0x3C01 and 0x3C02: even is 0x3C02. 65519 rounds
  // down to the max 65504 (0x7BFF), 65520 up to inf (0x7C00). 2^-25 is half the smallest subnormal:
  // ties to 0. 3*2^-25 is 1.5 subnormal units: rounds to 2 (0x0002).
  Tensor x = f32({1.f + std::ldexp(1.f, -11), 1.f + 3 * std::ldexp(1.f, -11), 65519.f, 65520.f,
                  std::ldexp(1.f, -25), 3 * std::ldexp(1.f, -25), -kInf});
  Tensor y = run1(OpKind::Cast, {x}, {{"to", Attribute::of_int(10)}});
  ASSERT_EQ(y.dtype(), DType::F16);
  std::vector<uint16_t> got(y.data<uint16_t>(), y.data<uint16_t>() + y.numel());
  EXPECT_EQ(got, (std::vector<uint16_t>{0x3C00, 0x3C02, 0x7BFF, 0x7C00, 0x0000, 0x0002, 0xFC00}));
  // From f64, 1 + 2^-11 + 2^-40 is just above the tie, so it rounds up to 0x3C01; going through f32
  // first would lose the 2^-40 and tie down to 0x3C00 (double rounding).
  Tensor d = Tensor::from_vector<double>({1}, {1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)});
  Tensor h = run1(OpKind::Cast, {d}, {{"to", Attribute::of_int(10)}});
  EXPECT_EQ(h.data<uint16_t>()[0], 0x3C01);
  // bf16 keeps 7 mantissa bits: 1 + 2^-8 ties to even 1.0 (0x3F80); 1 + 3*2^-8 ties up to 0x3F82.
  Tensor b = run1(OpKind::Cast, {f32({1.f + std::ldexp(1.f, -8), 1.f + 3 * std::ldexp(1.f, -8)})},
                  {{"to", Attribute::of_int(16)}});
  EXPECT_EQ(b.data<uint16_t>()[0], 0x3F80);
  EXPECT_EQ(b.data<uint16_t>()[1], 0x3F82);
}

TEST(OpsElementwise, CastFloatToIntTruncatesAndSaturates) {
  // Truncation toward zero; documented choices: NaN -> 0, out of range / inf saturate.
  Tensor x = f32({-1.7f, 1.7f, kNaN, 1e10f, -1e10f, kInf});
  const int64_t mx = std::numeric_limits<int32_t>::max(), mn = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(run1(OpKind::Cast, {x}, {{"to", Attribute::of_int(6)}}).to_int_vector(),
            (std::vector<int64_t>{-1, 1, 0, mx, mn, mx}));
  EXPECT_EQ(run1(OpKind::Cast, {f32({-3.f, 300.f, 2.9f})}, {{"to", Attribute::of_int(2)}}).to_int_vector(),
            (std::vector<int64_t>{0, 255, 2}));
  // Integer narrowing wraps: 300 -> 44 in u8, -1 -> 255; anything -> bool is x != 0 (NaN -> true).
  EXPECT_EQ(run1(OpKind::Cast, {Tensor::from_vector<int32_t>({2}, {300, -1})}, {{"to", Attribute::of_int(2)}})
                .to_int_vector(),
            (std::vector<int64_t>{44, 255}));
  EXPECT_EQ(
      run1(OpKind::Cast, {f32({0.f, -0.f, kNaN, 0.5f})}, {{"to", Attribute::of_int(9)}}).to_int_vector(),
      (std::vector<int64_t>{0, 0, 1, 1}));
}

TEST(OpsElementwise, CastStringsBothWays) {
  Tensor s(DType::String, {7});
  s.strings() = {"NaN", "INF", "+INF", "-inf", "1e-5", " 3.5 ", "-2"};
  Tensor f = run1(OpKind::Cast, {s}, {{"to", Attribute::of_int(1)}});
  expect_floats(f, {kNaN, kInf, kInf, -kInf, 1e-5f, 3.5f, -2.f});
  // Integer targets parse integer literals exactly: 2^53 + 1 is not a double.
  Tensor si(DType::String, {1});
  si.strings() = {"9007199254740993"};
  EXPECT_EQ(run1(OpKind::Cast, {si}, {{"to", Attribute::of_int(7)}}).to_int_vector(),
            (std::vector<int64_t>{9007199254740993LL}));
  // Shortest round-trip text, as numpy's str(): 0.1f -> "0.1", 1e-5f -> "1e-05", 100 -> "100.0".
  Tensor back =
      run1(OpKind::Cast, {f32({0.1f, 1e-5f, kNaN, -kInf, 2.5f, -100.f})}, {{"to", Attribute::of_int(8)}});
  EXPECT_EQ(back.strings(), (std::vector<std::string>{"0.1", "1e-05", "NaN", "-INF", "2.5", "-100.0"}));
  // f16 0.1 is 0x2E66 (bits from numpy) = 1638/16384 = 0.0999755859375; numpy prints the shortest text that
  // rounds back to that half: "0.1".
  Tensor h(DType::F16, {1});
  h.data<uint16_t>()[0] = 0x2E66;
  EXPECT_EQ(run1(OpKind::Cast, {h}, {{"to", Attribute::of_int(8)}}).strings(),
            (std::vector<std::string>{"0.1"}));
  Tensor bad(DType::String, {1});
  bad.strings() = {"hello"};
  Graph g;
  Builder b(g, infer_node);
  b.output(
      b.op(OpKind::Cast, {b.input("s", static_type(DType::String, {1}))}, {{"to", Attribute::of_int(1)}}));
  auto r = run_graph(g, {&bad});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("hello"), std::string::npos);
}

TEST(OpsElementwise, UnknownRankInputsInferUnknownRank) {
  Graph g;
  Builder b(g, infer_node);
  TensorType unk{DType::F32, Shape::unknown_rank()};
  Value* x = b.input("x", unk);
  Value* c = b.input("c", TensorType{DType::Bool, Shape::unknown_rank()});
  Value* s = b.input("s", static_type(DType::F32, {3}));
  Value* k = b.input("k", static_type(DType::F32, {}));
  std::vector<Value*> outs = {
      b.op(OpKind::Exp, {x}),       b.op(OpKind::PRelu, {x, s}),
      b.op(OpKind::Clip, {x, k}),   b.op(OpKind::Where, {c, x, s}),
      b.op(OpKind::Max, {s, x, s}), b.op(OpKind::Cast, {x}, {{"to", Attribute::of_int(7)}}),
      b.op(OpKind::Less, {x, s})};
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  for (Value* v : outs) EXPECT_FALSE(v->type.shape.rank_known) << type_str(v->type);
  EXPECT_EQ(outs[5]->type.dtype, DType::I64);
  EXPECT_EQ(outs[6]->type.dtype, DType::Bool);
}

// ---- import hooks for legacy opsets ----

// Imports one ONNX-level node through the op's hook, infers and runs the graph.
Tensor import_and_run(OpKind op, int opset, const std::vector<Tensor>& feeds, AttrMap attrs,
                      std::vector<Tensor> consts = {}) {
  Graph g;
  std::vector<Value*> ins;
  std::vector<const Tensor*> feed;
  for (size_t i = 0; i < feeds.size(); ++i) {
    ins.push_back(g.add_input("x" + std::to_string(i), static_type(feeds[i].dtype(), feeds[i].dims())));
    feed.push_back(&feeds[i]);
  }
  for (size_t i = 0; i < consts.size(); ++i)
    ins.push_back(g.add_constant("c" + std::to_string(i), consts[i]));
  Value* out = g.add_value("y");
  ImportContext ctx(g, opset, "n", ins, {out}, std::move(attrs));
  const OpSchema& s = op_schema(op);
  EXPECT_NE(s.import, nullptr);
  Status st = s.import(ctx);
  EXPECT_TRUE(st.is_ok()) << st.message();
  for (auto& n : g.nodes()) EXPECT_TRUE(validate_node(*n).is_ok()) << validate_node(*n).message();
  g.outputs.push_back(out);
  Status inf = infer_graph(g);
  EXPECT_TRUE(inf.is_ok()) << inf.message();
  auto r = run_graph(g, feed);
  EXPECT_TRUE(r.has_value()) << r.status().message();
  return r.has_value() ? (*r)[0] : Tensor();
}

TEST(OpsElementwise, LegacyClipAttributesBecomeInputs) {
  Tensor x = f32({-5.f, 0.5f, 5.f, kInf});
  // Opset 6 with min=0, max=1.
  expect_floats(import_and_run(OpKind::Clip, 6, {x},
                               {{"min", Attribute::of_float(0)}, {"max", Attribute::of_float(1)}}),
                {0.f, 0.5f, 1.f, 1.f});
  // Opset 6 default max is FLT_MAX (numeric_limits<float>::max()), so +inf clips to it.
  expect_floats(import_and_run(OpKind::Clip, 6, {x}, {{"min", Attribute::of_float(0)}}),
                {0.f, 0.5f, 5.f, std::numeric_limits<float>::max()});
  // Opset 1 has no defaults: no upper bound.
  expect_floats(import_and_run(OpKind::Clip, 1, {x}, {{"min", Attribute::of_float(0)}}),
                {0.f, 0.5f, 5.f, kInf});
}

TEST(OpsElementwise, LegacyCastStringTo) {
  Tensor x = f32({1.9f, -1.9f});
  Tensor y = import_and_run(OpKind::Cast, 1, {x}, {{"to", Attribute::of_string("INT32")}});
  EXPECT_EQ(y.dtype(), DType::I32);
  EXPECT_EQ(y.to_int_vector(), (std::vector<int64_t>{1, -1}));
}

TEST(OpsElementwise, LegacySeluDefaults) {
  // Opset 1 defaults alpha 1.6732, gamma 1.0507: Selu(1) = 1.0507, Selu(-inf) = -alpha*gamma.
  Tensor y = import_and_run(OpKind::Selu, 1, {f32({1.f, -kInf})}, {});
  expect_floats(y, {1.0507f, -1.6732f * 1.0507f});
}

TEST(OpsElementwise, LegacyPReluSlopeIsPerChannel) {
  // Opset 6: x [1,2,1,2], slope [2] applies per channel (axis 1): channel 0 * 0.5, channel 1 * 3.
  Tensor x = Tensor::from_vector<float>({1, 2, 1, 2}, {-2, 4, -2, 4});
  Tensor y = import_and_run(OpKind::PRelu, 6, {x}, {}, {f32({0.5f, 3.f})});
  EXPECT_EQ(y.dims(), (Dims{1, 2, 1, 2}));
  expect_floats(y, {-1, 4, -6, 4});
}

TEST(OpsElementwise, LegacyPReluSlopeFromInputAndClipAfterANode) {
  // PRelu opset 6 with a non-constant slope: an Unsqueeze makes it [2,1,1]; same result as above.
  Tensor x = Tensor::from_vector<float>({1, 2, 1, 2}, {-2, 4, -2, 4});
  expect_floats(import_and_run(OpKind::PRelu, 6, {x, f32({0.5f, 3.f})}, {}), {-1, 4, -6, 4});
  // Clip opset 6 whose input comes from an earlier node: its dtype (f64) is known at import, so
  // the bounds become f64 constants. Abs(-3, 0.25) = 3, 0.25 -> clipped to [0.5, 2]: 2, 0.5.
  Graph g;
  Value* in = g.add_input("x", static_type(DType::F64, {2}));
  Value* a = g.add_value("a");
  // The importer infers each node as it is imported; do the same here.
  ASSERT_TRUE(infer_node(*g.add_node(OpKind::Abs, {in}, {a})).is_ok());
  Value* out = g.add_value("y");
  ImportContext ctx(g, 6, "clip", {a}, {out},
                    {{"min", Attribute::of_float(0.5f)}, {"max", Attribute::of_float(2)}});
  ASSERT_TRUE(op_schema(OpKind::Clip).import(ctx).is_ok());
  g.outputs.push_back(out);
  ASSERT_TRUE(infer_graph(g).is_ok());
  EXPECT_TRUE(g.nodes().back()->inputs[1]->is_constant());
  EXPECT_EQ(g.nodes().back()->inputs[1]->type.dtype, DType::F64);
  Tensor xv = Tensor::from_vector<double>({2}, {-3, 0.25});
  auto r = run_graph(g, {&xv});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  expect_floats((*r)[0], {2.f, 0.5f});
}

TEST(OpsElementwise, LegacyEqualBroadcastAxis) {
  // Opset 1 Equal with broadcast=1, axis=0: b [2] aligns with a's dim 0 of [2,3].
  Tensor a = Tensor::from_vector<int32_t>({2, 3}, {1, 1, 2, 5, 5, 5});
  Tensor b = Tensor::from_vector<int32_t>({2}, {1, 5});
  Tensor y = import_and_run(OpKind::Equal, 1, {a},
                            {{"broadcast", Attribute::of_int(1)}, {"axis", Attribute::of_int(0)}}, {b});
  EXPECT_EQ(y.to_int_vector(), (std::vector<int64_t>{1, 1, 0, 1, 1, 1}));
}

}  // namespace
}  // namespace weec
