#include "eval_model.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "codegen/c/c_backend.h"
#include "interp/interpreter.h"
#include "io/tensor_file.h"

namespace weec::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One progress line on stderr: rewritten in place on a terminal (at most
// every 100 ms); elsewhere (logs, CI) only the final line is printed.
class Progress {
 public:
  Progress(std::string label, bool enabled) : label_(std::move(label)), enabled_(enabled), tty_(isatty(2)) {}
  void note(const std::string& what) {
    if (enabled_ && tty_) fmt::print(stderr, "\r\033[K{}: {}", label_, what);
  }
  void update(int64_t done, int64_t total) {
    if (!enabled_ || !tty_) return;
    auto now = Clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    fmt::print(stderr, "\r\033[K{}: {}/{} samples", label_, done, total);
  }
  void finish(const std::string& line) {
    if (enabled_) fmt::print(stderr, "{}{}: {}\n", tty_ ? "\r\033[K" : "", label_, line);
  }

 private:
  std::string label_;
  bool enabled_, tty_;
  Clock::time_point last_{};
};

int64_t sample_numel(const Tensor& t) { return t.rank() == 0 || t.dim(0) == 0 ? 0 : t.numel() / t.dim(0); }

// Sample `i` of `data` (a slice along axis 0) as a tensor of `type`.
Tensor make_sample(const Tensor& data, int64_t i, const TensorType& type) {
  Tensor t(type.dtype, type.shape.static_dims());
  const int64_t n = t.numel();
  if (type.quant && !type.quant->per_axis()) {
    // A quantised input (--int-io): real values to integers, as QuantizeLinear.
    const double s = type.quant->scale[0], zp = (double)type.quant->zero_point[0];
    const double lo = type.dtype == DType::U8 ? 0 : type.dtype == DType::I8 ? -128 : -32768;
    const double hi = type.dtype == DType::U8 ? 255 : type.dtype == DType::I8 ? 127 : 32767;
    for (int64_t k = 0; k < n; ++k)
      t.set_double(k, std::clamp(std::nearbyint(data.get_double(i * n + k) / s) + zp, lo, hi));
  } else if (data.dtype() == type.dtype) {
    const size_t bytes = (size_t)n * dtype_size(type.dtype);
    std::memcpy(t.raw(), static_cast<const uint8_t*>(data.raw()) + (size_t)i * bytes, bytes);
  } else {
    for (int64_t k = 0; k < n; ++k) t.set_double(k, data.get_double(i * n + k));
  }
  return t;
}

Status check_model_fits(const Graph& g, const EvalData& d) {
  if (g.inputs.size() != 1)
    return error("weec eval takes models with one input; this one has {}", g.inputs.size());
  if (g.outputs.empty()) return error("the model has no outputs");
  const Value* in = g.inputs[0];
  if (!in->type.shape.is_static())
    return error("the model's input '{}' is {}: bind its dims with --input-shape {}=...", in->name,
                 type_str(in->type), in->name);
  const int64_t want = numel_of(in->type.shape.static_dims()), have = sample_numel(d.inputs);
  if (have != want)
    return error(
        "a sample of '{}' ({} {}, {} per sample) has {} elements; the model's input '{}' is {} with {}",
        d.inputs_path, dtype_name(d.inputs.dtype()), dims_str(d.inputs.dims()),
        dims_str(Dims(d.inputs.dims().begin() + std::min<size_t>(1, d.inputs.dims().size()),
                      d.inputs.dims().end())),
        have, in->name, type_str(in->type), want);
  const DType md = in->type.dtype, dd = d.inputs.dtype();
  auto f32_or_f64 = [](DType t) { return t == DType::F32 || t == DType::F64; };
  if (md != dd && !(f32_or_f64(md) && (is_integer(dd) || f32_or_f64(dd))) && !in->type.quant)
    return error("the inputs are {}, the model's input '{}' is {}: only conversion to float is done",
                 dtype_name(d.inputs.dtype()), in->name, type_str(in->type));
  const Value* out = g.outputs[0];
  if (d.reference && out->type.shape.is_static() &&
      sample_numel(*d.reference) != numel_of(out->type.shape.static_dims()))
    return error("a reference sample has {} elements; the model's output '{}' is {}",
                 sample_numel(*d.reference), out->name, type_str(out->type));
  return Status::ok();
}

// Folds one sample's first output into the result: top-1, accuracy, errors.
struct Scorer {
  const EvalData& d;
  EvalResult& r;
  std::optional<QuantParams> out_quant;  // integer outputs (--int-io) are dequantised
  double step = 0;                       // the output's quantisation step, if it has one
  double squared_sum = 0;
  int64_t compared = 0, within_step = 0;

  double value(const Tensor& out, int64_t k) const {
    double v = out.get_double(k);
    return out_quant ? out_quant->scale[0] * (v - (double)out_quant->zero_point[0]) : v;
  }

  Status add(int64_t i, const Tensor& out) {
    if (out.numel() == 0) return error("sample {}: the model's first output is empty", i);
    int64_t best = 0;
    for (int64_t k = 1; k < out.numel(); ++k)
      if (out.get_double(k) > out.get_double(best)) best = k;  // first maximum wins, as in torch.argmax
    r.top1.push_back(best);
    if (d.labels) *r.correct += best == d.labels->get_int(i);
    if (d.reference) {
      if (out.numel() != sample_numel(*d.reference))
        return error("sample {}: the output has {} elements, the reference {}", i, out.numel(),
                     sample_numel(*d.reference));
      for (int64_t k = 0; k < out.numel(); ++k) {
        double e = value(out, k) - d.reference->get_double(i * out.numel() + k);
        squared_sum += e * e;
        within_step += step > 0 && std::abs(e) <= step * (1 + 1e-6);
        r.max_abs_error = std::max(*r.max_abs_error, std::abs(e));
      }
      compared += out.numel();
    }
    return Status::ok();
  }
  void finish() {
    if (d.reference) r.mse = compared ? squared_sum / (double)compared : 0.0;
    if (d.reference && step > 0) {
      r.output_step = step;
      r.within_one_step = compared ? (double)within_step / (double)compared : 1.0;
    }
  }
};

Status run_interp(const Graph& g, const EvalData& d, Scorer& scorer, Progress& progress, EvalResult& r) {
  const int64_t n = d.samples();
  double total_us = 0;
  for (int64_t i = 0; i < n; ++i) {
    Tensor x = make_sample(d.inputs, i, g.inputs[0]->type);
    auto t0 = Clock::now();
    auto outs = run_graph(g, {&x});
    total_us += std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (!outs) return outs.status().with_context(fmt::format("sample {}", i));
    WEEC_TRY(scorer.add(i, (*outs)[0]));
    progress.update(i + 1, n);
  }
  r.mean_latency_us = n ? total_us / (double)n : 0;
  return Status::ok();
}

Status run_c(const Graph& g, const EvalData& d, const EvalOptions& o, Scorer& scorer, Progress& progress,
             EvalResult& r) {
  progress.note("generating and compiling C");
  WEEC_ASSIGN_OR_RETURN(auto code, generate_c(g));
  r.has_sizes = true;
  r.arena_bytes = code.plan.arena_bytes;
  r.weight_bytes = code.weight_bytes;
  const int64_t n = d.samples();
  std::vector<Tensor> samples;
  samples.reserve(n);
  std::vector<std::vector<const Tensor*>> inputs;
  for (int64_t i = 0; i < n; ++i) samples.push_back(make_sample(d.inputs, i, g.inputs[0]->type));
  for (const Tensor& t : samples) inputs.push_back({&t});
  WEEC_ASSIGN_OR_RETURN(
      auto batch, run_generated_c_batch(g, code, inputs, o.build,
                                        [&](int64_t done, int64_t total) { progress.update(done, total); }));
  r.code_bytes = batch.code_bytes;
  r.rodata_bytes = batch.rodata_bytes;
  r.mean_latency_us = n ? batch.run_us / (double)n : 0;
  for (int64_t i = 0; i < n; ++i) WEEC_TRY(scorer.add(i, batch.outputs[i][0]));
  return Status::ok();
}

std::string kib(int64_t bytes) {
  return bytes < 10 * 1024 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} KiB", bytes / 1024.0);
}

}  // namespace

Expected<EvalData> load_eval_data(const std::string& inputs, const std::string& labels,
                                  const std::string& reference, int64_t limit) {
  EvalData d;
  d.inputs_path = inputs;
  WEEC_ASSIGN_OR_RETURN(d.inputs, read_tensor_file(inputs));
  if (d.inputs.rank() == 0) return error("'{}' is a scalar; expected samples along axis 0", inputs);
  int64_t n = d.inputs.dim(0);
  auto keep_first = [](Tensor& t, int64_t k) {
    if (k >= t.dim(0)) return;
    Dims dims = t.dims();
    dims[0] = k;
    Tensor cut(t.dtype(), dims);
    std::memcpy(cut.raw(), t.raw(), cut.nbytes());
    t = std::move(cut);
  };
  if (limit >= 0) keep_first(d.inputs, limit);
  if (!labels.empty()) {
    WEEC_ASSIGN_OR_RETURN(Tensor l, read_tensor_file(labels));
    if (!is_integer(l.dtype()))
      return error("labels '{}' are {}; expected integer class ids", labels, dtype_name(l.dtype()));
    if (l.rank() == 0 || l.numel() != l.dim(0))
      return error("labels '{}' are {}; expected one class id per sample ([N])", labels, dims_str(l.dims()));
    if (l.dim(0) != n)
      return error("'{}' has {} samples but labels '{}' has {}", inputs, n, labels, l.dim(0));
    if (limit >= 0) keep_first(l, limit);
    d.labels = std::move(l);
  }
  if (!reference.empty()) {
    WEEC_ASSIGN_OR_RETURN(Tensor ref, read_tensor_file(reference));
    if (ref.rank() == 0 || ref.dim(0) != n)
      return error("'{}' has {} samples but the reference '{}' is {}", inputs, n, reference,
                   dims_str(ref.dims()));
    if (limit >= 0) keep_first(ref, limit);
    d.reference = std::move(ref);
  }
  return d;
}

Expected<EvalResult> eval_model(const Graph& g, const EvalData& d, const EvalOptions& o) {
  auto t0 = Clock::now();
  WEEC_TRY(check_model_fits(g, d));
  EvalResult r;
  r.backend = o.backend;
  r.samples = d.samples();
  if (d.labels) r.correct = 0;
  if (d.reference) r.max_abs_error = 0.0;
  Scorer scorer{d, r};
  // A quantised model's output step: the scale of its integer output, or of
  // the DequantizeLinear that makes the float output.
  const Value* out = g.outputs[0];
  if (out->type.quant && !out->type.quant->per_axis()) {
    scorer.out_quant = out->type.quant;
    scorer.step = out->type.quant->scale[0];
  } else if (out->producer && out->producer->op == OpKind::DequantizeLinear &&
             out->producer->inputs[1]->constant && out->producer->inputs[1]->constant->numel() == 1) {
    scorer.step = out->producer->inputs[1]->constant->get_double(0);
  }
  Progress progress(o.label, o.progress);
  if (o.backend == "c") {
    WEEC_TRY(run_c(g, d, o, scorer, progress, r));
  } else if (o.backend == "interp") {
    WEEC_TRY(run_interp(g, d, scorer, progress, r));
  } else {
    return error("unknown backend '{}' (interp or c)", o.backend);
  }
  scorer.finish();
  r.seconds = seconds_since(t0);
  progress.finish(fmt::format("{} samples on {} in {:.2f} s", r.samples, r.backend, r.seconds));
  return r;
}

Expected<double> top1_agreement(const EvalResult& a, const EvalResult& b) {
  if (a.top1.size() != b.top1.size())
    return error("cannot compare results over {} and {} samples", a.top1.size(), b.top1.size());
  if (a.top1.empty()) return 1.0;
  int64_t same = 0;
  for (size_t i = 0; i < a.top1.size(); ++i) same += a.top1[i] == b.top1[i];
  return (double)same / (double)a.top1.size();
}

std::string format_eval_result(const EvalResult& r, const EvalResult* baseline) {
  std::string s = fmt::format("  samples: {}\n", r.samples);
  if (auto acc = r.accuracy())
    s += fmt::format("  top-1 accuracy: {:.2f}% ({} of {})\n", 100 * *acc, *r.correct, r.samples);
  if (r.mse) s += fmt::format("  vs reference: MSE {:.6g}, max abs error {:.6g}\n", *r.mse, *r.max_abs_error);
  if (r.within_one_step)
    s += fmt::format("  within 1 output step ({:.6g}) of the reference: {:.2f}% of elements\n",
                     *r.output_step, 100 * *r.within_one_step);
  if (baseline) {
    auto agree = top1_agreement(r, *baseline);
    if (agree)
      s += fmt::format("  agreement with the float model: {:.2f}% of samples have the same top-1\n",
                       100 * *agree);
  }
  s += fmt::format("  mean latency: {:.3f} µs per inference ({})\n", r.mean_latency_us, r.backend);
  if (r.has_sizes)
    s += fmt::format("  arena {} · weights {} · code {} (.text) · constants {} (.rodata)\n",
                     kib(r.arena_bytes), kib(r.weight_bytes), kib(r.code_bytes), kib(r.rodata_bytes));
  return s;
}

nlohmann::json eval_result_json(const EvalResult& r, const EvalResult* baseline) {
  nlohmann::json j = {{"backend", r.backend},
                      {"samples", r.samples},
                      {"mean_latency_us", r.mean_latency_us},
                      {"seconds", r.seconds}};
  if (auto acc = r.accuracy()) {
    j["accuracy"] = *acc;
    j["correct"] = *r.correct;
  }
  if (r.mse) {
    j["mse"] = *r.mse;
    j["max_abs_error"] = *r.max_abs_error;
  }
  if (r.within_one_step) {
    j["output_step"] = *r.output_step;
    j["within_one_step"] = *r.within_one_step;
  }
  if (baseline)
    if (auto agree = top1_agreement(r, *baseline)) j["top1_agreement"] = *agree;
  if (r.has_sizes) {
    j["arena_bytes"] = r.arena_bytes;
    j["weight_bytes"] = r.weight_bytes;
    j["code_bytes"] = r.code_bytes;
    j["rodata_bytes"] = r.rodata_bytes;
  }
  return j;
}

}  // namespace weec::cli
