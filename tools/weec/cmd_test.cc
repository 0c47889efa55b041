// weec test: run DATA_DIR/input_K.pb through a backend and compare with
// DATA_DIR/output_K.pb (the ONNX test-data layout). A directory holding
// test_data_set_* folders runs each of them.
#include <filesystem>

#include "codegen/c/c_runner.h"
#include "compile_model.h"
#include "frontend/onnx/tensor_proto.h"
#include "interp/interpreter.h"
#include "io/compare.h"

namespace weec::cli {

namespace fs = std::filesystem;

namespace {

struct TestArgs {
  ModelArgs m;
  std::string data_dir, backend = "interp", output_dir, cc = "cc";
  double rtol = 1e-3, atol = 1e-7;
};

Expected<std::vector<Tensor>> read_numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<Tensor> ts;
  for (size_t k = 0;; ++k) {
    fs::path p = dir / fmt::format("{}_{}.pb", prefix, k);
    if (!fs::exists(p)) break;
    WEEC_ASSIGN_OR_RETURN(Tensor t, read_tensor_pb(p.string()));
    ts.push_back(std::move(t));
  }
  return ts;
}

double max_rel_error(const Tensor& got, const Tensor& want) {
  if (!is_float(got.dtype()) && !is_integer(got.dtype())) return 0;
  double m = 0;
  for (int64_t i = 0; i < std::min(got.numel(), want.numel()); ++i) {
    double g = got.get_double(i), w = want.get_double(i);
    if (std::isfinite(g) && std::isfinite(w) && g != w)
      m = std::max(m, std::abs(g - w) / std::max(std::abs(w), 1e-30));
  }
  return m;
}

Status write_outputs(const fs::path& dir, const Graph& g, const std::vector<Tensor>& outs) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error("cannot create '{}': {}", dir.string(), ec.message());
  for (size_t k = 0; k < outs.size(); ++k) {
    fs::path final_path = dir / fmt::format("output_{}.pb", k), tmp = final_path;
    tmp += ".partial";
    Status st = write_tensor_pb(tmp.string(), outs[k], g.outputs[k]->name);
    if (!st) {
      fs::remove(tmp, ec);
      return st;
    }
    fs::rename(tmp, final_path, ec);
  }
  return Status::ok();
}

// One data set: returns the number of outputs that differ.
Expected<int> test_set(const TestArgs& a, const fs::path& set, const fs::path& out_dir) {
  WEEC_ASSIGN_OR_RETURN(auto inputs, read_numbered(set, "input"));
  WEEC_ASSIGN_OR_RETURN(auto expected, read_numbered(set, "output"));
  if (inputs.empty()) return error("no input_0.pb in '{}'", set.string());
  std::vector<const Tensor*> ptrs;
  for (auto& t : inputs) ptrs.push_back(&t);
  WEEC_ASSIGN_OR_RETURN(auto p, prepare_model(a.m, &ptrs));
  const Graph& g = *p.model.graph;
  std::vector<Tensor> outs;
  if (a.backend == "c") {
    WEEC_ASSIGN_OR_RETURN(auto code, generate_c(g));
    CBuildOptions b;
    b.cc = a.cc;
    WEEC_ASSIGN_OR_RETURN(outs, run_generated_c(g, code, ptrs, b));
  } else {
    WEEC_ASSIGN_OR_RETURN(outs, run_graph(g, ptrs));
  }
  if (!out_dir.empty()) WEEC_TRY(write_outputs(out_dir, g, outs));
  if (expected.size() != outs.size())
    return error("'{}' has {} expected outputs, the model produced {}", set.string(), expected.size(),
                 outs.size());
  int failed = 0;
  for (size_t k = 0; k < outs.size(); ++k) {
    Comparison c = compare_tensors(outs[k], expected[k], Tolerance{a.rtol, a.atol});
    bool ok = c.mismatch.empty();
    failed += !ok;
    fmt::print("  output {} '{}' {}{}: max abs error {:.3g}, max rel error {:.3g}: {}{}\n", k,
               g.outputs[k]->name, dtype_name(outs[k].dtype()), dims_str(outs[k].dims()), c.max_abs_error,
               max_rel_error(outs[k], expected[k]), ok ? "PASS" : "FAIL", ok ? "" : " (" + c.mismatch + ")");
  }
  return failed;
}

Status run_test(const TestArgs& a) {
  fs::path root(a.data_dir);
  if (!fs::is_directory(root)) return error("'{}' is not a directory", a.data_dir);
  std::vector<fs::path> sets;
  if (fs::exists(root / "input_0.pb")) {
    sets.push_back(root);
  } else {
    for (auto& e : fs::directory_iterator(root))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
        sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
  }
  if (sets.empty()) return error("'{}' has no input_0.pb and no test_data_set_* folders", a.data_dir);
  int failed = 0;
  for (auto& set : sets) {
    fmt::print("{} on backend {}:\n", set.string(), a.backend);
    fs::path out = a.output_dir.empty() ? fs::path()
                   : sets.size() == 1   ? fs::path(a.output_dir)
                                        : fs::path(a.output_dir) / set.filename();
    WEEC_ASSIGN_OR_RETURN(int f, test_set(a, set, out));
    failed += f;
  }
  if (failed) return error("{} output(s) outside rtol {:g} / atol {:g}", failed, a.rtol, a.atol);
  fmt::print("PASS\n");
  return Status::ok();
}

}  // namespace

Runner add_test(CLI::App& app) {
  auto a = std::make_shared<TestArgs>();
  add_model_options(app, a->m);
  app.add_option("data_dir", a->data_dir, "Folder with input_K.pb / output_K.pb (or test_data_set_* folders)")
      ->required();
  app.add_option("--backend", a->backend, "interp or c")
      ->check(CLI::IsMember({"interp", "c"}))
      ->capture_default_str();
  app.add_option("--output-dir", a->output_dir, "Write the actual outputs here as output_K.pb");
  app.add_option("--cc", a->cc, "C compiler for --backend c")->capture_default_str();
  app.add_option("--rtol", a->rtol, "Relative tolerance (floats)")->capture_default_str();
  app.add_option("--atol", a->atol, "Absolute tolerance (floats)")->capture_default_str();
  return [a] { return run_test(*a); };
}

}  // namespace weec::cli
