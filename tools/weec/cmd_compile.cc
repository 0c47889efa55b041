// weec compile: ONNX (or .wir) -> DIR/NAME.h + DIR/NAME.c, dependency-free C99.
#include <chrono>

#include "compile_model.h"

namespace weec::cli {

namespace {

struct CompileArgs {
  ModelArgs m;
  std::string out_dir, name = "model";
};

Status compile(const CompileArgs& a) {
  auto t0 = std::chrono::steady_clock::now();
  WEEC_ASSIGN_OR_RETURN(auto p, prepare_model(a.m));
  CCodegenOptions opt;
  opt.name = a.name;
  WEEC_ASSIGN_OR_RETURN(auto code, generate_c(*p.model.graph, opt));
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  WEEC_TRY(write_c_files(code, a.out_dir));
  fmt::print("wrote {0}/{1}.h and {0}/{1}.c in {2:.1f} ms\n", a.out_dir, a.name, ms);
  for (auto& d : code.input_desc) fmt::print("  input   {}\n", d);
  for (auto& d : code.output_desc) fmt::print("  output  {}\n", d);
  fmt::print("  {}\n", code_summary(code));
  return Status::ok();
}

}  // namespace

Runner add_compile(CLI::App& app) {
  auto a = std::make_shared<CompileArgs>();
  add_model_options(app, a->m);
  app.add_option("-o,--output-dir", a->out_dir, "Directory for NAME.h and NAME.c")->required();
  app.add_option("--name", a->name, "C identifier prefix: NAME_run, NAME_ARENA_BYTES")->capture_default_str();
  return [a] { return compile(*a); };
}

}  // namespace weec::cli
