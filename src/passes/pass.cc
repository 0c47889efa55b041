// The pass registry, the named pipelines and the pass manager (requirement
// checks, verification after each pass, IR dumps and timing).
#include "passes/pass.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "ir/printer.h"
#include "ops/verify_ops.h"
#include "passes/passes.h"

namespace weec {

namespace {

struct PassEntry {
  std::string_view name;
  std::unique_ptr<Pass> (*make)();
};

// Registry order is the order `pass_names()` lists them in.
const std::vector<PassEntry>& registry() {
  static const std::vector<PassEntry> entries = {
      {"infer-shapes", make_infer_shapes_pass},
      {"fold-constants", make_fold_constants_pass},
      {"eliminate-dead-code", make_eliminate_dead_code_pass},
      {"simplify-inference", make_simplify_inference_pass},
      {"quantize", make_quantize_pass},
      {"lower-qdq", make_lower_qdq_pass},
      {"fuse", make_fuse_pass},
      {"plan-memory", make_plan_memory_pass},
  };
  return entries;
}

// The first value (node input or output, or graph output) whose shape is not
// fully known, or null.
const Value* first_non_static(const Graph& g) {
  for (auto& n : g.nodes()) {
    for (const Value* v : n->inputs)
      if (v && !v->type.shape.is_static()) return v;
    for (const Value* v : n->outputs)
      if (v && !v->type.shape.is_static()) return v;
  }
  for (const Value* v : g.outputs)
    if (v && !v->type.shape.is_static()) return v;
  return nullptr;
}

Status check_requirement(const Pass& pass, Requirement r, const Graph& g) {
  switch (r) {
    case Requirement::StaticShapes:
      if (const Value* v = first_non_static(g))
        return error(
            "pass '{}' needs static shapes, but %{} has type {}; bind the symbolic input dims, e.g. "
            "--input-shape {}=1x...",
            pass.name(), v->name, type_str(v->type), g.inputs.empty() ? "NAME" : g.inputs[0]->name);
      return Status::ok();
  }
  return Status::ok();
}

}  // namespace

std::unique_ptr<Pass> make_pass(std::string_view name) {
  for (auto& e : registry())
    if (e.name == name) return e.make();
  return nullptr;
}

std::vector<std::string> pass_names() {
  std::vector<std::string> out;
  for (auto& e : registry()) out.emplace_back(e.name);
  return out;
}

Expected<std::vector<std::string>> pipeline(std::string_view level) {
  // O1 folds and cleans twice: simplify-inference exposes new constants
  // (folded BatchNorm weights) and dead values.
  const std::vector<std::string> o1 = {"infer-shapes",       "fold-constants", "eliminate-dead-code",
                                       "simplify-inference", "fold-constants", "eliminate-dead-code",
                                       "plan-memory"};
  if (level == "O0") return std::vector<std::string>{"infer-shapes", "plan-memory"};
  if (level == "O1") return o1;
  if (level == "O2") {
    std::vector<std::string> o2 = o1;
    o2.insert(o2.end() - 1, "fuse");
    return o2;
  }
  return error("unknown optimisation level '{}'; valid levels are O0, O1, O2", level);
}

std::vector<std::string> with_quantization(std::vector<std::string> passes) {
  auto at = std::find(passes.begin(), passes.end(), "fuse");
  if (at == passes.end()) at = std::find(passes.begin(), passes.end(), "plan-memory");
  passes.insert(at, {"quantize", "lower-qdq", "eliminate-dead-code"});
  return passes;
}

std::vector<std::string> with_prequantized(std::vector<std::string> passes) {
  auto at = std::find(passes.begin(), passes.end(), "infer-shapes");
  at = at == passes.end() ? passes.begin() : at + 1;
  passes.insert(at, {"lower-qdq", "eliminate-dead-code"});
  return passes;
}

bool is_qdq_model(const Graph& g) {
  for (auto& n : g.nodes())
    if (n->op == OpKind::QuantizeLinear || n->op == OpKind::DequantizeLinear) return true;
  return false;
}

PassManager::PassManager(std::vector<std::unique_ptr<Pass>> passes) : passes_(std::move(passes)) {
  for (auto& p : passes_) names_.emplace_back(p->name());
}

Status PassManager::run(Graph& graph, PassContext& ctx) {
  // Resolve every name first so a typo fails before any pass changes the graph.
  if (passes_.empty()) {
    for (const std::string& name : names_) {
      std::unique_ptr<Pass> p = make_pass(name);
      if (!p) {
        passes_.clear();
        return error("unknown pass '{}'; valid passes are {}", name, fmt::join(pass_names(), ", "));
      }
      passes_.push_back(std::move(p));
    }
  }
  for (const std::string& name : ctx.print_after)
    if (std::find(names_.begin(), names_.end(), name) == names_.end())
      return error("--print-after '{}': the pipeline has no such pass (it runs {})", name,
                   fmt::join(names_, ", "));
  if (!ctx.dump_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(ctx.dump_dir, ec);
    if (ec) return error("cannot create dump directory '{}': {}", ctx.dump_dir, ec.message());
  }

  timings_ms_.clear();
  for (size_t i = 0; i < passes_.size(); ++i) {
    Pass& pass = *passes_[i];
    const std::string name(pass.name());
    for (Requirement r : pass.requires_()) WEEC_TRY(check_requirement(pass, r, graph));

    auto start = std::chrono::steady_clock::now();
    Status st = pass.run(graph, ctx);
    auto stop = std::chrono::steady_clock::now();
    if (!st) return st.with_context(fmt::format("pass '{}'", name));
    if (ctx.time_passes)
      timings_ms_.emplace_back(name, std::chrono::duration<double, std::milli>(stop - start).count());

    if (ctx.verify_each) {
      Status v = verify_graph_with_ops(graph);
      if (!v) return v.with_context(fmt::format("after pass '{}'", name));
    }

    bool dump = ctx.print_after_all ||
                std::find(ctx.print_after.begin(), ctx.print_after.end(), name) != ctx.print_after.end();
    if (!dump) continue;
    // Files keep every constant (they parse back); the stream elides large
    // ones so the IR stays readable on a terminal.
    PrintOptions popt;
    if (ctx.dump_dir.empty()) popt.elide_constants_over = 16;
    std::string text = fmt::format("// ---- after {} ----\n{}", name, print_graph(graph, popt));
    if (!ctx.dump_dir.empty()) {
      // 1-based position: 01-infer-shapes.wir, 02-fold-constants.wir, ...
      std::filesystem::path file =
          std::filesystem::path(ctx.dump_dir) / fmt::format("{:02}-{}.wir", i + 1, name);
      std::ofstream f(file);
      if (!f) return error("cannot write '{}'", file.string());
      f << text;
      if (!f) return error("error writing '{}'", file.string());
    } else {
      std::ostream& out = ctx.dump_stream ? *ctx.dump_stream : std::cerr;
      out << text;
      out.flush();
    }
  }
  return Status::ok();
}

std::string PassManager::timing_report() const {
  double total = 0;
  size_t width = 5;  // "total"
  for (auto& [name, ms] : timings_ms_) {
    total += ms;
    width = std::max(width, name.size());
  }
  auto pct = [&](double ms) { return total > 0 ? 100.0 * ms / total : 0.0; };
  std::string out = fmt::format("{:<{}}  {:>10}  {:>6}\n", "pass", width, "ms", "%");
  for (auto& [name, ms] : timings_ms_)
    out += fmt::format("{:<{}}  {:>10.3f}  {:>5.1f}%\n", name, width, ms, pct(ms));
  out += fmt::format("{:<{}}  {:>10.3f}  {:>5.1f}%\n", "total", width, total, total > 0 ? 100.0 : 0.0);
  return out;
}

}  // namespace weec
