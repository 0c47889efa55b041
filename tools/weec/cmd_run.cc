// weec run: execute a model in the reference interpreter.
#include <chrono>
#include <filesystem>

#include "commands.h"
#include "frontend/onnx/tensor_proto.h"
#include "interp/interpreter.h"
#include "io/tensor_file.h"

namespace weec::cli {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;  // NAME=FILE or FILE (positional order)
  std::vector<std::string> input_shapes;
  std::string output_dir;
  bool npy = false;
  int print_values = 10;
};

// A short human summary of a tensor: values, and per-row argmax for logits.
std::string describe(const Tensor& t, int max_values) {
  std::string s = fmt::format("{}{}", dtype_name(t.dtype()), dims_str(t.dims()));
  if (t.dtype() == DType::String) return s;
  std::vector<std::string> vals;
  for (int64_t i = 0; i < std::min<int64_t>(t.numel(), max_values); ++i)
    vals.push_back(is_float(t.dtype()) ? fmt::format("{:.6g}", t.get_double(i))
                                       : fmt::format("{}", t.get_int(i)));
  s += fmt::format(" = [{}{}]", fmt::join(vals, ", "), t.numel() > max_values ? ", ..." : "");
  if (is_float(t.dtype()) && t.rank() == 2 && t.dim(1) > 1) {
    std::vector<int64_t> top;
    for (int64_t r = 0; r < t.dim(0); ++r) {
      int64_t best = 0;
      for (int64_t c = 1; c < t.dim(1); ++c)
        if (t.get_double(r * t.dim(1) + c) > t.get_double(r * t.dim(1) + best)) best = c;
      top.push_back(best);
    }
    s += fmt::format("\n      argmax per row: [{}]", fmt::join(top, ", "));
  }
  return s;
}

Status write_outputs(const RunArgs& a, const Graph& g, const std::vector<Tensor>& outs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(a.output_dir, ec);
  if (ec) return error("cannot create output directory '{}': {}", a.output_dir, ec.message());
  // Write everything to temporaries first and rename at the end, so a failure
  // never leaves a partial set of outputs behind.
  std::vector<std::pair<fs::path, fs::path>> done;
  auto cleanup = [&] {
    for (auto& [tmp, final_path] : done) fs::remove(tmp, ec);
  };
  for (size_t k = 0; k < outs.size(); ++k) {
    std::vector<std::string> exts = {"pb"};
    if (a.npy) exts.push_back("npy");
    for (auto& ext : exts) {
      fs::path final_path = fs::path(a.output_dir) / fmt::format("output_{}.{}", k, ext);
      fs::path tmp = fs::path(a.output_dir) / fmt::format(".output_{}.{}.partial", k, ext);
      Status st = ext == "pb" ? write_tensor_pb(tmp.string(), outs[k], g.outputs[k]->name)
                              : write_npy(tmp.string(), outs[k]);
      if (!st) {
        fs::remove(tmp, ec);
        cleanup();
        return st;
      }
      done.push_back({tmp, final_path});
    }
  }
  for (auto& [tmp, final_path] : done) {
    fs::rename(tmp, final_path, ec);
    if (ec) {
      cleanup();
      return error("cannot write '{}': {}", final_path.string(), ec.message());
    }
  }
  return Status::ok();
}

Status run(const RunArgs& a) {
  WEEC_ASSIGN_OR_RETURN(ImportedModel m, load_model(a.model, a.input_shapes));
  const Graph& g = *m.graph;
  std::vector<std::optional<Tensor>> inputs(g.inputs.size());
  size_t positional = 0;
  for (const std::string& spec : a.inputs) {
    auto eq = spec.find('=');
    std::string name, file = spec;
    size_t index = 0;
    if (eq != std::string::npos && !std::filesystem::exists(spec)) {
      name = spec.substr(0, eq);
      file = spec.substr(eq + 1);
      index = g.inputs.size();
      for (size_t i = 0; i < g.inputs.size(); ++i)
        if (g.inputs[i]->name == name) index = i;
      if (index == g.inputs.size()) {
        std::vector<std::string> names;
        for (Value* v : g.inputs) names.push_back(v->name);
        return error("the model has no input '{}' (inputs: {})", name, fmt::join(names, ", "));
      }
    } else {
      while (positional < inputs.size() && inputs[positional]) ++positional;
      if (positional >= inputs.size()) return error("too many inputs: the model takes {}", g.inputs.size());
      index = positional;
    }
    if (inputs[index]) return error("input '{}' given twice", g.inputs[index]->name);
    WEEC_ASSIGN_OR_RETURN(Tensor t, read_tensor_file(file));
    inputs[index] = std::move(t);
  }
  std::vector<const Tensor*> ptrs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i])
      return error("no data for input '{}' ({}): pass --input {}=FILE.npy|.pb", g.inputs[i]->name,
                   type_str(g.inputs[i]->type), g.inputs[i]->name);
    ptrs.push_back(&*inputs[i]);
  }
  auto t0 = std::chrono::steady_clock::now();
  WEEC_ASSIGN_OR_RETURN(std::vector<Tensor> outs, run_graph(g, ptrs));
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  fmt::print("ran {} ({} nodes) in the reference interpreter: {:.3f} ms\n", a.model, g.nodes().size(), ms);
  for (size_t i = 0; i < g.inputs.size(); ++i)
    fmt::print("  input  %{}: {}{}\n", g.inputs[i]->name, dtype_name(ptrs[i]->dtype()),
               dims_str(ptrs[i]->dims()));
  for (size_t k = 0; k < outs.size(); ++k)
    fmt::print("  output %{}: {}\n", g.outputs[k]->name, describe(outs[k], a.print_values));
  if (!a.output_dir.empty()) {
    WEEC_TRY(write_outputs(a, g, outs));
    fmt::print("wrote {} output(s) to {}/output_K.pb{}\n", outs.size(), a.output_dir,
               a.npy ? " and .npy" : "");
  }
  return Status::ok();
}

}  // namespace

Runner add_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  app.add_option("model", a->model, "Model: .onnx, or .wir text IR")->required();
  app.add_option("-i,--input,inputs", a->inputs,
                 "Input data NAME=FILE (or FILE, in the model's input order); .npy or ONNX TensorProto .pb");
  app.add_option("--input-shape", a->input_shapes, "Bind an input's symbolic dims, e.g. image=8x1x28x28");
  app.add_option("-o,--output-dir", a->output_dir,
                 "Write outputs as DIR/output_K.pb (K = model output order); nothing is written on error");
  app.add_flag("--npy", a->npy, "Also write DIR/output_K.npy");
  app.add_option("--print", a->print_values, "How many values of each output to print")
      ->capture_default_str();
  return [a] { return run(*a); };
}

}  // namespace weec::cli
