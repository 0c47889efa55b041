// plan_memory: storage classes, views, in-place, scratch, and a property test
// over random DAGs checked by an independent liveness computation here:
// buffers live at the same step never overlap (except an in-place pair at
// the one step where the input dies and the output is born), offsets are
// aligned and inside the arena, and chains pack to their lower bound.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "interp/interpreter.h"
#include "ir/parser.h"
#include "ops/op_util.h"
#include "ops/registry.h"
#include "passes/fusion_rules.h"
#include "passes/memory_plan.h"
#include "passes/passes.h"

namespace weec {
namespace {

using Kind = Storage::Kind;

int64_t bytes_of(const Value* v) {
  return numel_of(v->type.shape.static_dims()) * (int64_t)dtype_size(v->type.dtype);
}

// Checks `p` against the graph; returns the number of in-place pairs seen.
int check_plan(const Graph& g, const MemoryPlan& p, const PlanOptions& opt) {
  std::map<const Node*, int64_t> step;
  for (size_t i = 0; i < g.nodes().size(); ++i) step[g.nodes()[i].get()] = (int64_t)i;
  std::vector<const Value*> values;
  for (auto& v : g.values())
    if (v->is_constant() || v->producer || std::count(g.inputs.begin(), g.inputs.end(), v.get()))
      values.push_back(v.get());
  for (const Value* v : values) {
    EXPECT_TRUE(p.storage.count(v)) << "no storage for " << v->name;
    if (!p.storage.count(v)) return 0;
  }
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Storage& s = p.storage.at(g.inputs[i]);
    EXPECT_EQ(s.kind, Kind::Input);
    EXPECT_EQ(s.index, (int)i);
  }
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const Value* v = g.outputs[k];
    const Storage& s = p.storage.at(v);
    if (v->is_constant() || !v->producer) continue;
    EXPECT_EQ(s.kind, Kind::Output) << v->name;
    size_t first = std::find(g.outputs.begin(), g.outputs.end(), v) - g.outputs.begin();
    EXPECT_EQ(s.index, (int)first) << v->name;
  }
  for (const Node* n : p.views) {
    EXPECT_TRUE(op_schema(n->op).view);
    const Storage& in = p.storage.at(n->inputs[0]);
    const Storage& out = p.storage.at(n->outputs[0]);
    EXPECT_EQ(out.root, in.root);
    EXPECT_EQ(out.kind, in.kind);
    EXPECT_EQ(out.offset, in.offset);
    EXPECT_EQ(out.index, in.index);
  }
  // Arena roots and their live intervals, from the reads of every node.
  std::map<const Value*, std::pair<int64_t, int64_t>> life;
  for (const Value* v : values) {
    const Storage& s = p.storage.at(v);
    EXPECT_NE(s.root, nullptr);
    if (s.kind != Kind::Arena) continue;
    EXPECT_EQ(p.storage.at(s.root).kind, Kind::Arena);
    EXPECT_EQ(p.storage.at(s.root).offset, s.offset);
    EXPECT_EQ(s.offset % opt.alignment, 0) << v->name;
    EXPECT_LE(s.offset + bytes_of(v), p.arena_bytes) << v->name;
    if (s.root == v) life[v] = {step.at(v->producer), step.at(v->producer)};
  }
  for (auto& n : g.nodes())
    for (const Value* v : values_read_by(*n)) {
      if (!p.storage.count(v)) continue;
      auto l = life.find(p.storage.at(v).root);
      if (l != life.end()) l->second.second = std::max(l->second.second, step.at(n.get()));
    }
  auto reads_root = [&](const Node* n, const Value* root) {
    for (const Value* v : values_read_by(*n))
      if (p.storage.count(v) && p.storage.at(v).root == root) return true;
    return false;
  };
  int inplace = 0;
  for (auto& [a, la] : life)
    for (auto& [b, lb] : life) {
      if (a >= b || !bytes_of(a) || !bytes_of(b)) continue;
      int64_t oa = p.storage.at(a).offset, ob = p.storage.at(b).offset;
      bool space = oa < ob + bytes_of(b) && ob < oa + bytes_of(a);
      bool time = la.first <= lb.second && lb.first <= la.second;
      if (!space || !time) continue;
      // The only allowed sharing: b born where a dies, written by the node reading a (or vice versa).
      bool ab = la.second == lb.first && b->producer && reads_root(b->producer, a);
      bool ba = lb.second == la.first && a->producer && reads_root(a->producer, b);
      EXPECT_TRUE(ab || ba) << a->name << " [" << la.first << "," << la.second << "] @" << oa << " and "
                            << b->name << " [" << lb.first << "," << lb.second << "] @" << ob << " overlap";
      ++inplace;
    }
  for (auto& [n, off] : p.scratch_offset) {
    int64_t s = step.at(n), size = opt.scratch_bytes.at(n);
    EXPECT_EQ(off % opt.alignment, 0);
    EXPECT_LE(off + size, p.arena_bytes);
    for (auto& [r, l] : life)
      if (l.first <= s && s <= l.second) {
        int64_t o = p.storage.at(r).offset;
        EXPECT_FALSE(o < off + size && off < o + bytes_of(r))
            << "scratch of " << n->describe() << " and " << r->name;
      }
  }
  EXPECT_EQ(p.scratch_offset.size(), opt.scratch_bytes.size());
  EXPECT_GE(p.arena_bytes, p.lower_bound);
  return inplace;
}

MemoryPlan plan_ok(const Graph& g, const PlanOptions& opt = {}) {
  auto r = plan_memory(g, opt);
  EXPECT_TRUE(r.has_value()) << r.status().message();
  return r.has_value() ? *r : MemoryPlan{};
}

struct Net {
  Graph g;
  Builder b{g, infer_node};
  std::mt19937 rng{3};
  Value* in(const std::string& name, Dims d) { return b.input(name, static_type(DType::F32, d)); }
  Value* weight(int64_t k, int64_t n) {
    std::vector<float> v(k * n, 0.5f);
    return b.constant(g.unique_name("w"), Tensor::from_vector<float>({k, n}, v));
  }
  Value* matmul(Value* x, int64_t n) {
    return b.op(OpKind::MatMul, {x, weight(x->type.shape.dims[1].value, n)});
  }
  Value* reshape(Value* x, std::vector<int64_t> shape) {
    Value* s =
        b.constant(g.unique_name("shape"), Tensor::from_vector<int64_t>({(int64_t)shape.size()}, shape));
    return b.op(OpKind::Reshape, {x, s});
  }
};

TEST(Memory, ChainPacksToItsLowerBound) {
  // x[1,4] -> [1,8] -> [1,2] -> [1,16] -> [1,4] (output). f32, alignment 16:
  // arena values 32, 8->16, 64 bytes; live pairs (32+16), (16+64) at steps 1, 2;
  // step 3 reads the 64-byte one and writes the output (caller memory): 80.
  Net n;
  Value* x = n.in("x", {1, 4});
  Value* a = n.matmul(x, 8);
  Value* b = n.matmul(a, 2);
  Value* c = n.matmul(b, 16);
  n.b.output(n.matmul(c, 4));
  MemoryPlan p = plan_ok(n.g);
  EXPECT_EQ(p.lower_bound, 80);
  EXPECT_EQ(p.arena_bytes, 80);
  EXPECT_EQ(check_plan(n.g, p, {}), 0);
  EXPECT_EQ(p.storage.at(a).kind, Kind::Arena);
  EXPECT_EQ(p.summary(), "arena 80 B (lower bound 80 B), 0 in-place, 0 views");
}

TEST(Memory, RandomChainsPackToTheirLowerBound) {
  for (int seed = 0; seed < 30; ++seed) {
    Net n;
    n.rng.seed(seed);
    Value* v = n.in("x", {1, 4});
    int len = 3 + seed % 12;
    for (int i = 0; i < len; ++i) v = n.matmul(v, 4 * (1 + (int64_t)(n.rng() % 8)));
    n.b.output(v);
    PlanOptions opt;
    opt.alignment = seed % 2 ? 16 : 4;
    MemoryPlan p = plan_ok(n.g, opt);
    check_plan(n.g, p, opt);
    EXPECT_EQ(p.arena_bytes, p.lower_bound) << "seed " << seed;
  }
}

// Random DAGs (chains, diamonds, skip connections) of elementwise ops,
// MatMuls and reshapes, planned with and without in-place, several
// alignments and scratch requests; also after fusion (Fused in-place rules).
TEST(Memory, RandomDagsNeverOverlapLiveBuffers) {
  const OpKind unary[] = {OpKind::Relu, OpKind::Neg, OpKind::Sigmoid, OpKind::Exp};
  const OpKind binary[] = {OpKind::Add, OpKind::Mul, OpKind::Sub};
  int inplace_total = 0, views_total = 0;
  for (int seed = 0; seed < 60; ++seed) {
    Net n;
    n.rng.seed(seed);
    std::mt19937& rng = n.rng;
    std::vector<Value*> pool = {n.in("x", {2, 4}), n.in("y", {2, 8})};
    auto width = [](Value* v) { return v->type.shape.dims[1].value; };
    int steps = 5 + seed % 15;
    for (int s = 0; s < steps; ++s) {
      size_t k = pool.size();
      Value* a = rng() % 3 ? pool[k - 1 - rng() % std::min<size_t>(k, 2)] : pool[rng() % k];
      switch (rng() % 5) {
        case 0:
          pool.push_back(n.b.op(unary[rng() % 4], {a}));
          break;
        case 1: {
          std::vector<Value*> same;
          for (Value* v : pool)
            if (width(v) == width(a)) same.push_back(v);
          pool.push_back(n.b.op(binary[rng() % 3], {a, same[rng() % same.size()]}));
          break;
        }
        case 2:
          pool.push_back(n.matmul(a, 4 * (1 + rng() % 4)));
          break;
        case 3:  // a view and back: [2,w] -> [w,2] -> [2,w]
          pool.push_back(n.reshape(n.reshape(a, {width(a), 2}), {2, width(a)}));
          break;
        default:
          pool.push_back(n.b.op(OpKind::Relu, {n.b.op(OpKind::Relu, {a})}));
      }
    }
    n.b.output(pool.back());
    if (seed % 4 == 0) n.b.output(pool[pool.size() / 2]);
    if (seed % 5 == 0) n.b.output(pool.back());  // the same value twice
    ASSERT_TRUE(n.b.status().is_ok()) << n.b.status().message();
    if (seed % 2) {
      FusionRules all{[](OpKind) { return true; },
                      [](OpKind op) { return op_schema(op).fusion == FusionKind::OutElementwiseFusable; }};
      ASSERT_TRUE(fuse_graph(n.g, all).has_value());
    }
    PlanOptions opt;
    opt.alignment = std::vector<int64_t>{1, 4, 16, 64}[seed % 4];
    opt.inplace = seed % 3 != 0;
    opt.hill_climb_iterations = seed % 7 == 0 ? 0 : 500;
    opt.seed = seed;
    for (auto& node : n.g.nodes())
      if (rng() % 4 == 0) opt.scratch_bytes[node.get()] = 1 + rng() % 100;
    SCOPED_TRACE("seed " + std::to_string(seed));
    MemoryPlan p = plan_ok(n.g, opt);
    int pairs = check_plan(n.g, p, opt);
    EXPECT_EQ(pairs, p.inplace_count);
    if (!opt.inplace) {
      EXPECT_EQ(p.inplace_count, 0);
    }
    inplace_total += p.inplace_count;
    views_total += (int)p.views.size();
  }
  EXPECT_GT(inplace_total, 10);
  EXPECT_GT(views_total, 10);
}

TEST(Memory, ReshapeIsAViewOfItsInput) {
  Net n;
  Value* x = n.in("x", {2, 6});
  Value* r = n.b.op(OpKind::Relu, {x});
  Value* v = n.reshape(r, {3, 4});
  Value* w = n.reshape(v, {12});  // chains of views collapse to one root
  Value* big = n.matmul(x, 16);   // r must stay live while w is read below
  n.b.output(big);
  n.b.output(n.b.op(OpKind::Neg, {w}));
  MemoryPlan p = plan_ok(n.g);
  check_plan(n.g, p, {});
  ASSERT_EQ(p.views.size(), 2u);
  EXPECT_EQ(p.storage.at(v).root, r);
  EXPECT_EQ(p.storage.at(w).root, r);
  EXPECT_EQ(p.storage.at(w).kind, Kind::Arena);
  EXPECT_EQ(p.storage.at(w).offset, p.storage.at(r).offset);
  EXPECT_EQ(p.storage.at(r).root, r);
}

TEST(Memory, GraphOutputThroughReshapeIsWrittenByTheProducer) {
  Net n;
  Value* x = n.in("x", {2, 6});
  Value* m = n.matmul(x, 4);
  Value* y = n.reshape(m, {8});
  n.b.output(y);
  MemoryPlan p = plan_ok(n.g);
  check_plan(n.g, p, {});
  ASSERT_EQ(p.views.size(), 1u);
  EXPECT_EQ(p.storage.at(m).kind, Kind::Output);
  EXPECT_EQ(p.storage.at(m).index, 0);
  EXPECT_EQ(p.storage.at(y).kind, Kind::Output);
  EXPECT_EQ(p.storage.at(y).root, m);
  EXPECT_EQ(p.arena_bytes, 0);

  // A reshaped graph input or constant output is a copy, not a view.
  Net h;
  Value* hx = h.in("x", {2, 6});
  Value* hy = h.reshape(hx, {12});
  Value* c = h.b.constant("c", Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}));
  Value* hc = h.reshape(c, {4});
  h.b.output(hy);
  h.b.output(hc);
  MemoryPlan q = plan_ok(h.g);
  check_plan(h.g, q, {});
  EXPECT_TRUE(q.views.empty());
  EXPECT_EQ(q.storage.at(hy).kind, Kind::Output);
  EXPECT_EQ(q.storage.at(hy).root, hy);
  EXPECT_EQ(q.storage.at(hc).index, 1);
}

TEST(Memory, ViewsOfConstantsAndInputsKeepTheirStorage) {
  Net n;
  Value* x = n.in("x", {4});
  Value* c = n.b.constant("c", Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}));
  Value* cv = n.reshape(c, {4});
  Value* xv = n.reshape(x, {2, 2});
  n.b.output(n.b.op(OpKind::Add, {x, cv}));
  n.b.output(n.b.op(OpKind::Neg, {xv}));
  MemoryPlan p = plan_ok(n.g);
  check_plan(n.g, p, {});
  EXPECT_EQ(p.views.size(), 2u);
  EXPECT_EQ(p.storage.at(cv).kind, Kind::Constant);
  EXPECT_EQ(p.storage.at(cv).root, c);
  EXPECT_EQ(p.storage.at(xv).kind, Kind::Input);
  EXPECT_EQ(p.storage.at(xv).root, x);
  EXPECT_EQ(p.arena_bytes, 0);
}

TEST(Memory, ElementwiseOutputReusesADyingInput) {
  // Relu has emit_scalar (a plain per-element loop): its output can overwrite m.
  ASSERT_NE(op_schema(OpKind::Relu).emit_scalar, nullptr);
  auto build = [](Net& n, bool keep_m) {
    Value* x = n.in("x", {1, 8});
    Value* m = n.matmul(x, 8);
    Value* r = n.b.op(OpKind::Relu, {m});
    Value* out = n.matmul(r, 4);
    if (keep_m) out = n.b.op(OpKind::Add, {out, n.matmul(m, 4)});  // m stays live after the Relu
    n.b.output(out);
    return std::pair{m, r};
  };
  Net n;
  auto [m, r] = build(n, false);
  MemoryPlan p = plan_ok(n.g);
  EXPECT_EQ(p.inplace_count, 1);
  EXPECT_EQ(check_plan(n.g, p, {}), 1);
  EXPECT_EQ(p.storage.at(r).offset, p.storage.at(m).offset);
  EXPECT_EQ(p.arena_bytes, 32);  // one [1,8] f32 buffer

  PlanOptions off;
  off.inplace = false;
  MemoryPlan q = plan_ok(n.g, off);
  EXPECT_EQ(q.inplace_count, 0);
  EXPECT_EQ(check_plan(n.g, q, off), 0);
  EXPECT_EQ(q.arena_bytes, 64);

  Net h;
  build(h, true);
  MemoryPlan k = plan_ok(h.g);
  check_plan(h.g, k, {});
  EXPECT_EQ(k.inplace_count, 0);
}

TEST(Memory, FusedElementwiseGroupRunsInPlace) {
  Net n;
  Value* x = n.in("x", {1, 8});
  Value* m = n.matmul(x, 8);
  Value* r = n.b.op(OpKind::Relu, {n.b.op(OpKind::Relu, {m})});
  n.b.output(n.matmul(r, 4));
  // Relu's real emit_scalar; no anchors, so the MatMuls stay apart.
  auto stats = fuse_graph(n.g, FusionRules{nullptr, [](OpKind) { return false; }});
  ASSERT_TRUE(stats.has_value());
  ASSERT_EQ(stats->elementwise, 1);
  MemoryPlan p = plan_ok(n.g);
  EXPECT_EQ(p.inplace_count, 1);
  EXPECT_EQ(check_plan(n.g, p, {}), 1);
  EXPECT_EQ(p.storage.at(r).offset, p.storage.at(m).offset);
}

TEST(Memory, FusedAnchorOverwritesOnlyAnEpilogueInput) {
  ASSERT_NE(op_schema(OpKind::MatMul).emit_c, nullptr);
  ASSERT_NE(op_schema(OpKind::Add).emit_scalar, nullptr);
  // s = MatMul(x, w1) + g: g (arena, dying here) is read by the epilogue only,
  // one element per output element: the group may write over it.
  Net n;
  Value* x = n.in("x", {2, 4});
  Value* g = n.b.op(OpKind::Softmax, {n.matmul(x, 4)});  // opaque: g stays a plain buffer
  Value* s = n.b.op(OpKind::Add, {n.matmul(x, 4), g});
  n.b.output(n.matmul(s, 4));
  auto stats = fuse_graph(n.g);
  ASSERT_TRUE(stats.has_value());
  ASSERT_EQ(stats->anchor, 1);  // MatMul+Add
  MemoryPlan p = plan_ok(n.g);
  EXPECT_EQ(check_plan(n.g, p, {}), 1);
  EXPECT_EQ(p.inplace_count, 1);
  EXPECT_EQ(p.storage.at(s).offset, p.storage.at(g).offset);

  // s = MatMul(m, w) + m: m also feeds the anchor, which reads all of it
  // while writing s, so s needs its own buffer.
  Net h;
  Value* m = h.b.op(OpKind::Relu, {h.matmul(h.in("x", {2, 4}), 4)});
  Value* t = h.b.op(OpKind::Add, {h.matmul(m, 4), m});
  h.b.output(h.matmul(t, 4));
  ASSERT_TRUE(fuse_graph(h.g).has_value());
  ASSERT_EQ(h.g.nodes().size(), 3u);
  MemoryPlan q = plan_ok(h.g);
  EXPECT_EQ(check_plan(h.g, q, {}), 0);
  EXPECT_EQ(q.inplace_count, 0);
  EXPECT_NE(q.storage.at(t).offset, q.storage.at(m).offset);
}

TEST(Memory, ScratchIsLiveOnlyDuringItsNode) {
  Net n;
  Value* x = n.in("x", {1, 4});
  Value* a = n.matmul(x, 8);   // step 0: 32 B
  Value* b = n.matmul(a, 8);   // step 1: 32 + 32 B
  n.b.output(n.matmul(b, 4));  // step 2: 32 B + 100 B scratch
  PlanOptions opt;
  opt.inplace = false;
  opt.scratch_bytes[n.g.nodes()[2].get()] = 100;  // aligned to 112
  opt.scratch_bytes[n.g.nodes()[0].get()] = 16;
  MemoryPlan p = plan_ok(n.g, opt);
  check_plan(n.g, p, opt);
  EXPECT_EQ(p.lower_bound, 144);  // step 2: b (32) + scratch (112)
  EXPECT_EQ(p.arena_bytes, 144);
  ASSERT_EQ(p.scratch_offset.size(), 2u);
}

TEST(Memory, DeadOutputsAndSubgraphReadsAreLive) {
  // %q (a dead Split output) still needs room while Split runs, and %r is read
  // only inside the If's branches, which must keep it alive until then.
  auto g = parse_graph(R"(graph main(%c: bool[], %x: f32[4,2]) -> (%o, %n) {
  %r: f32[4,2] = Relu(%x)
  %p: f32[2,2], %q: f32[2,2] = Split(%r)
  %s: f32[4,2] = Neg(%x)
  %n: f32[2,2] = Neg(%p)
  %o: f32[4,2] = If(%c) {else_branch=graph e() -> (%e) {
    %e: f32[4,2] = Sub(%r, %s)
    return %e
  }, then_branch=graph t() -> (%t) {
    %t: f32[4,2] = Add(%r, %s)
    return %t
  }}
  return %o, %n
}
)");
  ASSERT_TRUE(g.has_value()) << g.status().message();
  MemoryPlan p = plan_ok(**g);
  check_plan(**g, p, {});
  const Value* q = (*g)->find_value("q");
  EXPECT_EQ(p.storage.at(q).kind, Kind::Arena);
  // r, p, q live at once during the Split: 32 + 16 + 16 bytes at least.
  EXPECT_GE(p.lower_bound, 64);
}

TEST(Memory, ErrorsNameTheValue) {
  Graph g;
  Builder b(g, infer_node);
  Value* x = b.input("x", TensorType{DType::F32, Shape{true, {Dim::named("N"), Dim::known(4)}}});
  b.output(b.op(OpKind::Relu, {x}, {}, "act"));
  auto r = plan_memory(g);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("%x"), std::string::npos) << r.status().message();

  Net n;
  n.b.output(n.b.op(OpKind::Relu, {n.in("x", {2})}));
  PlanOptions bad;
  bad.alignment = 0;
  EXPECT_FALSE(plan_memory(n.g, bad).has_value());
}

TEST(Memory, PassStoresThePlanAndASummary) {
  Net n;
  n.b.output(n.matmul(n.matmul(n.in("x", {1, 4}), 8), 4));
  PassContext ctx;
  auto pass = make_plan_memory_pass();
  ASSERT_TRUE(pass->run(n.g, ctx).is_ok());
  ASSERT_TRUE(ctx.memory_plan.has_value());
  EXPECT_EQ(ctx.memory_plan->arena_bytes, 32);
  ASSERT_EQ(ctx.remarks.size(), 1u);
  EXPECT_EQ(ctx.remarks[0], "plan-memory: arena 32 B (lower bound 32 B), 0 in-place, 0 views");
}

}  // namespace
}  // namespace weec
