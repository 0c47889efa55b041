#include "quant_args.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "eval_model.h"
#include "io/tensor_file.h"

namespace weec::cli {

namespace {

// Sample i of `data` (axis 0) as a tensor for `input`: same element count,
// converted to its dtype.
Expected<Tensor> sample_as_input(const Tensor& data, int64_t i, const Value& input) {
  Tensor t(input.type.dtype, input.type.shape.static_dims());
  const int64_t n = t.numel();
  if (data.rank() == 0 || data.numel() / data.dim(0) != n)
    return error("calibration samples of {} elements don't fit input '{}' of type {}",
                 data.rank() ? data.numel() / data.dim(0) : 0, input.name, type_str(input.type));
  for (int64_t k = 0; k < n; ++k) t.set_double(k, data.get_double(i * n + k));
  return t;
}

}  // namespace

void add_quant_options(CLI::App& sub, QuantArgs& q, bool always) {
  if (always)
    q.mode = "int8";
  else
    sub.add_option("--quantize", q.mode,
                   "Quantise to integer-only arithmetic: int8 (per-channel symmetric int8 weights, int32 "
                   "biases, 8-bit activations) or int4 (the same with 4-bit weights, packed two per byte "
                   "in the C). Needs --calib, unless the model is already quantised (QDQ, e.g. from "
                   "weec train --qat): then its own scales are used")
        ->check(CLI::IsMember({"int8", "int4"}));
  sub.add_option("--calib", q.calib,
                 "Calibration inputs: .npy with a leading sample axis, IDX (.gz too) or .pb; use training "
                 "data, never the test set");
  sub.add_option("--calib-method", q.method, "How activation ranges are chosen: minmax, percentile or mse")
      ->check(CLI::IsMember({"minmax", "percentile", "mse"}))
      ->capture_default_str();
  sub.add_option("--calib-percentile", q.percentile, "Percentile kept by --calib-method percentile")
      ->check(CLI::Range(50.0, 100.0))
      ->capture_default_str();
  sub.add_option("--calib-samples", q.samples, "Use the first N calibration samples")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub.add_option("--activations", q.activations,
                 "Activation type: int8 or uint8 (asymmetric, with a zero point)")
      ->check(CLI::IsMember({"int8", "uint8"}))
      ->capture_default_str();
  sub.add_flag("--int-io", q.int_io,
               "Keep inputs and outputs quantised: no float at all in the generated code (otherwise float "
               "inputs are quantised and outputs dequantised at the edges)");
}

Status setup_quantization(const QuantArgs& q, const Graph& g, PassContext& ctx, PipelineOptions& po) {
  if (!q.enabled()) {
    if (!q.calib.empty() || q.int_io) return error("--calib and --int-io need --quantize int8");
    return Status::ok();
  }
  if (is_qdq_model(g)) {
    // Quantised already (QDQ): lower it with its own scales.
    if (!q.calib.empty())
      return error(
          "the model is already quantised (it has QuantizeLinear/DequantizeLinear nodes): "
          "its own scales are used, so drop --calib");
    ctx.quantize.int_io = q.int_io;
    po.prequantized = true;
    return Status::ok();
  }
  if (q.calib.empty()) return error("--quantize {} needs calibration data: --calib FILE", q.mode);
  if (g.inputs.size() != 1)
    return error("calibration data gives one input per sample, but the model has {} inputs", g.inputs.size());
  const Value& in = *g.inputs[0];
  if (!in.type.shape.is_static())
    return error("input '{}' has type {}: bind its dims with --input-shape before calibrating", in.name,
                 type_str(in.type));
  QuantizeOptions& o = ctx.quantize;
  o.calibration.clear();
  if (std::filesystem::is_directory(q.calib)) {
    // A directory of one-sample tensor files (input_0.pb, input_1.pb, ... as
    // the ONNX test data has them, or .npy), in natural order.
    std::vector<std::filesystem::path> files;
    for (auto& e : std::filesystem::directory_iterator(q.calib))
      if (e.path().extension() == ".pb" || e.path().extension() == ".npy") files.push_back(e.path());
    auto number = [](const std::filesystem::path& p) {
      std::string s = p.stem().string();
      size_t i = s.find_last_not_of("0123456789");
      // At most 18 digits: stoll must not throw on a hostile file name.
      return i + 1 < s.size() && s.size() - i - 1 <= 18 ? std::stoll(s.substr(i + 1)) : -1LL;
    };
    std::sort(files.begin(), files.end(),
              [&](auto& a, auto& b) { return number(a) != number(b) ? number(a) < number(b) : a < b; });
    if (files.empty()) return error("--calib directory '{}' has no .pb or .npy files", q.calib);
    for (auto& f : files) {
      if ((int64_t)o.calibration.size() >= q.samples) break;
      WEEC_ASSIGN_OR_RETURN(Tensor t, read_tensor_file(f.string()));
      Dims d = t.dims();
      d.insert(d.begin(), 1);
      t.reshape(d);
      WEEC_ASSIGN_OR_RETURN(Tensor x, sample_as_input(t, 0, in));
      o.calibration.push_back({std::move(x)});
    }
  }
  EvalData data;
  if (o.calibration.empty()) {
    WEEC_ASSIGN_OR_RETURN(data, load_eval_data(q.calib, "", "", q.samples));
  }
  parse_calib_method(q.method, o.method);
  o.percentile = q.percentile;
  o.activation_dtype = q.activations == "uint8" ? DType::U8 : DType::I8;
  o.int_io = q.int_io;
  o.weight_bits = q.mode == "int4" ? 4 : 8;
  for (int64_t i = 0; i < data.samples(); ++i) {
    WEEC_ASSIGN_OR_RETURN(Tensor t, sample_as_input(data.inputs, i, in));
    o.calibration.push_back({std::move(t)});
  }
  if (isatty(2))
    o.progress = [](size_t done, size_t total) {
      if (done == total || done % 16 == 0)
        fmt::print(stderr, "\r\033[Kcalibrating: {}/{} sample runs{}", done, total,
                   done == total ? "\n" : "");
    };
  po.quantize = true;
  return Status::ok();
}

}  // namespace weec::cli
