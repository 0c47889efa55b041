// The fuse pass: group structure (pattern, body nodes, Fused inputs) and, for
// every case, that the fused graph verifies, re-infers to the same types,
// survives print/parse and clone, and computes bit-identical results in the
// interpreter to the unfused graph on random inputs (the Fused kernel runs
// the body with the same kernels in the same order, so exact equality is the
// right tolerance). Most tests use rules that pretend every op has its C hooks
// (kAllHooks) so the grouping logic is tested whichever ops have hooks yet.
#include <gtest/gtest.h>

#include <random>

#include "interp/interpreter.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ops/op_util.h"
#include "ops/registry.h"
#include "ops/verify_ops.h"
#include "passes/fusion_rules.h"
#include "passes/passes.h"

namespace weec {
namespace {

bool any_op(OpKind) { return true; }
bool c_kernel_kind(OpKind op) {
  FusionKind k = op_schema(op).fusion;
  return k == FusionKind::OutElementwiseFusable || k == FusionKind::Reduce;
}
const FusionRules kAllHooks{any_op, c_kernel_kind};

Tensor random_tensor(const TensorType& t, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  Dims d = t.shape.static_dims();
  std::vector<float> v(numel_of(d));
  for (float& x : v) x = u(rng);
  return Tensor::from_vector<float>(d, v);
}

Tensor const_tensor(const Dims& d, std::mt19937& rng) {
  return random_tensor(static_type(DType::F32, d), rng);
}

// Checks the fused graph `g` against `reference` (its unfused clone).
void expect_equivalent(const Graph& reference, const Graph& g, int seed = 7) {
  Status v = verify_graph_with_ops(g);
  ASSERT_TRUE(v.is_ok()) << v.message() << "\n" << print_graph(g);
  std::string text = print_graph(g);
  // Re-inference keeps every type (the bodies are self-contained).
  auto again = g.clone();
  ASSERT_TRUE(infer_graph(*again).is_ok());
  EXPECT_EQ(print_graph(*again), text);
  // Text round trip.
  auto parsed = parse_graph(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.status().message() << "\n" << text;
  EXPECT_EQ(print_graph(**parsed), text);
  EXPECT_TRUE(verify_graph_with_ops(**parsed).is_ok());

  std::mt19937 rng(seed);
  for (int round = 0; round < 3; ++round) {
    std::vector<Tensor> inputs;
    for (const Value* in : reference.inputs) inputs.push_back(random_tensor(in->type, rng));
    std::vector<const Tensor*> ptrs;
    for (auto& t : inputs) ptrs.push_back(&t);
    auto want = run_graph(reference, ptrs);
    ASSERT_TRUE(want.has_value()) << want.status().message();
    for (const Graph* candidate : {&g, static_cast<const Graph*>(parsed->get())}) {
      auto got = run_graph(*candidate, ptrs);
      ASSERT_TRUE(got.has_value()) << got.status().message();
      ASSERT_EQ(got->size(), want->size());
      for (size_t k = 0; k < want->size(); ++k) {
        ASSERT_EQ((*got)[k].dims(), (*want)[k].dims());
        for (int64_t i = 0; i < (*want)[k].numel(); ++i)
          ASSERT_EQ((*got)[k].get_double(i), (*want)[k].get_double(i)) << "output " << k << " element " << i;
      }
    }
  }
}

struct Fixture {
  Graph g;
  Builder b{g, infer_node};
  std::mt19937 rng{1};
  Value* in(const std::string& name, Dims d) { return b.input(name, static_type(DType::F32, d)); }
  Value* cst(const std::string& name, Dims d) { return b.constant(name, const_tensor(d, rng)); }

  // Fuses with `rules`; `reference` keeps the unfused graph.
  FuseStats fuse(const FusionRules& rules = kAllHooks) {
    EXPECT_TRUE(b.status().is_ok()) << b.status().message();
    reference = g.clone();
    auto r = fuse_graph(g, rules);
    EXPECT_TRUE(r.has_value()) << r.status().message();
    return r.has_value() ? *r : FuseStats{};
  }
  std::vector<const Node*> fused_nodes() const {
    std::vector<const Node*> out;
    for (auto& n : g.nodes())
      if (n->op == OpKind::Fused) out.push_back(n.get());
    return out;
  }
  std::unique_ptr<Graph> reference;
};

std::vector<OpKind> body_ops(const Node& fused) {
  std::vector<OpKind> ops;
  for (auto& n : fused.attr("body")->g->nodes()) ops.push_back(n->op);
  return ops;
}
std::string pattern(const Node& fused) { return fused.attr("pattern")->s; }

TEST(Fuse, ConvBiasReluIsOneAnchorGroup) {
  Fixture f;
  Value* x = f.in("x", {1, 2, 5, 5});
  Value* w = f.cst("w", {3, 2, 3, 3});
  Value* bias = f.cst("bias", {3, 1, 1});
  Value* c = f.b.op(OpKind::Conv, {x, w}, {{"pads", Attribute::of_ints({1, 1, 1, 1})}}, "conv1");
  Value* a = f.b.op(OpKind::Add, {c, bias});
  Value* r = f.b.op(OpKind::Relu, {a});
  f.b.output(r);
  FuseStats s = f.fuse();
  EXPECT_EQ(s.anchor, 1);
  EXPECT_EQ(s.groups(), 1);
  EXPECT_EQ(s.remark(), "fuse: 1 groups (1 anchor, 0 elementwise, 0 reduce)");
  ASSERT_EQ(f.g.nodes().size(), 1u);
  const Node& fused = *f.g.nodes()[0];
  ASSERT_EQ(fused.op, OpKind::Fused);
  EXPECT_EQ(pattern(fused), "anchor");
  EXPECT_EQ(fused.name, "fused_conv1");
  EXPECT_EQ(body_ops(fused), (std::vector<OpKind>{OpKind::Conv, OpKind::Add, OpKind::Relu}));
  // Weights stay top-level constants, passed in as Fused inputs.
  EXPECT_EQ(fused.inputs, (std::vector<Value*>{x, w, bias}));
  const Graph& body = *fused.attr("body")->g;
  EXPECT_EQ(body.parent, &f.g);
  EXPECT_TRUE(body.constants().empty());
  ASSERT_EQ(body.outputs.size(), 1u);
  EXPECT_EQ(body.outputs[0]->type, r->type);
  // The sink's Value survives with its name, now produced by the Fused node.
  EXPECT_EQ(fused.outputs[0], r);
  EXPECT_EQ(r->producer, &fused);
  EXPECT_EQ(f.g.outputs[0], r);
  expect_equivalent(*f.reference, f.g);
}

TEST(Fuse, ConvWithResidualAddAndRelu) {
  Fixture f;
  Value* x = f.in("x", {1, 3, 4, 4});
  Value* c = f.b.op(OpKind::Conv, {x, f.cst("w", {3, 3, 3, 3}), f.cst("b", {3})},
                    {{"pads", Attribute::of_ints({1, 1, 1, 1})}});
  Value* sum = f.b.op(OpKind::Add, {c, x});  // residual: the block input
  f.b.output(f.b.op(OpKind::Relu, {sum}));
  EXPECT_EQ(f.fuse().anchor, 1);
  ASSERT_EQ(f.g.nodes().size(), 1u);
  const Node& fused = *f.g.nodes()[0];
  EXPECT_EQ(body_ops(fused), (std::vector<OpKind>{OpKind::Conv, OpKind::Add, OpKind::Relu}));
  // x feeds both the conv and the residual add: one formal input.
  EXPECT_EQ(fused.inputs.size(), 3u);
  EXPECT_EQ(fused.attr("body")->g->inputs.size(), 3u);
  expect_equivalent(*f.reference, f.g);
}

TEST(Fuse, MatMulSiluEpilogueReadsTheAnchorTwice) {
  Fixture f;
  Value* x = f.in("x", {3, 4});
  Value* mm = f.b.op(OpKind::MatMul, {x, f.cst("w", {4, 5})});
  Value* sig = f.b.op(OpKind::Sigmoid, {mm});
  f.b.output(f.b.op(OpKind::Mul, {mm, sig}));
  EXPECT_EQ(f.fuse().anchor, 1);
  ASSERT_EQ(f.g.nodes().size(), 1u);
  EXPECT_EQ(body_ops(*f.g.nodes()[0]), (std::vector<OpKind>{OpKind::MatMul, OpKind::Sigmoid, OpKind::Mul}));
  expect_equivalent(*f.reference, f.g);
}

TEST(Fuse, ElementwiseChainWithBroadcastInputs) {
  Fixture f;
  Value* a = f.in("a", {2, 3});
  Value* m = f.b.op(OpKind::Mul, {a, f.in("b", {2, 3})});
  Value* s = f.b.op(OpKind::Add, {m, f.cst("c", {3})});
  Value* r = f.b.op(OpKind::Relu, {s});
  f.b.output(f.b.op(OpKind::Sigmoid, {r}));
  FuseStats st = f.fuse();
  EXPECT_EQ(st.elementwise, 1);
  EXPECT_EQ(st.groups(), 1);
  ASSERT_EQ(f.g.nodes().size(), 1u);
  const Node& fused = *f.g.nodes()[0];
  EXPECT_EQ(pattern(fused), "elementwise");
  EXPECT_EQ(body_ops(fused), (std::vector<OpKind>{OpKind::Mul, OpKind::Add, OpKind::Relu, OpKind::Sigmoid}));
  EXPECT_EQ(fused.inputs.size(), 3u);
  expect_equivalent(*f.reference, f.g);
}

TEST(Fuse, ReduceWithElementwisePrologue) {
  Fixture f;
  Value* x = f.in("x", {2, 3, 4});
  Value* sq = f.b.op(OpKind::Mul, {x, x});
  Value* shifted = f.b.op(OpKind::Sub, {sq, f.cst("k", {})});
  Value* axes = f.b.constant("axes", Tensor::from_vector<int64_t>({1}, {1}));
  // Fusion moves the constant into the body and deletes the outer value: keep its data.
  auto axes_data = axes->constant;
  f.b.output(f.b.op(OpKind::ReduceSum, {shifted, axes}));
  EXPECT_EQ(f.fuse().reduce, 1);
  ASSERT_EQ(f.g.nodes().size(), 1u);
  const Node& fused = *f.g.nodes()[0];
  EXPECT_EQ(pattern(fused), "reduce");
  EXPECT_EQ(body_ops(fused), (std::vector<OpKind>{OpKind::Mul, OpKind::Sub, OpKind::ReduceSum}));
  // Data and the scalar are Fused inputs; the axes are a body constant (needed at compile time).
  ASSERT_EQ(fused.inputs.size(), 2u);
  EXPECT_EQ(fused.inputs[0], x);
  const Graph& body = *fused.attr("body")->g;
  ASSERT_EQ(body.constants().size(), 1u);
  EXPECT_EQ(body.constants()[0]->constant, axes_data);
  EXPECT_EQ(f.g.outputs[0]->type, static_type(DType::F32, {2, 1, 4}));
  expect_equivalent(*f.reference, f.g);
}

TEST(Fuse, ReducePrologueRejectsBroadcastInputs) {
  Fixture f;
  Value* x = f.in("x", {2, 3, 4});
  Value* scaled = f.b.op(OpKind::Mul, {x, f.in("y", {4})});  // [4]: neither x's shape nor one element
  f.b.output(f.b.op(OpKind::ReduceMax, {scaled}));
  EXPECT_EQ(f.fuse().groups(), 0);
  EXPECT_EQ(f.g.nodes().size(), 2u);
  EXPECT_TRUE(f.fused_nodes().empty());
}

TEST(Fuse, ValueUsedOutsideTheGroupStopsFusion) {
  Fixture f;
  Value* x = f.in("x", {1, 2, 4, 4});
  Value* c = f.b.op(OpKind::Conv, {x, f.cst("w", {2, 2, 1, 1})});
  Value* r = f.b.op(OpKind::Relu, {c});
  f.b.output(r);
  f.b.output(c);  // the conv output escapes: nothing can be fused with it
  EXPECT_EQ(f.fuse().groups(), 0);
  EXPECT_EQ(f.g.nodes().size(), 2u);

  // An intermediate graph output inside an elementwise chain splits it.
  Fixture h;
  Value* a = h.in("a", {4});
  Value* e = h.b.op(OpKind::Exp, {a});
  Value* n = h.b.op(OpKind::Neg, {e});
  Value* t = h.b.op(OpKind::Tanh, {n});
  h.b.output(e);
  h.b.output(h.b.op(OpKind::Abs, {t}));
  EXPECT_EQ(h.fuse().elementwise, 1);
  ASSERT_EQ(h.fused_nodes().size(), 1u);
  EXPECT_EQ(body_ops(*h.fused_nodes()[0]), (std::vector<OpKind>{OpKind::Neg, OpKind::Tanh, OpKind::Abs}));
  EXPECT_EQ(h.g.nodes()[0]->op, OpKind::Exp);
  expect_equivalent(*h.reference, h.g);
}

TEST(Fuse, OpaqueOpSplitsChains) {
  Fixture f;
  Value* a = f.in("a", {2, 5});
  Value* s = f.b.op(OpKind::Add, {a, f.in("b", {2, 5})});
  Value* r = f.b.op(OpKind::Relu, {s});
  Value* sm = f.b.op(OpKind::Softmax, {r});  // opaque
  Value* e = f.b.op(OpKind::Exp, {sm});
  f.b.output(f.b.op(OpKind::Neg, {e}));
  FuseStats st = f.fuse();
  EXPECT_EQ(st.elementwise, 2);
  ASSERT_EQ(f.g.nodes().size(), 3u);
  EXPECT_EQ(f.g.nodes()[1]->op, OpKind::Softmax);
  EXPECT_EQ(body_ops(*f.g.nodes()[0]), (std::vector<OpKind>{OpKind::Add, OpKind::Relu}));
  EXPECT_EQ(body_ops(*f.g.nodes()[2]), (std::vector<OpKind>{OpKind::Exp, OpKind::Neg}));
  expect_equivalent(*f.reference, f.g);
}

TEST(Fuse, SingleNodesAndShapeChangesStayUnfused) {
  Fixture f;
  Value* a = f.in("a", {1, 4});
  Value* r = f.b.op(OpKind::Relu, {a});
  Value* s = f.b.op(OpKind::Add, {r, f.in("b", {3, 4})});  // broadcasts [1,4] up to [3,4]
  f.b.output(s);
  EXPECT_EQ(f.fuse().groups(), 0);
  EXPECT_EQ(f.g.nodes().size(), 2u);
}

TEST(Fuse, F16AndMissingHooksAreNotFused) {
  Fixture f;
  Value* a = f.b.input("a", static_type(DType::F16, {4}));
  f.b.output(f.b.op(OpKind::Neg, {f.b.op(OpKind::Abs, {a})}));
  EXPECT_EQ(f.fuse().groups(), 0);

  // Without any C hooks there is nothing to fuse.
  Fixture h;
  Value* x = h.in("x", {4});
  h.b.output(h.b.op(OpKind::Neg, {h.b.op(OpKind::Abs, {x})}));
  FusionRules none{[](OpKind) { return false; }, [](OpKind) { return false; }};
  EXPECT_EQ(h.fuse(none).groups(), 0);
  EXPECT_FALSE(is_scalar_op(*h.g.nodes()[0], none));
  EXPECT_TRUE(is_scalar_op(*h.g.nodes()[0], kAllHooks));
}

TEST(Fuse, AnchorsClaimEpiloguesBeforeElementwiseChains) {
  // relu(x) + gemm(...) : the Add could join the Relu's chain or the Gemm's
  // epilogue; the anchor sweep runs first and takes it.
  Fixture f;
  Value* x = f.in("x", {2, 3});
  Value* r = f.b.op(OpKind::Relu, {x});
  Value* g = f.b.op(OpKind::Gemm, {f.in("a", {2, 4}), f.cst("w", {4, 3})});
  f.b.output(f.b.op(OpKind::Add, {r, g}));
  FuseStats st = f.fuse();
  EXPECT_EQ(st.anchor, 1);
  EXPECT_EQ(st.elementwise, 0);
  ASSERT_EQ(f.g.nodes().size(), 2u);
  EXPECT_EQ(f.g.nodes()[0]->op, OpKind::Relu);
  EXPECT_EQ(body_ops(*f.g.nodes()[1]), (std::vector<OpKind>{OpKind::Gemm, OpKind::Add}));
  expect_equivalent(*f.reference, f.g);
}

TEST(Fuse, RealHooksFuseGemmAndRelu) {
  // With the schemas' own hooks: Gemm has emit_c, Relu emit_scalar.
  ASSERT_NE(op_schema(OpKind::Gemm).emit_c, nullptr);
  ASSERT_NE(op_schema(OpKind::Relu).emit_scalar, nullptr);
  Fixture f;
  Value* y = f.b.op(OpKind::Gemm, {f.in("a", {2, 4}), f.cst("w", {4, 3}), f.cst("c", {3})});
  f.b.output(f.b.op(OpKind::Relu, {y}));
  EXPECT_EQ(f.fuse(FusionRules{}).anchor, 1);
  ASSERT_EQ(f.g.nodes().size(), 1u);
  expect_equivalent(*f.reference, f.g);
}

TEST(Fuse, PassRecordsARemark) {
  Fixture f;
  Value* a = f.in("a", {3});
  f.b.output(f.b.op(OpKind::Relu, {f.b.op(OpKind::Relu, {a})}));
  PassContext ctx;
  auto pass = make_fuse_pass();
  EXPECT_EQ(pass->name(), "fuse");
  ASSERT_TRUE(pass->run(f.g, ctx).is_ok());
  ASSERT_EQ(ctx.remarks.size(), 1u);
  // Relu has emit_scalar, so the real rules fuse the two Relus.
  EXPECT_EQ(ctx.remarks[0], "fuse: 1 groups (0 anchor, 1 elementwise, 0 reduce)");
}

// Random DAGs of scalar ops and matmuls (chains, diamonds, skip connections):
// whatever gets fused, the graph stays valid and computes the same.
TEST(Fuse, RandomDagsStayEquivalent) {
  const OpKind unary[] = {OpKind::Relu, OpKind::Neg, OpKind::Tanh, OpKind::Abs, OpKind::Sigmoid};
  const OpKind binary[] = {OpKind::Add, OpKind::Mul, OpKind::Sub, OpKind::Max};
  int total_groups = 0;
  for (int seed = 0; seed < 40; ++seed) {
    Fixture f;
    f.rng.seed(seed);
    std::mt19937& rng = f.rng;
    const int64_t n = 4;
    std::vector<Value*> pool = {f.in("x", {2, n}), f.in("y", {2, n})};
    int steps = 4 + seed % 10;
    for (int s = 0; s < steps; ++s) {
      auto pick = [&] {
        // Mostly recent values (chains), sometimes old ones (skips, diamonds).
        size_t k = pool.size();
        return rng() % 3 ? pool[k - 1 - rng() % std::min<size_t>(k, 2)] : pool[rng() % k];
      };
      switch (rng() % 4) {
        case 0:
          pool.push_back(f.b.op(unary[rng() % 5], {pick()}));
          break;
        case 1:
          pool.push_back(f.b.op(binary[rng() % 4], {pick(), pick()}));
          break;
        case 2:
          pool.push_back(f.b.op(OpKind::MatMul, {pick(), f.cst("w" + std::to_string(s), {n, n})}));
          break;
        default:
          pool.push_back(f.b.op(OpKind::Add, {pick(), f.cst("bias" + std::to_string(s), {n})}));
      }
    }
    f.b.output(pool.back());
    if (seed % 3 == 0) f.b.output(pool[pool.size() / 2]);
    total_groups += f.fuse().groups();
    SCOPED_TRACE(print_graph(*f.reference));
    expect_equivalent(*f.reference, f.g, seed);
    for (const Node* fused : f.fused_nodes()) EXPECT_GE(body_ops(*fused).size(), 2u);
  }
  EXPECT_GT(total_groups, 20);  // the generator does produce fusable groups
}

}  // namespace
}  // namespace weec
