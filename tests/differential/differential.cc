#include "differential.h"

#include <cmath>
#include <random>

#include "codegen/c/c_backend.h"
#include "codegen/c/c_runner.h"
#include "interp/interpreter.h"
#include "ops/registry.h"
#include "passes/pass.h"

namespace weec::diff {

namespace {

std::vector<const Tensor*> ptrs(const std::vector<Tensor>& v) {
  std::vector<const Tensor*> p;
  for (auto& t : v) p.push_back(&t);
  return p;
}

Expected<std::unique_ptr<Graph>> optimised(const Graph& g, const std::string& level,
                                           const std::vector<std::vector<Tensor>>& calib) {
  auto out = g.clone();
  WEEC_ASSIGN_OR_RETURN(std::vector<std::string> passes, pipeline(level));
  PassContext ctx;
  if (!calib.empty()) {
    passes = with_quantization(passes);
    ctx.quantize.calibration = calib;
  }
  WEEC_TRY(PassManager(passes).run(*out, ctx));
  return out;
}

// "" if equal within atol + rtol |e| (0, 0: bit-exact), else the first differences.
std::string compare(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double atol,
                    double rtol) {
  if (got.size() != want.size()) return fmt::format("{} outputs, expected {}", got.size(), want.size());
  std::string msg;
  for (size_t k = 0; k < want.size(); ++k) {
    if (got[k].dims() != want[k].dims() || got[k].dtype() != want[k].dtype())
      return fmt::format("output {}: {} {} vs {} {}", k, dtype_name(got[k].dtype()),
                         fmt::join(got[k].dims(), "x"), dtype_name(want[k].dtype()),
                         fmt::join(want[k].dims(), "x"));
    int bad = 0;
    for (int64_t i = 0; i < want[k].numel() && bad < 3; ++i) {
      const double a = got[k].get_double(i), e = want[k].get_double(i);
      const bool same =
          a == e || (std::isnan(a) && std::isnan(e)) || std::fabs(a - e) <= atol + rtol * std::fabs(e);
      if (!same) msg += fmt::format("{}output {} element {}: {} vs {}", bad++ ? ", " : "", k, i, a, e);
    }
  }
  return msg;
}

Expected<std::vector<Tensor>> run_c(const Graph& g, const Case& c) {
  WEEC_ASSIGN_OR_RETURN(CCodegenResult code, generate_c(g));
  CBuildOptions opt;
  opt.cc = c.cc;
  return run_generated_c(g, code, ptrs(c.feeds), opt);
}

}  // namespace

Tensor random_input(const Dims& dims, std::mt19937& rng) {
  Tensor t(DType::F32, dims);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int64_t i = 0; i < t.numel(); ++i) t.set_double(i, u(rng));
  return t;
}

std::string check(const Case& c) {
  const Graph& g = *c.graph;
  auto want = run_graph(g, ptrs(c.feeds));
  if (!want) return "interp: " + want.status().message();
  auto o0 = optimised(g, "O0", {});
  auto o2 = optimised(g, "O2", {});
  if (!o0) return "O0 pipeline: " + o0.status().message();
  if (!o2) return "O2 pipeline: " + o2.status().message();
  auto r0 = run_graph(**o0, ptrs(c.feeds));
  auto r2 = run_graph(**o2, ptrs(c.feeds));
  if (!r0 || !r2) return "interp after O0/O2: " + (r0 ? r2.status() : r0.status()).message();
  if (auto d = compare(*r0, *want, 1e-5, 1e-5); !d.empty()) return "O0-vs-interp: " + d;
  if (auto d = compare(*r2, *r0, 1e-5, 1e-5); !d.empty()) return "O0-vs-O2: " + d;
  auto cr = run_c(**o2, c);
  if (!cr) return "C: " + cr.status().message();
  if (auto d = compare(*cr, *want, 1e-4, 1e-4); !d.empty()) return "interp-vs-c: " + d;
  if (c.calib.empty()) return "";
  auto q = optimised(g, "O2", c.calib);
  if (!q) return "int8 pipeline: " + q.status().message();
  auto qi = run_graph(**q, ptrs(c.feeds));
  if (!qi) return "int8 interp: " + qi.status().message();
  auto qc = run_c(**q, c);
  if (!qc) return "int8 C: " + qc.status().message();
  if (auto d = compare(*qc, *qi, 0, 0); !d.empty()) return "int8 interp-vs-c: " + d;
  return "";
}

namespace {

// g with its output replaced by node k's first output, later nodes dropped.
std::unique_ptr<Graph> cut_after(const Graph& g, size_t k) {
  auto h = g.clone();
  h->outputs = {h->nodes()[k]->outputs[0]};
  while (h->nodes().size() > k + 1) h->remove_node(h->nodes().back().get());
  h->remove_unused_values();
  return h;
}

// g with node k's first non-constant input made the graph input, earlier nodes dropped.
std::unique_ptr<Graph> cut_before(const Graph& g, size_t k, std::vector<Tensor>& feeds, std::mt19937& rng) {
  auto h = g.clone();
  Value* in = nullptr;
  for (Value* v : h->nodes()[k]->inputs)
    if (v && !v->constant && v->producer) in = v;
  if (!in) return nullptr;
  for (size_t i = 0; i < k; ++i) h->remove_node(h->nodes().front().get());
  for (auto& n : h->nodes())
    for (Value* v : n->inputs)
      if (v && !v->constant && !v->producer && v != in) return nullptr;  // another earlier value is read
  const Dims dims = in->type.shape.static_dims();
  Value* x = h->add_input(h->unique_name("x"), in->type);
  h->replace_all_uses(in, x);
  h->inputs = {x};
  h->remove_unused_values();  // `in` too
  feeds = {random_input(dims, rng)};
  return h;
}

}  // namespace

std::string shrink(std::unique_ptr<Graph>& g, Case& c) {
  std::string failure = check(c);
  std::mt19937 rng(1);
  for (bool progress = true; progress && !failure.empty();) {
    progress = false;
    for (size_t k = 0; k + 1 < g->nodes().size() && !progress; ++k) {
      auto h = cut_after(*g, k);
      Case t = c;
      t.graph = h.get();
      if (auto f = check(t); !f.empty()) {
        g = std::move(h), c = t, c.graph = g.get(), failure = f, progress = true;
      }
    }
    for (size_t k = 1; k < g->nodes().size() && !progress; ++k) {
      std::vector<Tensor> feeds;
      auto h = cut_before(*g, k, feeds, rng);
      if (!h) continue;
      Case t = c;
      t.graph = h.get();
      t.feeds = feeds;
      if (!t.calib.empty())
        for (auto& s : t.calib) s = {random_input(feeds[0].dims(), rng)};
      if (auto f = check(t); !f.empty()) {
        g = std::move(h), c = t, c.graph = g.get(), failure = f, progress = true;
      }
    }
  }
  return failure;
}

}  // namespace weec::diff
