// make_mlp, make_cnn and parse_cnn_spec (presets.h).
#include "train/presets.h"

#include <charconv>
#include <cmath>
#include <random>
#include <string_view>

#include "ops/registry.h"

namespace weec::train {

namespace {

// x * scale + shift, each op only when it changes something.
Value* input_affine(Builder& b, Value* x, double scale, double shift) {
  if (scale != 1.0) {
    Tensor c(DType::F32, {});
    c.set_double(0, scale);
    x = b.op(OpKind::Mul, {x, b.constant("input_scale", std::move(c))});
  }
  if (shift != 0.0) {
    Tensor c(DType::F32, {});
    c.set_double(0, shift);
    x = b.op(OpKind::Add, {x, b.constant("input_shift", std::move(c))});
  }
  return x;
}

// PyTorch's default for nn.Linear and nn.Conv2d (kaiming_uniform_ with
// a = sqrt(5) for the weight, and the bias) is uniform in ±1/sqrt(fan_in).
Tensor uniform(const Dims& d, int64_t fan_in, std::mt19937_64& rng) {
  const double bound = 1.0 / std::sqrt((double)fan_in);
  std::uniform_real_distribution<double> u(-bound, bound);
  Tensor t(DType::F32, d);
  for (int64_t i = 0; i < t.numel(); ++i) t.set_double(i, u(rng));
  return t;
}

Tensor filled(int64_t n, double v) {
  Tensor t(DType::F32, {n});
  for (int64_t i = 0; i < n; ++i) t.set_double(i, v);
  return t;
}

Value* batch_input(Builder& b, Dims sample) {
  Shape in;
  in.rank_known = true;
  in.dims = {Dim::named("N")};
  for (int64_t d : sample) in.dims.push_back(Dim::known(d));
  return b.input("input", TensorType{DType::F32, in});
}

// The sizes make_cnn accepts; parse_cnn_spec reports the same errors early.
// Limits keep every count (activations of a sample, weights) far from
// overflow and allocations sane.
Status check_cnn(const CnnSpec& s) {
  const int64_t kMaxDim = 1 << 16, kMaxChannels = 1 << 12, kMaxClasses = 1 << 20;
  if (s.in_channels < 1 || s.in_channels > kMaxChannels || s.height < 1 || s.height > kMaxDim ||
      s.width < 1 || s.width > kMaxDim)
    return error("--cnn: input {}x{}x{} is out of range (CxHxW, C <= {}, H and W <= {})", s.in_channels,
                 s.height, s.width, kMaxChannels, kMaxDim);
  if (s.channels.empty()) return error("--cnn needs at least one conv layer, e.g. 1x28x28:8,16:10");
  for (int64_t k : s.channels)
    if (k < 1 || k > kMaxChannels)
      return error("--cnn: conv channels {} is out of range (1 to {})", k, kMaxChannels);
  if (s.classes < 1 || s.classes > kMaxClasses)
    return error("--cnn: {} classes is out of range (1 to {})", s.classes, kMaxClasses);
  // Each 2x2 pool floors the size to half; a 1-pixel side would pool to 0.
  int64_t h = s.height, w = s.width, layers = 0;
  for (; h >= 2 && w >= 2; h /= 2, w /= 2) ++layers;
  if ((int64_t)s.channels.size() > layers)
    return error("--cnn: a {}x{} image allows at most {} conv layers (each 2x2 pool halves it), not {}",
                 s.height, s.width, layers, s.channels.size());
  h = s.height >> s.channels.size(), w = s.width >> s.channels.size();
  if ((double)s.channels.back() * (double)(h * w) * (double)s.classes > (double)(1 << 28))
    return error("--cnn: the last layer would have {} x {} weights; too many", s.classes,
                 s.channels.back() * h * w);
  return Status::ok();
}

// A positive decimal integer, all of `t`.
bool parse_positive(std::string_view t, int64_t& v) {
  if (t.empty() || t[0] == '+' || t[0] == '-') return false;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  return ec == std::errc() && end == t.data() + t.size() && v > 0;
}

std::vector<std::string_view> split(std::string_view t, char sep) {
  std::vector<std::string_view> out;
  for (size_t at = 0;;) {
    const size_t next = t.find(sep, at);
    out.push_back(t.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
    if (next == std::string_view::npos) return out;
    at = next + 1;
  }
}

}  // namespace

Expected<std::unique_ptr<Graph>> make_mlp(const MlpSpec& s) {
  if (s.sizes.size() < 2)
    return Status::error("--mlp needs at least an input and an output size, e.g. 784,128,10");
  for (int64_t d : s.sizes)
    if (d < 1 || d > (1 << 20)) return Status::error(fmt::format("--mlp: layer size {} is out of range", d));
  if (s.act != OpKind::Relu && s.act != OpKind::Tanh && s.act != OpKind::Sigmoid)
    return Status::error("--act must be relu, tanh or sigmoid");
  auto g = std::make_unique<Graph>();
  g->name = "mlp";
  Builder b(*g, infer_node);
  Value* x = input_affine(b, batch_input(b, {s.sizes[0]}), s.input_scale, s.input_shift);
  std::mt19937_64 rng(s.seed);
  for (size_t l = 0; l + 1 < s.sizes.size(); ++l) {
    const int64_t fan_in = s.sizes[l], out = s.sizes[l + 1];
    Tensor w = uniform({out, fan_in}, fan_in, rng);
    Tensor bias = uniform({out}, fan_in, rng);
    const std::string n = std::to_string(l);
    x = b.op(
        OpKind::Gemm,
        {x, b.constant("fc" + n + ".weight", std::move(w)), b.constant("fc" + n + ".bias", std::move(bias))},
        {{"transB", Attribute::of_int(1)}});
    if (l + 2 < s.sizes.size()) x = b.op(s.act, {x});
  }
  WEEC_TRY(b.status());
  x->name = g->unique_name("output");
  b.output(x);
  return g;
}

Expected<std::unique_ptr<Graph>> make_cnn(const CnnSpec& s) {
  WEEC_TRY(check_cnn(s));
  auto g = std::make_unique<Graph>();
  g->name = "cnn";
  Builder b(*g, infer_node);
  Value* x =
      input_affine(b, batch_input(b, {s.in_channels, s.height, s.width}), s.input_scale, s.input_shift);
  std::mt19937_64 rng(s.seed);
  int64_t c = s.in_channels, h = s.height, w = s.width;
  for (size_t l = 0; l < s.channels.size(); ++l) {
    const int64_t k = s.channels[l];
    const std::string n = std::to_string(l);
    x = b.op(OpKind::Conv, {x, b.constant("conv" + n + ".weight", uniform({k, c, 3, 3}, c * 9, rng))},
             {{"kernel_shape", Attribute::of_ints({3, 3})}, {"pads", Attribute::of_ints({1, 1, 1, 1})}});
    // ONNX blends running = running * momentum + batch * (1 - momentum):
    // PyTorch's momentum 0.1 is 0.9 here (torch.onnx exports it so).
    x = b.op(OpKind::BatchNormalization,
             {x, b.constant("bn" + n + ".weight", filled(k, 1)), b.constant("bn" + n + ".bias", filled(k, 0)),
              b.constant("bn" + n + ".running_mean", filled(k, 0)),
              b.constant("bn" + n + ".running_var", filled(k, 1))},
             {{"epsilon", Attribute::of_float(1e-5f)}, {"momentum", Attribute::of_float(0.9f)}});
    x = b.op(OpKind::Relu, {x});
    x = b.op(OpKind::MaxPool, {x},
             {{"kernel_shape", Attribute::of_ints({2, 2})}, {"strides", Attribute::of_ints({2, 2})}});
    c = k, h /= 2, w /= 2;
  }
  x = b.op(OpKind::Flatten, {x}, {{"axis", Attribute::of_int(1)}});
  const int64_t fan_in = c * h * w;
  Tensor fw = uniform({s.classes, fan_in}, fan_in, rng);
  Tensor fb = uniform({s.classes}, fan_in, rng);
  x = b.op(OpKind::Gemm, {x, b.constant("fc.weight", std::move(fw)), b.constant("fc.bias", std::move(fb))},
           {{"transB", Attribute::of_int(1)}});
  WEEC_TRY(b.status());
  x->name = g->unique_name("output");
  b.output(x);
  return g;
}

Expected<CnnSpec> parse_cnn_spec(const std::string& text) {
  const std::string example = "e.g. 1x28x28:8,16:10 (CxHxW input : conv channels : classes)";
  const std::vector<std::string_view> parts = split(text, ':');
  if (parts.size() != 3) return error("--cnn '{}': expected INPUT:CHANNELS:CLASSES, {}", text, example);
  CnnSpec s;
  const std::vector<std::string_view> in = split(parts[0], 'x');
  if (in.size() != 3 || !parse_positive(in[0], s.in_channels) || !parse_positive(in[1], s.height) ||
      !parse_positive(in[2], s.width))
    return error("--cnn '{}': the input '{}' is not CxHxW with positive integers, {}", text, parts[0],
                 example);
  for (std::string_view k : split(parts[1], ',')) {
    int64_t v = 0;
    if (!parse_positive(k, v))
      return error("--cnn '{}': '{}' is not a channel count (a positive integer), {}", text, k, example);
    s.channels.push_back(v);
  }
  if (!parse_positive(parts[2], s.classes))
    return error("--cnn '{}': '{}' is not a number of classes (a positive integer), {}", text, parts[2],
                 example);
  WEEC_TRY(check_cnn(s));
  return s;
}

}  // namespace weec::train
