// make_mlp (presets.h).
#include "train/presets.h"

#include <cmath>
#include <random>

#include "ops/registry.h"

namespace weec::train {

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
  Shape in;
  in.rank_known = true;
  in.dims = {Dim::named("N"), Dim::known(s.sizes[0])};
  Value* x = b.input("input", TensorType{DType::F32, in});
  if (s.input_scale != 1.0) {
    Tensor c(DType::F32, {});
    c.set_double(0, s.input_scale);
    x = b.op(OpKind::Mul, {x, b.constant("input_scale", std::move(c))});
  }
  if (s.input_shift != 0.0) {
    Tensor c(DType::F32, {});
    c.set_double(0, s.input_shift);
    x = b.op(OpKind::Add, {x, b.constant("input_shift", std::move(c))});
  }
  std::mt19937_64 rng(s.seed);
  for (size_t l = 0; l + 1 < s.sizes.size(); ++l) {
    const int64_t fan_in = s.sizes[l], out = s.sizes[l + 1];
    const double bound = 1.0 / std::sqrt((double)fan_in);
    std::uniform_real_distribution<double> u(-bound, bound);
    Tensor w(DType::F32, {out, fan_in}), bias(DType::F32, {out});
    for (int64_t i = 0; i < w.numel(); ++i) w.set_double(i, u(rng));
    for (int64_t i = 0; i < out; ++i) bias.set_double(i, u(rng));
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

}  // namespace weec::train
