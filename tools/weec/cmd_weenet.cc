// weec weenet: writes one generated WeeNet (src/weenet) as ONNX, optionally
// with a test-data directory (input_0.pb, output_0.pb from the interpreter)
// that `weec test` reads. With --int8 the net is calibrated on its own
// random samples and written in QDQ form, as `weec quantize` would.
#include <filesystem>

#include "commands.h"
#include "frontend/onnx/export.h"
#include "interp/interpreter.h"
#include "io/tensor_file.h"
#include "ir/printer.h"
#include "passes/pass.h"
#include "weenet/weenet.h"

namespace weec::cli {

namespace {

struct WeeNetArgs {
  uint64_t seed = 0;
  std::string kind = "any", output, data_dir;
  bool int8 = false, print = false;
};

Status weenet_command(const WeeNetArgs& a) {
  WEEC_ASSIGN_OR_RETURN(weenet::Kind kind, weenet::parse_kind(a.kind));
  weenet::Spec spec;
  spec.kind = kind;
  spec.int8 = a.int8;
  WEEC_ASSIGN_OR_RETURN(weenet::WeeNet net, weenet::generate(a.seed, spec));
  if (a.int8) {
    PassContext ctx;
    ctx.quantize.calibration = net.calib;
    WEEC_ASSIGN_OR_RETURN(std::vector<std::string> passes, pipeline("O1"));
    passes.back() = "quantize";
    WEEC_TRY(PassManager(passes).run(*net.graph, ctx));
  }
  std::vector<const Tensor*> feeds;
  for (auto& t : net.feeds) feeds.push_back(&t);
  WEEC_ASSIGN_OR_RETURN(std::vector<Tensor> outs, run_graph(*net.graph, feeds));
  fmt::print("{}\n", weenet::describe(a.seed, net));
  if (a.print) fmt::print("{}", print_graph(*net.graph));
  if (!a.output.empty()) {
    ExportSummary s;
    WEEC_TRY(write_onnx(*net.graph, a.output, {}, &s));
    fmt::print("wrote {}: {} nodes, {} bytes\n", a.output, s.nodes, s.bytes);
  }
  if (!a.data_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(a.data_dir, ec);
    if (ec) return error("cannot create {}: {}", a.data_dir, ec.message());
    for (size_t i = 0; i < feeds.size(); ++i)
      WEEC_TRY(write_tensor_file(fmt::format("{}/input_{}.pb", a.data_dir, i), net.feeds[i],
                                 net.graph->inputs[i]->name));
    for (size_t i = 0; i < outs.size(); ++i)
      WEEC_TRY(write_tensor_file(fmt::format("{}/output_{}.pb", a.data_dir, i), outs[i],
                                 net.graph->outputs[i]->name));
    fmt::print("wrote {}/input_*.pb and output_*.pb (the interpreter's outputs)\n", a.data_dir);
  }
  return Status::ok();
}

}  // namespace

Runner add_weenet(CLI::App& app) {
  auto a = std::make_shared<WeeNetArgs>();
  app.add_option("--seed", a->seed, "Seed: the same seed always gives the same net")->required();
  app.add_option("--kind", a->kind,
                 "conv (one Conv, every attribute drawn), op (one other layer), chain (2-8 layers), "
                 "residual (skip Adds and Concat branches) or any")
      ->capture_default_str();
  app.add_flag("--int8", a->int8, "Only layers with integer kernels; calibrate and write QDQ ONNX");
  app.add_option("-o,--output", a->output, "The ONNX file to write");
  app.add_option("--data", a->data_dir, "Also write input_0.pb and output_0.pb here (for weec test)");
  app.add_flag("--print", a->print, "Print the net's text IR");
  return [a] { return weenet_command(*a); };
}

}  // namespace weec::cli
