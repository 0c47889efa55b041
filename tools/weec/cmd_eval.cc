// weec eval: a model over a whole data set on one backend: top-1 accuracy
// (with labels) or MSE / max abs error (with reference outputs), latency per
// inference and, for C, arena/weight/code bytes. The C backend compiles the
// model once and streams every sample through one process.
//
// With --quantize int8 --calib DATA the float model and the int8 one are both
// evaluated on the same data; the int8 printout adds "agreement with the
// float model" (same top-1), and with --reference the fraction of output
// elements within one quantisation step.
#include <sstream>

#include "compile_model.h"
#include "eval_model.h"

namespace weec::cli {

namespace {

struct EvalArgs {
  ModelArgs m;
  std::string inputs, labels, reference, backend = "interp", cc = "cc", cflags = "-O3";
  int64_t limit = -1;
  bool json = false, quiet = false;
};

EvalOptions eval_options(const EvalArgs& a, const std::string& label) {
  EvalOptions o;
  o.backend = a.backend;
  o.build.cc = a.cc;
  o.build.cflags.clear();
  std::istringstream ss(a.cflags);
  for (std::string f; ss >> f;) o.build.cflags.push_back(f);
  o.progress = !a.quiet;
  o.label = label;
  return o;
}

// Prints one evaluated model; `baseline` (the float result) when comparing.
void print_result(const EvalArgs& a, const std::string& variant, const EvalResult& r,
                  const EvalResult* baseline) {
  if (a.json) {
    nlohmann::json j = eval_result_json(r, baseline);
    j["model"] = a.m.model;
    j["variant"] = variant;
    j["inputs"] = a.inputs;
    if (a.backend == "c") j["cflags"] = a.cc + " " + a.cflags;
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("{} ({}) on {}{}, inputs {}:\n", a.m.model, variant, a.backend,
             a.backend == "c" ? fmt::format(" ({} {})", a.cc, a.cflags) : "", a.inputs);
  fmt::print("{}", format_eval_result(r, baseline));
}

Status eval(const EvalArgs& a) {
  if (a.labels.empty() && a.reference.empty())
    return error("give --labels (top-1 accuracy) or --reference (MSE against expected outputs)");
  WEEC_ASSIGN_OR_RETURN(EvalData data, load_eval_data(a.inputs, a.labels, a.reference, a.limit));
  if (data.samples() == 0) return error("'{}' holds no samples", a.inputs);
  // The float model always; with --quantize also the int8 one, on the same
  // data, compared with the float one.
  ModelArgs float_args = a.m;
  float_args.quant = QuantArgs{};
  WEEC_ASSIGN_OR_RETURN(PreparedModel fp, prepare_model(float_args));
  WEEC_ASSIGN_OR_RETURN(EvalResult float_result, eval_model(*fp.model.graph, data, eval_options(a, "float")));
  print_result(a, "float", float_result, nullptr);
  if (a.m.quant.enabled()) {
    WEEC_ASSIGN_OR_RETURN(PreparedModel qp, prepare_model(a.m));
    WEEC_ASSIGN_OR_RETURN(EvalResult q_result,
                          eval_model(*qp.model.graph, data, eval_options(a, a.m.quant.mode)));
    print_result(a, a.m.quant.mode, q_result, &float_result);
  }
  return Status::ok();
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  add_model_options(app, a->m);
  app.add_option(
         "--inputs", a->inputs,
         "Samples along axis 0: .npy, .pb or IDX (*-ubyte[.gz], *.idx[.gz]); each sample is reshaped to the "
         "model input's shape (same element count) and integers become floats unchanged")
      ->required();
  auto* labels =
      app.add_option("--labels", a->labels, "Class id per sample (.npy or IDX): report top-1 accuracy");
  app.add_option("--reference", a->reference,
                 "Expected first output per sample ([N, ...] .npy/.pb): report MSE and max abs error")
      ->excludes(labels);
  app.add_option("--backend", a->backend, "interp or c (compiled once, all samples in one process)")
      ->check(CLI::IsMember({"interp", "c"}))
      ->capture_default_str();
  app.add_option("--limit", a->limit, "Evaluate only the first N samples")->check(CLI::NonNegativeNumber);
  app.add_option("--cc", a->cc, "C compiler for --backend c")->capture_default_str();
  app.add_option("--cflags", a->cflags, "Optimisation flags for the C compiler")->capture_default_str();
  app.add_flag("--json", a->json, "Print one JSON object per evaluated model instead of text");
  app.add_flag("-q,--quiet", a->quiet, "No progress line on stderr");
  return [a] { return eval(*a); };
}

}  // namespace weec::cli
