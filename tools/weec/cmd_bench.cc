// weec bench: latency per inference of the generated C (built with a timing
// harness) or of the interpreter, on seeded random inputs, plus the sizes.
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "codegen/c/c_runner.h"
#include "compile_model.h"
#include "interp/interpreter.h"

namespace weec::cli {

namespace {

struct BenchArgs {
  ModelArgs m;
  std::string backend = "c", cc = "cc", cflags = "-O3";
  int runs = 1000;
  bool json = false;
};

// Uniform [-1, 1) for floats, [0, 4) for integers (small: valid as indices), bools random.
Tensor random_tensor(const TensorType& t, std::mt19937& rng) {
  Tensor x(t.dtype, t.shape.static_dims());
  std::uniform_real_distribution<double> u(-1, 1);
  for (int64_t i = 0; i < x.numel(); ++i)
    x.set_double(i, is_float(t.dtype)        ? u(rng)
                    : t.dtype == DType::Bool ? (double)(rng() & 1)
                                             : (double)(rng() % 4));
  return x;
}

Status bench(const BenchArgs& a) {
  auto t0 = std::chrono::steady_clock::now();
  WEEC_ASSIGN_OR_RETURN(auto p, prepare_model(a.m));
  const Graph& g = *p.model.graph;
  WEEC_ASSIGN_OR_RETURN(auto code, generate_c(g));
  double compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::mt19937 rng(1);
  std::vector<Tensor> inputs;
  for (const Value* v : g.inputs) inputs.push_back(random_tensor(v->type, rng));
  std::vector<const Tensor*> ptrs;
  for (auto& t : inputs) ptrs.push_back(&t);

  CBenchResult r;
  if (a.backend == "c") {
    CBuildOptions b;
    b.cc = a.cc;
    b.cflags.clear();
    std::istringstream ss(a.cflags);
    for (std::string f; ss >> f;) b.cflags.push_back(f);
    WEEC_ASSIGN_OR_RETURN(r, bench_generated_c(g, code, ptrs, a.runs, b));
  } else {
    std::vector<double> times;
    for (int i = 0; i < std::max(10, a.runs / 10); ++i) WEEC_TRY(run_graph(g, ptrs).status());
    for (int i = 0; i < a.runs; ++i) {
      auto s = std::chrono::steady_clock::now();
      WEEC_TRY(run_graph(g, ptrs).status());
      times.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count());
    }
    std::sort(times.begin(), times.end());
    r.runs = (int)times.size();
    r.min_us = times.front();
    r.median_us = times[times.size() / 2];
  }
  if (a.json) {
    nlohmann::json j = {{"model", a.m.model},
                        {"backend", a.backend},
                        {"cflags", a.backend == "c" ? a.cflags : ""},
                        {"runs", r.runs},
                        {"median_us", r.median_us},
                        {"min_us", r.min_us},
                        {"arena_bytes", code.plan.arena_bytes},
                        {"arena_lower_bound", code.plan.lower_bound},
                        {"weight_bytes", code.weight_bytes},
                        {"code_bytes", r.code_bytes},
                        {"macs", code.macs},
                        {"compile_ms", compile_ms}};
    fmt::print("{}\n", j.dump());
    return Status::ok();
  }
  fmt::print("{} on {}{}: median {:.3f} µs, min {:.3f} µs per inference over {} runs\n", a.m.model, a.backend,
             a.backend == "c" ? fmt::format(" ({} {})", a.cc, a.cflags) : "", r.median_us, r.min_us, r.runs);
  fmt::print("  {}\n", code_summary(code));
  if (a.backend == "c")
    fmt::print("  code {} B (.text), constants {} B (.rodata)\n", r.code_bytes, r.rodata_bytes);
  fmt::print("  weec pipeline + code generation: {:.1f} ms\n", compile_ms);
  return Status::ok();
}

}  // namespace

Runner add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  add_model_options(app, a->m);
  app.add_option("--backend", a->backend, "c or interp")
      ->check(CLI::IsMember({"interp", "c"}))
      ->capture_default_str();
  app.add_option("--runs", a->runs, "Timed runs (after runs/10 warm-up runs)")->capture_default_str();
  app.add_option("--cc", a->cc, "C compiler")->capture_default_str();
  app.add_option("--cflags", a->cflags, "Optimisation flags for the C compiler")->capture_default_str();
  app.add_flag("--json", a->json, "Print one JSON object instead of text");
  return [a] { return bench(*a); };
}

}  // namespace weec::cli
