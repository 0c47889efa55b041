// weec: a compiler for small neural networks. This file wires the subcommands;
// each lives in its own cmd_*.cc.
#include <fmt/format.h>

#include "commands.h"
#include "ir/tensor.h"

int main(int argc, char** argv) {
  CLI::App app{
      "weec — a compiler for small neural networks.\n"
      "ONNX in; typed graph IR; pass pipeline (-O0/-O1/-O2); C99 out (no heap, no stdio, one static arena);\n"
      "a reference interpreter is the oracle every pass and backend is checked against.\n"
      "Models: .onnx files, or .wir text IR as printed by `weec show`."};
  app.set_version_flag("--version", "weec 0.1.0");
  app.require_subcommand(1);
  // A resource limit for every command: refuse hostile or corrupt models
  // before allocating. fallthrough() lets it follow the subcommand too.
  int64_t max_tensor_bytes = weec::max_tensor_bytes();
  app.add_option("--max-tensor-bytes", max_tensor_bytes,
                 "Refuse any tensor (initializer, inferred value, input data) larger than this, before "
                 "allocating it; units: 64MiB, 4GiB; may follow the subcommand")
      ->transform(CLI::AsSizeValue(false).description(""))
      ->check(CLI::Range(int64_t(1), INT64_MAX).description(""))
      ->type_name("SIZE")
      ->default_str("1GiB");
  app.fallthrough();
  app.footer(
      "Examples:\n"
      "  weec show examples/fashion_mnist/model.onnx\n"
      "  weec run examples/fashion_mnist/model.onnx --input image=examples/fashion_mnist/input_0.npy -o out\n"
      "Run `weec COMMAND --help` for a command's options.");
  std::vector<std::pair<CLI::App*, weec::cli::Runner>> commands;
  auto add = [&](const char* name, const char* help, auto adder, const char* example) {
    CLI::App* sub = app.add_subcommand(name, help);
    sub->footer(std::string("Example:\n  ") + example);
    commands.push_back({sub, adder(*sub)});
  };
  add("show", "Print a model's IR (text, with types) and a summary; --dot writes Graphviz",
      weec::cli::add_show, "weec show examples/fashion_mnist/model.onnx --dot model.dot -o model.wir");
  add("run", "Run a model in the reference interpreter on .npy/.pb inputs", weec::cli::add_run,
      "weec run examples/fashion_mnist/model.onnx --input image=examples/fashion_mnist/input_0.npy -o out "
      "--npy");
  add("compile", "Compile a model to dependency-free C99 (NAME.h, NAME.c) with a static arena",
      weec::cli::add_compile,
      "weec compile examples/fashion_mnist/model.onnx --input-shape image=1x1x28x28 -O2 -o out --name "
      "fmnist");
  add("test", "Run input_K.pb through a backend (interp or c) and compare with output_K.pb",
      weec::cli::add_test,
      "weec test /usr/share/libonnx-testdata/data/node/test_relu/model.onnx "
      "/usr/share/libonnx-testdata/data/node/test_relu/test_data_set_0 --backend c");
  add("bench", "Time the generated C (or the interpreter) per inference; print arena, weight, code bytes",
      weec::cli::add_bench,
      "weec bench examples/fashion_mnist/model.onnx --input-shape image=1x1x28x28 --runs 1000");
  add("eval", "Top-1 accuracy (or MSE vs reference outputs), latency and sizes over a data set (.npy or IDX)",
      weec::cli::add_eval,
      "weec eval examples/fashion_mnist/mlp.onnx --inputs "
      "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --labels "
      "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz --backend c");
  add("quantize", "Post-training int8 quantisation: calibrate on --calib data, write a QDQ ONNX model",
      weec::cli::add_quantize,
      "weec quantize examples/fashion_mnist/mlp.onnx --calib "
      "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz -o mlp_int8.onnx");
  add("compare", "Compare two tensor files (.npy/.pb) within a tolerance; exit 1 if they differ",
      weec::cli::add_compare,
      "weec compare out/output_0.npy examples/fashion_mnist/expected_output_0.npy --atol 1e-5");
  add("export", "Write a model (.onnx or .wir) as ONNX opset 17; -O/--passes optimise it first",
      weec::cli::add_export,
      "weec export examples/fashion_mnist/model.onnx --input-shape image=1x1x28x28 -O2 -o fm.onnx");
  add("weenet", "Generate a WeeNet: a tiny seeded test network (one conv, a chain, residuals; float or int8)",
      weec::cli::add_weenet, "weec weenet --seed 7 --kind conv -o conv7.onnx --data conv7_data");
  add("train", "Train a model (or an --mlp/--cnn from scratch) on .npy/IDX data with SGD or Adam, optionally quantisation-aware (--qat); write ONNX",
      weec::cli::add_train,
      "weec train --mlp 784,128,10 --data /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz "
      "--labels /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz --epochs 5 -o mlp_trained.onnx");
  add("ops", "List the operators weec supports, with ONNX opsets and fusion kinds", weec::cli::add_ops,
      "weec ops | grep -i conv");
  CLI11_PARSE(app, argc, argv);
  weec::set_max_tensor_bytes(max_tensor_bytes);
  for (auto& [sub, runner] : commands) {
    if (!sub->parsed()) continue;
    weec::Status st = runner();
    if (!st) {
      fmt::print(stderr, "weec {}: error: {}\n", sub->get_name(), st.message());
      return 1;
    }
  }
  return 0;
}
