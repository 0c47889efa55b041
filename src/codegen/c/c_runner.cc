#include "codegen/c/c_runner.h"

#include <fmt/ranges.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "ops/c_emit.h"

namespace weec {

namespace fs = std::filesystem;

namespace {

// A scratch directory removed on destruction unless the user named one.
class WorkDir {
 public:
  explicit WorkDir(const std::string& requested) {
    if (!requested.empty()) {
      path_ = requested;
      fs::create_directories(path_);
      return;
    }
    std::string tmpl = (fs::temp_directory_path() / "weec-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data())) {
      path_ = buf.data();
      owned_ = true;
    }
  }
  ~WorkDir() {
    std::error_code ec;
    if (owned_) fs::remove_all(path_, ec);
  }
  bool ok() const { return !path_.empty(); }
  fs::path path() const { return path_; }

 private:
  fs::path path_;
  bool owned_ = false;
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command; returns its combined output and exit status.
std::pair<int, std::string> run_command(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "cannot start: " + cmd};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

Status write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
  return f ? Status::ok() : error("cannot write '{}'", p.string());
}

std::string buffer_decls(const Graph& g) {
  std::string s;
  auto decl = [&](const Value* v, const std::string& name) {
    int64_t n = std::max<int64_t>(1, numel_of(v->type.shape.static_dims()));
    s += fmt::format("static {} {}[{}];\n", c_type(v->type.dtype), name, n);
  };
  for (size_t i = 0; i < g.inputs.size(); ++i) decl(g.inputs[i], fmt::format("in{}", i));
  for (size_t i = 0; i < g.outputs.size(); ++i) decl(g.outputs[i], fmt::format("out{}", i));
  return s;
}

std::string bytes_of(const Value* v) {
  return fmt::format("{}", numel_of(v->type.shape.static_dims()) * (int64_t)dtype_size(v->type.dtype));
}

std::string run_call(const Graph& g, const std::string& name) {
  std::vector<std::string> a;
  for (size_t i = 0; i < g.inputs.size(); ++i) a.push_back(fmt::format("in{}", i));
  for (size_t i = 0; i < g.outputs.size(); ++i) a.push_back(fmt::format("out{}", i));
  return fmt::format("{}_run({});", name, fmt::join(a, ", "));
}

const char* kHarnessIo = R"(
static int read_file(const char* path, void* buf, size_t n) {
  FILE* f = fopen(path, "rb");
  size_t got;
  if (!f) return 1;
  got = fread(buf, 1, n, f);
  fclose(f);
  return got != n;
}
)";

const char* kHarnessWrite = R"(
static int write_file(const char* path, const void* buf, size_t n) {
  FILE* f = fopen(path, "wb");
  size_t put;
  if (!f) return 1;
  put = fwrite(buf, 1, n, f);
  fclose(f);
  return put != n;
}
)";

std::string io_harness(const Graph& g, const std::string& name) {
  std::string s = fmt::format("#include <stdio.h>\n#include \"{}.h\"\n", name) + buffer_decls(g) +
                  (g.inputs.empty() ? "" : kHarnessIo) + kHarnessWrite;
  s += "int main(int argc, char** argv) {\n";
  size_t n_in = g.inputs.size(), n_out = g.outputs.size();
  s += fmt::format("  if (argc != {}) return 2;\n", 1 + n_in + n_out);
  for (size_t i = 0; i < n_in; ++i)
    s += fmt::format("  if (read_file(argv[{}], in{}, {})) return 3;\n", 1 + i, i, bytes_of(g.inputs[i]));
  s += "  " + run_call(g, name) + "\n";
  for (size_t i = 0; i < n_out; ++i)
    s += fmt::format("  if (write_file(argv[{}], out{}, {})) return 4;\n", 1 + n_in + i, i,
                     bytes_of(g.outputs[i]));
  return s + "  return 0;\n}\n";
}

std::string bench_harness(const Graph& g, const std::string& name, int runs) {
  std::string s = "#define _POSIX_C_SOURCE 199309L\n#include <stdio.h>\n#include <time.h>\n";
  s += fmt::format("#include \"{}.h\"\n", name) + buffer_decls(g) + (g.inputs.empty() ? "" : kHarnessIo);
  s += "static double now_us(void) {\n  struct timespec t;\n  clock_gettime(CLOCK_MONOTONIC, &t);\n"
       "  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;\n}\n";
  s += "int main(int argc, char** argv) {\n  int r;\n";
  s += fmt::format("  if (argc != {}) return 2;\n", 1 + g.inputs.size());
  for (size_t i = 0; i < g.inputs.size(); ++i)
    s += fmt::format("  if (read_file(argv[{}], in{}, {})) return 3;\n", 1 + i, i, bytes_of(g.inputs[i]));
  // Warm-up, then `runs` samples. A sample times `batch` back-to-back
  // inferences (batch chosen so a sample lasts >= ~20 µs, above the clock's
  // resolution) and reports the mean per inference.
  s += fmt::format(
      "  double t0, per_run;\n  long batch, b;\n  t0 = now_us();\n"
      "  for (r = 0; r < {}; ++r) {}\n",
      std::max(10, runs / 10), run_call(g, name));
  s += fmt::format("  per_run = (now_us() - t0) / {};\n", std::max(10, runs / 10));
  s += "  batch = per_run > 20.0 ? 1 : (long)(20.0 / (per_run > 0.001 ? per_run : 0.001)) + 1;\n";
  s += fmt::format("  for (r = 0; r < {}; ++r) {{\n    t0 = now_us();\n", runs);
  s += fmt::format("    for (b = 0; b < batch; ++b) {}\n", run_call(g, name));
  s += "    printf(\"%.5f\\n\", (now_us() - t0) / batch);\n  }\n  return 0;\n}\n";
  return s;
}

Status write_raw(const fs::path& p, const Tensor& t) {
  std::ofstream f(p, std::ios::binary);
  f.write(static_cast<const char*>(t.raw()), (std::streamsize)t.nbytes());
  return f ? Status::ok() : error("cannot write '{}'", p.string());
}

Status check_inputs(const Graph& g, const std::vector<const Tensor*>& inputs) {
  if (inputs.size() != g.inputs.size())
    return error("expected {} inputs, got {}", g.inputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* v = g.inputs[i];
    if (inputs[i]->dtype() != v->type.dtype || inputs[i]->dims() != v->type.shape.static_dims())
      return error("input '{}' is {} {}, the compiled model expects {}", v->name,
                   dtype_name(inputs[i]->dtype()), dims_str(inputs[i]->dims()), type_str(v->type));
  }
  return Status::ok();
}

// Writes the sources and compiles; returns the executable's path.
Expected<fs::path> build(const WorkDir& dir, const CCodegenResult& code, const std::string& harness,
                         const CBuildOptions& opt, const std::string& exe_name) {
  WEEC_TRY(write_c_files(code, dir.path().string()));
  fs::path h = dir.path() / (exe_name + "_main.c"), exe = dir.path() / exe_name;
  WEEC_TRY(write_text(h, harness));
  std::string cmd = fmt::format("cd {} && {} -std=c99 -Wall -Wextra -Werror -pedantic {} {}.c {} -o {} -lm",
                                shell_quote(dir.path().string()), opt.cc, fmt::join(opt.cflags, " "),
                                code.name, h.filename().string(), exe_name);
  auto [rc, out] = run_command(cmd);
  if (rc != 0) return error("C compiler failed ({}):\n{}", cmd, out.substr(0, 4000));
  return exe;
}

}  // namespace

Expected<std::vector<Tensor>> run_generated_c(const Graph& g, const CCodegenResult& code,
                                              const std::vector<const Tensor*>& inputs,
                                              const CBuildOptions& opt) {
  WEEC_TRY(check_inputs(g, inputs));
  WorkDir dir(opt.work_dir);
  if (!dir.ok()) return error("cannot create a temporary directory");
  WEEC_ASSIGN_OR_RETURN(fs::path exe, build(dir, code, io_harness(g, code.name), opt, "run_model"));
  std::string cmd = shell_quote(exe.string());
  for (size_t i = 0; i < inputs.size(); ++i) {
    fs::path p = dir.path() / fmt::format("in{}.bin", i);
    WEEC_TRY(write_raw(p, *inputs[i]));
    cmd += " " + shell_quote(p.string());
  }
  for (size_t i = 0; i < g.outputs.size(); ++i)
    cmd += " " + shell_quote((dir.path() / fmt::format("out{}.bin", i)).string());
  auto [rc, out] = run_command(cmd);
  if (rc != 0) return error("generated program failed (exit {}): {}", rc, out.substr(0, 2000));
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const Value* v = g.outputs[i];
    Tensor t(v->type.dtype, v->type.shape.static_dims());
    std::ifstream f(dir.path() / fmt::format("out{}.bin", i), std::ios::binary);
    f.read(static_cast<char*>(t.raw()), (std::streamsize)t.nbytes());
    if (!f && t.nbytes() > 0) return error("cannot read output {} of the generated program", i);
    outputs.push_back(std::move(t));
  }
  return outputs;
}

Expected<CBenchResult> bench_generated_c(const Graph& g, const CCodegenResult& code,
                                         const std::vector<const Tensor*>& inputs, int runs,
                                         const CBuildOptions& opt) {
  WEEC_TRY(check_inputs(g, inputs));
  WorkDir dir(opt.work_dir);
  if (!dir.ok()) return error("cannot create a temporary directory");
  WEEC_ASSIGN_OR_RETURN(fs::path exe,
                        build(dir, code, bench_harness(g, code.name, runs), opt, "bench_model"));
  std::string cmd = shell_quote(exe.string());
  for (size_t i = 0; i < inputs.size(); ++i) {
    fs::path p = dir.path() / fmt::format("in{}.bin", i);
    WEEC_TRY(write_raw(p, *inputs[i]));
    cmd += " " + shell_quote(p.string());
  }
  auto [rc, out] = run_command(cmd);
  if (rc != 0) return error("benchmark program failed (exit {}): {}", rc, out.substr(0, 2000));
  std::vector<double> times;
  std::istringstream in(out);
  for (double t; in >> t;) times.push_back(t);
  if (times.empty()) return error("benchmark program printed no timings");
  std::sort(times.begin(), times.end());
  CBenchResult r;
  r.runs = (int)times.size();
  r.min_us = times.front();
  r.median_us = times[times.size() / 2];
  // Code size: compile the model alone to an object and read size(1)'s columns.
  std::string obj_cmd =
      fmt::format("cd {} && {} -std=c99 {} -c {}.c -o model_only.o && size -A model_only.o",
                  shell_quote(dir.path().string()), opt.cc, fmt::join(opt.cflags, " "), code.name);
  auto [src, sout] = run_command(obj_cmd);
  if (src == 0) {
    std::istringstream s(sout);
    std::string line;
    while (std::getline(s, line)) {
      std::istringstream ls(line);
      std::string sec;
      int64_t bytes = 0;
      ls >> sec >> bytes;
      if (sec.rfind(".text", 0) == 0) r.code_bytes += bytes;
      if (sec.rfind(".rodata", 0) == 0) r.rodata_bytes += bytes;
    }
  }
  return r;
}

}  // namespace weec
