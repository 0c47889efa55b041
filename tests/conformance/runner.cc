// weec_conformance: runs the ONNX backend test suite (Debian's libonnx-testdata)
// through the importer and the reference interpreter, and compares with the
// suite's expected outputs. Writes a TSV (category, test, status, reason), an
// optional markdown summary, and fails if any category's pass count drops below
// the committed baseline.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "c_mode.h"
#include "frontend/onnx/importer.h"
#include "frontend/onnx/tensor_proto.h"
#include "interp/interpreter.h"
#include "io/compare.h"
#include "ops/verify_ops.h"

namespace fs = std::filesystem;
using namespace weec;

namespace {

struct TestCase {
  std::string category, name;
  fs::path dir;
  std::string status = "fail", reason;  // status: pass | fail
  double seconds = 0;
};

struct RunConfig {
  bool c_backend = false;
  CModeOptions c;
};

struct Override {
  Tolerance tol;
  std::string reason;
};

// Import errors name nodes; group them by what is missing instead.
std::string summarize_reason(const std::string& msg) {
  std::smatch m;
  static const std::regex unsupported(R"(\(([\w.]+), opset (\d+)\): unsupported op)");
  if (std::regex_search(msg, m, unsupported)) return "unsupported op " + m[1].str();
  static const std::regex no_emitter(R"(\((\w+)\): op is not supported by the C backend)");
  if (std::regex_search(msg, m, no_emitter)) return "no C emitter for " + m[1].str();
  static const std::regex non_tensor(R"(has (sequence|optional|map|sparse tensor) type)");
  if (std::regex_search(msg, m, non_tensor)) return m[1].str() + " values are not supported";
  std::string r = msg;
  std::replace(r.begin(), r.end(), '\t', ' ');
  std::replace(r.begin(), r.end(), '\n', ' ');
  if (r.size() > 300) r = r.substr(0, 297) + "...";
  return r;
}

// ONNX 1.12's test data stores bfloat16 tensors as UINT16 bit patterns
// (numpy has no bfloat16). Reinterpret those bits where bf16 is expected.
void fix_bf16(Tensor& t, DType want) {
  if (want != DType::BF16 || t.dtype() != DType::U16) return;
  Tensor b(DType::BF16, t.dims());
  std::memcpy(b.raw(), t.raw(), t.nbytes());
  t = std::move(b);
}

void run_test(TestCase& tc, const std::map<std::string, Override>& overrides, const RunConfig& cfg) {
  auto t0 = std::chrono::steady_clock::now();
  auto done = [&](std::string status, std::string reason) {
    tc.status = std::move(status);
    tc.reason = std::move(reason);
    tc.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  auto model = import_onnx_file((tc.dir / "model.onnx").string());
  if (!model) return done("fail", summarize_reason(model.status().message()));
  const Graph& g = *model->graph;
  // Every imported graph must pass the verifier (SSA, order, types agree).
  if (Status st = verify_graph_with_ops(g); !st)
    return done("fail", "verifier: " + summarize_reason(st.message()));
  Tolerance tol;
  if (auto it = overrides.find(tc.name); it != overrides.end()) tol = it->second.tol;

  std::string bound_note;
  std::vector<fs::path> sets;
  for (auto& e : fs::directory_iterator(tc.dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return done("fail", "no test data sets");
  for (auto& set : sets) {
    std::vector<Tensor> inputs, expected;
    for (size_t k = 0;; ++k) {
      fs::path p = set / fmt::format("input_{}.pb", k);
      if (!fs::exists(p)) break;
      auto t = read_tensor_pb(p.string());
      if (!t) return done("fail", summarize_reason(t.status().message()));
      inputs.push_back(std::move(*t));
    }
    for (size_t k = 0;; ++k) {
      fs::path p = set / fmt::format("output_{}.pb", k);
      if (!fs::exists(p)) break;
      auto t = read_tensor_pb(p.string());
      if (!t) return done("fail", summarize_reason(t.status().message()));
      expected.push_back(std::move(*t));
    }
    if (inputs.size() != g.inputs.size())
      return done("fail", fmt::format("test data has {} inputs, the imported graph takes {}", inputs.size(),
                                      g.inputs.size()));
    std::vector<const Tensor*> ptrs;
    for (size_t k = 0; k < inputs.size(); ++k) {
      fix_bf16(inputs[k], g.inputs[k]->type.dtype);
      ptrs.push_back(&inputs[k]);
    }
    Expected<std::vector<Tensor>> outs = std::vector<Tensor>{};
    std::string note;
    if (cfg.c_backend) {
      CModeResult r = run_through_c(g, ptrs, cfg.c, tc.name);
      if (!r.status)
        return done(r.unsupported ? "unsupported" : "fail", summarize_reason(r.status.message()));
      outs = std::move(r.outputs);
      if (!r.bound_inputs.empty()) bound_note = "bound as constants: " + r.bound_inputs;
    } else {
      outs = run_graph(g, ptrs);
    }
    if (!outs) return done("fail", summarize_reason(outs.status().message()));
    if (outs->size() != expected.size())
      return done("fail", fmt::format("{} outputs, expected {}", outs->size(), expected.size()));
    for (size_t k = 0; k < expected.size(); ++k) {
      fix_bf16(expected[k], (*outs)[k].dtype());
      std::string diff = compare_tensors((*outs)[k], expected[k], tol).mismatch;
      if (!diff.empty())
        return done("fail", fmt::format("{}: output {}: {}", set.filename().string(), k, diff));
    }
  }
  done("pass", bound_note);
}

std::map<std::string, Override> load_overrides(const std::string& path) {
  std::map<std::string, Override> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string name, rtol, atol, reason;
    if (std::getline(ss, name, '\t') && std::getline(ss, rtol, '\t') && std::getline(ss, atol, '\t')) {
      std::getline(ss, reason);
      out[name] = Override{{std::stod(rtol), std::stod(atol)}, reason};
    }
  }
  return out;
}

bool is_bound(const TestCase& t) { return t.status == "pass" && !t.reason.empty(); }

void write_markdown(const std::string& path, const std::vector<TestCase>& tests,
                    const std::vector<std::string>& categories,
                    const std::map<std::string, Override>& overrides, double seconds, const RunConfig& cfg) {
  std::ofstream f(path);
  if (cfg.c_backend) {
    f << "## Through the C backend\n\n"
      << fmt::format(
             "Each test is compiled with the `{}` pipeline to C, built with `{} -std=c99 -Wall -Wextra "
             "-Werror -pedantic -O1`,\n",
             cfg.c.opt_level, cfg.c.cc)
      << "run on every data set and compared with the same tolerances. *bound* counts passing tests whose\n"
      << "integer (shape-carrying) inputs had to be compiled as constants; *unsupported* are models the\n"
      << "backend refuses with a message before generating code.\n\n";
  } else {
    f << "## Through the reference interpreter\n\n"
      << "Each test imports `model.onnx`, runs every `test_data_set_*` through weec's reference interpreter\n"
      << "and compares with the expected outputs: floats with rtol 1e-3, atol 1e-7 (ONNX's backend-test\n"
      << "defaults) unless listed below; ints, bools exactly; dtype and shape must match.\n\n";
  }
  f << fmt::format("Whole run: {:.1f} s on this machine ({} threads).\n\n", seconds, 2);
  f << "| category | passed | of which bound | unsupported | failed | total "
       "|\n|---|---:|---:|---:|---:|---:|\n";
  int tp = 0, tt = 0, tb = 0, tu = 0;
  for (auto& c : categories) {
    int p = 0, n = 0, b = 0, u = 0;
    for (auto& t : tests)
      if (t.category == c) {
        ++n;
        p += t.status == "pass";
        b += is_bound(t);
        u += t.status == "unsupported";
      }
    f << fmt::format("| {} | {} | {} | {} | {} | {} |\n", c, p, b, u, n - p - u, n);
    tp += p;
    tt += n;
    tb += b;
    tu += u;
  }
  f << fmt::format("| **all** | **{}** | **{}** | **{}** | **{}** | **{}** |\n\n", tp, tb, tu, tt - tp - tu,
                   tt);
  if (!overrides.empty()) {
    f << "### Tolerance overrides\n\n| test | rtol | atol | reason |\n|---|---|---|---|\n";
    for (auto& [name, o] : overrides)
      f << fmt::format("| {} | {} | {} | {} |\n", name, o.tol.rtol, o.tol.atol, o.reason);
    f << "\n";
  }
  std::map<std::string, std::vector<std::string>> by_reason;
  for (auto& t : tests)
    if (t.status != "pass") {
      std::string key = t.reason;
      if (t.status == "unsupported" && key.rfind("no C emitter", 0) != 0)
        key = "C backend: " + key.substr(0, 110);
      if (key.rfind("unsupported op", 0) != 0 && key.rfind("no C emitter", 0) != 0 &&
          key.rfind("C backend", 0) != 0 && key.find("values are not supported") == std::string::npos)
        key = "other: " + key.substr(0, 120);
      by_reason[key].push_back(t.name);
    }
  std::vector<std::pair<std::string, std::vector<std::string>>> sorted(by_reason.begin(), by_reason.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](auto& a, auto& b) { return a.second.size() > b.second.size(); });
  f << "### Failures by reason\n\nFull list with per-test reasons: the TSV written by `--tsv`.\n\n"
    << "| reason | tests | examples |\n|---|---:|---|\n";
  for (auto& [reason, names] : sorted) {
    std::string ex;
    for (size_t i = 0; i < std::min<size_t>(3, names.size()); ++i) ex += (i ? ", " : "") + names[i];
    std::string r = reason;
    std::replace(r.begin(), r.end(), '|', '/');
    f << fmt::format("| {} | {} | {} |\n", r, names.size(), ex);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run the ONNX backend test suite through weec's interpreter"};
  std::string data = "/usr/share/libonnx-testdata/data", filter, tsv, markdown, baseline, overrides_path;
  std::vector<std::string> categories = {"node", "pytorch-converted", "pytorch-operator", "simple"};
  bool verbose = false, update_baseline = false;
  int threads = 2;
  app.add_option("--data", data, "Test data root (libonnx-testdata)");
  app.add_option("--category", categories, "Categories to run")->delimiter(',');
  app.add_option("--filter", filter, "Only tests whose name matches this regex");
  app.add_option("--tsv", tsv, "Write per-test results (category, test, status, reason)");
  app.add_option("--markdown", markdown, "Write the summary table (docs/conformance.md)");
  app.add_option("--baseline", baseline, "Fail if a category passes fewer tests than this file says");
  app.add_flag("--update-baseline", update_baseline, "Rewrite the baseline file with the current counts");
  app.add_option("--tolerances", overrides_path,
                 "Per-test tolerance overrides (TSV: test, rtol, atol, reason)");
  app.add_option("-j,--threads", threads, "Worker threads");
  app.add_flag("-v,--verbose", verbose, "Print every test's result");
  RunConfig cfg;
  std::string backend = "interp";
  app.add_option("--backend", backend, "interp (reference interpreter) or c (compile to C, build, run)")
      ->check(CLI::IsMember({"interp", "c"}));
  app.add_option("--cc", cfg.c.cc, "C compiler for --backend c");
  app.add_option("--opt", cfg.c.opt_level, "Pass pipeline for --backend c (O0, O1, O2)");
  app.add_option("--keep-dir", cfg.c.keep_dir, "Keep each test's generated C and build here");
  app.add_option("--cflags", cfg.c.cflags, "C compiler flags for --backend c")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  cfg.c_backend = backend == "c";
  if (!fs::is_directory(data)) {
    fmt::print(stderr, "error: test data not found at {} (install libonnx-testdata: scripts/setup.sh)\n",
               data);
    return 2;
  }
  auto overrides = load_overrides(overrides_path);
  std::regex re(filter.empty() ? ".*" : filter);
  std::vector<TestCase> tests;
  for (auto& c : categories) {
    fs::path dir = fs::path(data) / c;
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> dirs;
    for (auto& e : fs::directory_iterator(dir))
      if (e.is_directory()) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (auto& d : dirs)
      if (std::regex_search(d.filename().string(), re)) tests.push_back({c, d.filename().string(), d});
  }

  auto t0 = std::chrono::steady_clock::now();
  std::atomic<size_t> next{0};
  std::mutex print_mu;
  auto worker = [&] {
    for (size_t i; (i = next++) < tests.size();) {
      try {
        run_test(tests[i], overrides, cfg);
      } catch (const std::exception& e) {  // a library bug, but keep the run going and say so
        tests[i].status = "fail";
        tests[i].reason = std::string("exception: ") + e.what();
      }
      if (verbose) {
        std::lock_guard<std::mutex> lock(print_mu);
        fmt::print("{:<4} {}/{} {}\n", tests[i].status, tests[i].category, tests[i].name, tests[i].reason);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int i = 0; i < std::max(1, threads); ++i) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!tsv.empty()) {
    std::ofstream f(tsv);
    f << "category\ttest\tstatus\treason\n";
    for (auto& t : tests) f << t.category << '\t' << t.name << '\t' << t.status << '\t' << t.reason << '\n';
  }
  if (!markdown.empty()) write_markdown(markdown, tests, categories, overrides, seconds, cfg);

  std::map<std::string, std::pair<int, int>> counts;  // category -> (passed, total)
  int passed = 0, failed = 0;
  for (auto& t : tests) {
    auto& c = counts[t.category];
    ++c.second;
    if (t.status == "pass")
      ++c.first, ++passed;
    else
      ++failed;
  }
  for (auto& [c, pt] : counts) fmt::print("{:<18} {:4} / {:4} passed\n", c, pt.first, pt.second);
  if (cfg.c_backend) {
    int bound = 0, unsupported = 0;
    for (auto& t : tests) {
      bound += is_bound(t);
      unsupported += t.status == "unsupported";
    }
    fmt::print(
        "C backend: {} passes needed shape-carrying inputs bound as constants; {} models unsupported\n",
        bound, unsupported);
  }
  fmt::print("conformance run took {:.1f} s\n", seconds);

  int rc = 0;
  if (!baseline.empty() && filter.empty()) {
    if (update_baseline) {
      std::ofstream f(baseline);
      f << "# category\tminimum passing tests (the conformance ctest fails below this)\n";
      for (auto& [c, pt] : counts) f << c << '\t' << pt.first << '\n';
    } else {
      std::ifstream f(baseline);
      if (!f) {
        fmt::print(stderr, "error: cannot read baseline {}\n", baseline);
        rc = 1;
      }
      std::string line;
      while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ss(line);
        std::string c;
        int want = 0;
        ss >> c >> want;
        int have = counts[c].first;
        if (have < want) {
          fmt::print("REGRESSION: {} passes {} tests, baseline is {}\n", c, have, want);
          rc = 1;
        }
      }
    }
  }
  fmt::print("{} passed, {} failed\n", passed, failed);
  return rc;
}
