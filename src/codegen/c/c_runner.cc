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

// Streams argv[3] samples: reads each sample's inputs from argv[1] (records
// back to back), runs the model, appends the outputs to argv[2]. Prints
// "progress K" about every 1% and "total_us T" (time inside NAME_run) at the end.
std::string batch_harness(const Graph& g, const std::string& name) {
  std::string s =
      "#define _POSIX_C_SOURCE 199309L\n#include <stdio.h>\n#include <stdlib.h>\n#include <time.h>\n";
  s += fmt::format("#include \"{}.h\"\n", name) + buffer_decls(g);
  s += "static double now_us(void) {\n  struct timespec t;\n  clock_gettime(CLOCK_MONOTONIC, &t);\n"
       "  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;\n}\n";
  s +=
      "int main(int argc, char** argv) {\n  FILE *fin, *fout;\n  long n, i, step;\n  double t0, total = 0;\n";
  s += "  if (argc != 4) return 2;\n  n = atol(argv[3]);\n  step = n / 100 > 0 ? n / 100 : 1;\n";
  s += "  fin = fopen(argv[1], \"rb\");\n  fout = fopen(argv[2], \"wb\");\n  if (!fin || !fout) return 3;\n";
  s += "  for (i = 0; i < n; ++i) {\n";
  for (size_t k = 0; k < g.inputs.size(); ++k)
    s += fmt::format("    if (fread(in{0}, 1, {1}, fin) != (size_t){1}) return 4;\n", k,
                     bytes_of(g.inputs[k]));
  s += "    t0 = now_us();\n    " + run_call(g, name) + "\n    total += now_us() - t0;\n";
  for (size_t k = 0; k < g.outputs.size(); ++k)
    s += fmt::format("    if (fwrite(out{0}, 1, {1}, fout) != (size_t){1}) return 5;\n", k,
                     bytes_of(g.outputs[k]));
  s += "    if ((i + 1) % step == 0) {\n      printf(\"progress %ld\\n\", i + 1);\n      fflush(stdout);\n   "
       " }\n";
  s += "  }\n  fclose(fin);\n  if (fclose(fout)) return 5;\n  printf(\"total_us %.3f\\n\", total);\n  return "
       "0;\n}\n";
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

// .text and .rodata bytes of an object file, from size(1)'s -A columns.
void read_section_sizes(const fs::path& dir, const std::string& object, int64_t& code, int64_t& rodata) {
  auto [rc, out] = run_command(fmt::format("cd {} && size -A {}", shell_quote(dir.string()), object));
  if (rc != 0) return;
  std::istringstream s(out);
  std::string line;
  while (std::getline(s, line)) {
    std::istringstream ls(line);
    std::string sec;
    int64_t bytes = 0;
    ls >> sec >> bytes;
    if (sec.rfind(".text", 0) == 0) code += bytes;
    if (sec.rfind(".rodata", 0) == 0) rodata += bytes;
  }
}

// Like build(), but compiles the model to its own object first, so its sizes
// can be read from the very object that gets linked.
Expected<fs::path> build_via_object(const WorkDir& dir, const CCodegenResult& code,
                                    const std::string& harness, const CBuildOptions& opt,
                                    const std::string& exe_name, int64_t& code_bytes, int64_t& rodata_bytes) {
  WEEC_TRY(write_c_files(code, dir.path().string()));
  fs::path h = dir.path() / (exe_name + "_main.c");
  WEEC_TRY(write_text(h, harness));
  const std::string cc =
      fmt::format("{} -std=c99 -Wall -Wextra -Werror -pedantic {}", opt.cc, fmt::join(opt.cflags, " "));
  std::string cmd =
      fmt::format("cd {} && {} -c {}.c -o {}.o && {} {} {}.o -o {} -lm", shell_quote(dir.path().string()), cc,
                  code.name, code.name, cc, h.filename().string(), code.name, exe_name);
  auto [rc, out] = run_command(cmd);
  if (rc != 0) return error("C compiler failed ({}):\n{}", cmd, out.substr(0, 4000));
  read_section_sizes(dir.path(), code.name + ".o", code_bytes, rodata_bytes);
  return dir.path() / exe_name;
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
      fmt::format("cd {} && {} -std=c99 {} -c {}.c -o model_only.o", shell_quote(dir.path().string()), opt.cc,
                  fmt::join(opt.cflags, " "), code.name);
  if (run_command(obj_cmd).first == 0)
    read_section_sizes(dir.path(), "model_only.o", r.code_bytes, r.rodata_bytes);
  return r;
}

Expected<CBatchResult> run_generated_c_batch(const Graph& g, const CCodegenResult& code,
                                             const std::vector<std::vector<const Tensor*>>& inputs,
                                             const CBuildOptions& opt, const CBatchProgress& progress) {
  for (size_t s = 0; s < inputs.size(); ++s) {
    Status st = check_inputs(g, inputs[s]);
    if (!st) return st.with_context(fmt::format("sample {}", s));
  }
  WorkDir dir(opt.work_dir);
  if (!dir.ok()) return error("cannot create a temporary directory");
  CBatchResult r;
  WEEC_ASSIGN_OR_RETURN(fs::path exe, build_via_object(dir, code, batch_harness(g, code.name), opt,
                                                       "batch_model", r.code_bytes, r.rodata_bytes));
  const fs::path in_path = dir.path() / "inputs.bin", out_path = dir.path() / "outputs.bin";
  {
    std::ofstream f(in_path, std::ios::binary);
    for (const auto& sample : inputs)
      for (const Tensor* t : sample)
        f.write(static_cast<const char*>(t->raw()), (std::streamsize)t->nbytes());
    if (!f) return error("cannot write '{}'", in_path.string());
  }
  const int64_t n = (int64_t)inputs.size();
  std::string cmd = fmt::format("{} {} {} {} 2>&1", shell_quote(exe.string()), shell_quote(in_path.string()),
                                shell_quote(out_path.string()), n);
  // Read the program's output line by line, so progress arrives as it runs.
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return error("cannot start: {}", cmd);
  std::string other;
  bool have_total = false;
  char line[512];
  while (fgets(line, sizeof line, p)) {
    long long done = 0;
    double total = 0;
    if (std::sscanf(line, "progress %lld", &done) == 1) {
      if (progress) progress(done, n);
    } else if (std::sscanf(line, "total_us %lf", &total) == 1) {
      r.run_us = total;
      have_total = true;
    } else if (other.size() < 2000) {
      other += line;
    }
  }
  int st = pclose(p);
  int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (rc != 0 || !have_total) return error("batch program failed (exit {}): {}", rc, other);
  std::ifstream f(out_path, std::ios::binary);
  r.outputs.reserve(inputs.size());
  for (int64_t s = 0; s < n; ++s) {
    std::vector<Tensor> outs;
    for (const Value* v : g.outputs) {
      Tensor t(v->type.dtype, v->type.shape.static_dims());
      f.read(static_cast<char*>(t.raw()), (std::streamsize)t.nbytes());
      if (!f && t.nbytes() > 0) return error("the batch program wrote fewer outputs than {} samples", n);
      outs.push_back(std::move(t));
    }
    r.outputs.push_back(std::move(outs));
  }
  return r;
}

}  // namespace weec
