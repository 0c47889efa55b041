// The pass manager (pipelines, requirement checks, verification, dumps,
// timing) and the infer-shapes, fold-constants and eliminate-dead-code
// passes. Each rewrite is checked structurally (which ops remain) and
// numerically: the optimised graph must compute what the unoptimised one
// computes in the interpreter on random inputs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "interp/interpreter.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ops/registry.h"
#include "ops/verify_ops.h"
#include "passes/pass.h"

namespace weec {
namespace {

// Parses text IR and refreshes its types with the ops' inference, so the
// text may spell uncertain types as `[*]`.
std::unique_ptr<Graph> parse_typed(std::string_view text) {
  auto r = parse_graph(text);
  EXPECT_TRUE(r.has_value()) << r.status().message();
  if (!r.has_value()) return nullptr;
  Status st = infer_graph(**r);
  EXPECT_TRUE(st.is_ok()) << st.message();
  st = verify_graph_with_ops(**r);
  EXPECT_TRUE(st.is_ok()) << st.message();
  return std::move(*r);
}

Tensor random_tensor(Dims dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
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

// Bitwise equality: these passes only move computations around (folding runs
// the same kernels at compile time), so results must not change at all.
void expect_identical(const std::vector<Tensor>& want, const std::vector<Tensor>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_TRUE(want[i].identical(got[i])) << "output " << i << " differs";
}

int count_op(const Graph& g, OpKind op) {
  int n = 0;
  for (auto& node : g.nodes()) n += node->op == op;
  return n;
}

Status run_passes(Graph& g, std::vector<std::string> passes, PassContext& ctx) {
  return PassManager(std::move(passes)).run(g, ctx);
}

// A pass defined by a lambda, for pass-manager tests.
class LambdaPass : public Pass {
 public:
  LambdaPass(std::string name, std::function<Status(Graph&)> fn, std::vector<Requirement> reqs = {})
      : name_(std::move(name)), fn_(std::move(fn)), reqs_(std::move(reqs)) {}
  std::string_view name() const override { return name_; }
  std::vector<Requirement> requires_() const override { return reqs_; }
  Status run(Graph& g, PassContext&) override { return fn_(g); }

 private:
  std::string name_;
  std::function<Status(Graph&)> fn_;
  std::vector<Requirement> reqs_;
};

const char* kSmall = R"(graph main(%x: f32[N,3]) -> (%y) {
  %r: f32[N,3] = Relu(%x)
  %y: f32[N,3] = Neg(%r)
  return %y
}
)";

// ---- pipelines and the registry ----

TEST(PassPipeline, LevelsListTheirPasses) {
  auto o0 = pipeline("O0");
  ASSERT_TRUE(o0.has_value());
  EXPECT_EQ(*o0, (std::vector<std::string>{"infer-shapes", "plan-memory"}));
  auto o1 = pipeline("O1");
  ASSERT_TRUE(o1.has_value());
  EXPECT_EQ(*o1, (std::vector<std::string>{"infer-shapes", "fold-constants", "eliminate-dead-code",
                                           "simplify-inference", "fold-constants", "eliminate-dead-code",
                                           "plan-memory"}));
  auto o2 = pipeline("O2");
  ASSERT_TRUE(o2.has_value());
  std::vector<std::string> want = *o1;
  want.insert(want.end() - 1, "fuse");
  EXPECT_EQ(*o2, want);
  for (auto& name : pass_names()) {
    auto p = make_pass(name);
    ASSERT_TRUE(p) << name;
    EXPECT_EQ(p->name(), name);
  }
  EXPECT_EQ(make_pass("no-such-pass"), nullptr);
}

TEST(PassPipeline, UnknownLevelListsValidOnes) {
  auto r = pipeline("O3");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("'O3'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("O0, O1, O2"), std::string::npos) << r.status().message();
}

TEST(PassManager, UnknownPassFailsBeforeAnyPassRuns) {
  auto g = parse_typed(kSmall);
  ASSERT_TRUE(g);
  PassContext ctx;
  ctx.input_shapes["x"] = {2, 3};
  Status st = run_passes(*g, {"infer-shapes", "frobnicate"}, ctx);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("unknown pass 'frobnicate'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("fold-constants"), std::string::npos) << st.message();
  // infer-shapes did not run: the input is still symbolic.
  EXPECT_EQ(type_str(g->inputs[0]->type), "f32[N,3]");
}

// ---- the pass manager ----

TEST(PassManager, PrintAfterWritesHeaderAndParseableIr) {
  auto g = parse_typed(kSmall);
  ASSERT_TRUE(g);
  std::ostringstream dump;
  PassContext ctx;
  ctx.dump_stream = &dump;
  ctx.print_after = {"eliminate-dead-code"};
  ctx.input_shapes["x"] = {2, 3};
  ASSERT_TRUE(run_passes(*g, {"infer-shapes", "eliminate-dead-code"}, ctx).is_ok());
  const std::string text = dump.str();
  EXPECT_EQ(text.find("// ---- after infer-shapes ----"), std::string::npos) << text;
  ASSERT_EQ(text.rfind("// ---- after eliminate-dead-code ----\n", 0), 0u) << text;
  // The dump is the graph after the pass, and it parses back (the header is a comment).
  EXPECT_NE(text.find("f32[2,3]"), std::string::npos) << text;
  auto reparsed = parse_graph(text);
  ASSERT_TRUE(reparsed.has_value()) << reparsed.status().message();
  EXPECT_EQ(print_graph(**reparsed), print_graph(*g));
}

TEST(PassManager, PrintAfterAUnrunPassIsAnError) {
  auto g = parse_typed(kSmall);
  ASSERT_TRUE(g);
  PassContext ctx;
  ctx.print_after = {"fuse"};
  Status st = run_passes(*g, {"eliminate-dead-code"}, ctx);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("'fuse'"), std::string::npos) << st.message();
}

TEST(PassManager, DumpDirGetsOneNumberedFilePerPass) {
  auto g = parse_typed(kSmall);
  ASSERT_TRUE(g);
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("weec_passes_dump_{}", ::getpid());
  std::filesystem::remove_all(dir);
  PassContext ctx;
  ctx.print_after_all = true;
  ctx.dump_dir = dir.string();
  ASSERT_TRUE(run_passes(*g, {"infer-shapes", "eliminate-dead-code"}, ctx).is_ok());
  for (const char* name : {"01-infer-shapes.wir", "02-eliminate-dead-code.wir"}) {
    std::ifstream f(dir / name);
    ASSERT_TRUE(f.good()) << name;
    std::stringstream ss;
    ss << f.rdbuf();
    auto parsed = parse_graph(ss.str());
    EXPECT_TRUE(parsed.has_value()) << name << ": " << parsed.status().message();
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()),
            2);
  std::filesystem::remove_all(dir);
}

TEST(PassManager, TimingReportHasEveryPassAndATotal) {
  auto g = parse_typed(kSmall);
  ASSERT_TRUE(g);
  PassContext ctx;
  ctx.time_passes = true;
  PassManager pm({"infer-shapes", "fold-constants", "eliminate-dead-code"});
  ASSERT_TRUE(pm.run(*g, ctx).is_ok());
  std::string report = pm.timing_report();
  std::istringstream lines(report);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 5u) << report;  // header, 3 passes, total
  EXPECT_EQ(rows[1].rfind("infer-shapes", 0), 0u) << report;
  EXPECT_EQ(rows[2].rfind("fold-constants", 0), 0u) << report;
  EXPECT_EQ(rows[3].rfind("eliminate-dead-code", 0), 0u) << report;
  EXPECT_EQ(rows[4].rfind("total", 0), 0u) << report;
  EXPECT_NE(rows[4].find("100.0%"), std::string::npos) << report;
}

TEST(PassManager, PassErrorsAndVerifierFailuresNameThePass) {
  auto g = parse_typed(kSmall);
  ASSERT_TRUE(g);
  PassContext ctx;
  std::vector<std::unique_ptr<Pass>> failing;
  failing.push_back(std::make_unique<LambdaPass>("boom", [](Graph&) { return error("it broke"); }));
  Status st = PassManager(std::move(failing)).run(*g, ctx);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.message(), "pass 'boom': it broke");

  // A pass that leaves a type the op's inference disagrees with.
  std::vector<std::unique_ptr<Pass>> breaking;
  breaking.push_back(std::make_unique<LambdaPass>("break-types", [](Graph& g) {
    g.nodes()[0]->outputs[0]->type.dtype = DType::I32;
    return Status::ok();
  }));
  st = PassManager(std::move(breaking)).run(*g, ctx);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.message().rfind("after pass 'break-types': ", 0), 0u) << st.message();
  EXPECT_NE(st.message().find("Relu"), std::string::npos) << st.message();
}

TEST(PassManager, StaticShapesRequirementNamesPassAndValue) {
  auto make = [] {
    std::vector<std::unique_ptr<Pass>> v;
    v.push_back(make_pass("infer-shapes"));
    v.push_back(std::make_unique<LambdaPass>(
        "needs-shapes", [](Graph&) { return Status::ok(); },
        std::vector<Requirement>{Requirement::StaticShapes}));
    return v;
  };
  auto g = parse_typed(kSmall);
  ASSERT_TRUE(g);
  PassContext ctx;
  Status st = PassManager(make()).run(*g, ctx);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("pass 'needs-shapes'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("%x"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("f32[N,3]"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("--input-shape"), std::string::npos) << st.message();

  ctx.input_shapes["x"] = {4, 3};
  st = PassManager(make()).run(*g, ctx);
  EXPECT_TRUE(st.is_ok()) << st.message();
}

// ---- infer-shapes ----

TEST(InferShapes, BindsInputsAndSharedSymbols) {
  auto g = parse_typed(R"(graph main(%x: f32[N,3], %z: f32[N,3]) -> (%y) {
  %s: f32[N,3] = Add(%x, %z)
  %y: f32[N,3] = Relu(%s)
  return %y
}
)");
  ASSERT_TRUE(g);
  auto original = g->clone();
  PassContext ctx;
  ctx.input_shapes["x"] = {2, 3};
  ASSERT_TRUE(run_passes(*g, {"infer-shapes"}, ctx).is_ok());
  // z shares the symbol N, so it is bound too; every value is now static.
  EXPECT_EQ(type_str(g->inputs[1]->type), "f32[2,3]");
  for (auto& v : g->values()) EXPECT_EQ(type_str(v->type), "f32[2,3]") << v->name;
  std::vector<Tensor> in = {random_tensor({2, 3}, 1), random_tensor({2, 3}, 2)};
  expect_identical(run(*original, in), run(*g, in));
}

TEST(InferShapes, WorksWithoutBindings) {
  auto g = parse_typed(kSmall);
  ASSERT_TRUE(g);
  PassContext ctx;
  ASSERT_TRUE(run_passes(*g, {"infer-shapes"}, ctx).is_ok());
  EXPECT_EQ(type_str(g->outputs[0]->type), "f32[N,3]");
}

TEST(InferShapes, RejectsBadBindings) {
  struct Case {
    const char* name;
    Dims dims;
    const char* message_part;
  };
  for (const Case& c : {Case{"q", {2, 3}, "'q'"}, Case{"x", {2, 3, 1}, "rank"}, Case{"x", {2, 4}, "dim 1"}}) {
    auto g = parse_typed(kSmall);
    ASSERT_TRUE(g);
    PassContext ctx;
    ctx.input_shapes[c.name] = c.dims;
    Status st = run_passes(*g, {"infer-shapes"}, ctx);
    ASSERT_FALSE(st.is_ok()) << c.name;
    EXPECT_EQ(st.message().rfind("pass 'infer-shapes': ", 0), 0u) << st.message();
    EXPECT_NE(st.message().find(c.message_part), std::string::npos) << st.message();
  }
}

// ---- fold-constants ----

TEST(FoldConstants, FoldsConstantSubexpressions) {
  auto g = parse_typed(R"(graph main(%x: f32[2,2]) -> (%y) {
  %a: f32[2,2] = const [1.0, 2.0, 3.0, 4.0]
  %b: f32[2,2] = const [0.5, 0.5, -1.0, 2.0]
  %c: f32[*] = Add(%a, %b)
  %d: f32[*] = Sqrt(%c)
  %y: f32[2,2] = Mul(%d, %x)
  return %y
}
)");
  ASSERT_TRUE(g);
  auto original = g->clone();
  PassContext ctx;
  ASSERT_TRUE(run_passes(*g, {"fold-constants"}, ctx).is_ok());
  ASSERT_EQ(g->nodes().size(), 1u);
  EXPECT_EQ(g->nodes()[0]->op, OpKind::Mul);
  // The folded value keeps its name: sqrt(a + b) = sqrt([1.5, 2.5, 2, 6]).
  const Value* d = g->nodes()[0]->inputs[0];
  EXPECT_EQ(d->name, "d");
  ASSERT_TRUE(d->is_constant());
  EXPECT_EQ(type_str(d->type), "f32[2,2]");
  const float want[] = {std::sqrt(1.5f), std::sqrt(2.5f), std::sqrt(2.f), std::sqrt(6.f)};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(d->constant->data<float>()[i], want[i]);
  ASSERT_FALSE(ctx.remarks.empty());
  EXPECT_NE(ctx.remarks.back().find("folded 2 nodes"), std::string::npos) << ctx.remarks.back();
  std::vector<Tensor> in = {random_tensor({2, 2}, 3)};
  expect_identical(run(*original, in), run(*g, in));
}

// What exporters emit for x.reshape(x.shape[0], -1): once N is bound, the
// whole shape computation is a constant and Reshape gets a static type.
TEST(FoldConstants, ShapeGatherConcatReshapeCollapses) {
  auto g = parse_typed(R"(graph main(%x: f32[N,3,4,4]) -> (%y) {
  %zero: i64[] = const [0]
  %axes: i64[1] = const [0]
  %rest: i64[1] = const [-1]
  %s: i64[*] = Shape(%x)
  %n: i64[*] = Gather(%s, %zero) {axis=0}
  %n1: i64[*] = Unsqueeze(%n, %axes)
  %target: i64[*] = Concat(%n1, %rest) {axis=0}
  %y: f32[*] = Reshape(%x, %target)
  return %y
}
)");
  ASSERT_TRUE(g);
  EXPECT_FALSE(g->outputs[0]->type.shape.is_static());
  auto original = g->clone();
  PassContext ctx;
  ctx.input_shapes["x"] = {2, 3, 4, 4};
  ASSERT_TRUE(run_passes(*g, {"infer-shapes", "fold-constants", "eliminate-dead-code"}, ctx).is_ok());
  ASSERT_EQ(g->nodes().size(), 1u) << print_graph(*g);
  const Node& reshape = *g->nodes()[0];
  EXPECT_EQ(reshape.op, OpKind::Reshape);
  ASSERT_TRUE(reshape.inputs[1]->is_constant());
  EXPECT_EQ(reshape.inputs[1]->constant->to_int_vector(), (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(type_str(g->outputs[0]->type), "f32[2,48]");
  // Only the constants the Reshape reads are left.
  EXPECT_EQ(g->constants().size(), 1u);
  std::vector<Tensor> in = {random_tensor({2, 3, 4, 4}, 4)};
  expect_identical(run(*original, in), run(*g, in));
}

TEST(FoldConstants, ShapeOfPartlySymbolicInputFoldsKnownRange) {
  auto g = parse_typed(R"(graph main(%x: f32[N,3,5]) -> (%y, %s, %z) {
  %s: i64[*] = Shape(%x) {start=1}
  %all: i64[*] = Shape(%x)
  %y: f32[*] = Reshape(%x, %all)
  %z: i64[*] = Size(%x)
  return %y, %s, %z
}
)");
  ASSERT_TRUE(g);
  PassContext ctx;
  ASSERT_TRUE(run_passes(*g, {"fold-constants"}, ctx).is_ok());
  // Shape(start=1) only needs the known dims; Shape of all dims and Size need N.
  EXPECT_EQ(count_op(*g, OpKind::Shape), 1);
  EXPECT_EQ(count_op(*g, OpKind::Size), 1);
  ASSERT_TRUE(g->outputs[1]->is_constant());
  EXPECT_EQ(g->outputs[1]->name, "s");
  EXPECT_EQ(g->outputs[1]->constant->to_int_vector(), (std::vector<int64_t>{3, 5}));
}

TEST(FoldConstants, LeavesResultsOverTheSizeCapToRunTime) {
  // 4097 x 1024 f32 = 16 MiB + 4 KiB, just over the 16 MiB cap.
  auto g = parse_typed(R"(graph main(%x: f32[1]) -> (%y) {
  %shape: i64[2] = const [4097, 1024]
  %big: f32[*] = ConstantOfShape(%shape)
  %small_shape: i64[1] = const [1]
  %small: f32[*] = ConstantOfShape(%small_shape)
  %s: f32[*] = Add(%big, %x)
  %y: f32[*] = Add(%s, %small)
  return %y
}
)");
  ASSERT_TRUE(g);
  PassContext ctx;
  ASSERT_TRUE(run_passes(*g, {"fold-constants"}, ctx).is_ok());
  EXPECT_EQ(count_op(*g, OpKind::ConstantOfShape), 1);
  EXPECT_FALSE(g->nodes()[0]->inputs.empty());
  EXPECT_EQ(g->nodes()[0]->inputs[0]->name, "shape");
  EXPECT_NE(ctx.remarks.back().find("1 left unfolded"), std::string::npos) << ctx.remarks.back();
}

// ---- eliminate-dead-code ----

const char* kDeadBranches = R"(graph main(%x: f32[2,3], %c: bool[]) -> (%o) {
  %w: f32[2,3] = const [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
  %s: f32[2,3] = Sigmoid(%x)
  %dead1: f32[2,3] = Exp(%x)
  %dead2: f32[2,3] = Mul(%dead1, %w)
  %o: f32[2,3] = If(%c) {else_branch=graph else_body() -> (%e) {
    %e: f32[2,3] = Neg(%x)
    return %e
  }, then_branch=graph then_body() -> (%t) {
    %unused: f32[2,3] = Exp(%s)
    %t: f32[2,3] = Neg(%s)
    return %t
  }}
  return %o
}
)";

TEST(DeadCode, RemovesUnusedBranchesKeepsSubgraphReads) {
  auto g = parse_typed(kDeadBranches);
  ASSERT_TRUE(g);
  auto original = g->clone();
  PassContext ctx;
  ASSERT_TRUE(run_passes(*g, {"eliminate-dead-code"}, ctx).is_ok());
  // Sigmoid is read only inside then_body, and must stay.
  ASSERT_EQ(g->nodes().size(), 2u) << print_graph(*g);
  EXPECT_EQ(g->nodes()[0]->op, OpKind::Sigmoid);
  EXPECT_EQ(g->nodes()[1]->op, OpKind::If);
  EXPECT_EQ(g->find_value("dead1"), nullptr);
  EXPECT_EQ(g->find_value("w"), nullptr);  // its only reader died
  const Graph& then_body = *g->nodes()[1]->attr("then_branch")->g;
  ASSERT_EQ(then_body.nodes().size(), 1u);
  EXPECT_EQ(then_body.nodes()[0]->op, OpKind::Neg);
  EXPECT_EQ(g->inputs.size(), 2u);  // the interface is never touched
  for (bool cond : {true, false}) {
    std::vector<Tensor> in = {random_tensor({2, 3}, 5), Tensor::scalar<bool>(cond)};
    expect_identical(run(*original, in), run(*g, in));
  }
  EXPECT_NE(ctx.remarks.back().find("removed 3 nodes"), std::string::npos) << ctx.remarks.back();
}

}  // namespace
}  // namespace weec
