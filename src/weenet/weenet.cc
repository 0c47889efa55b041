// WeeNet kinds: what each draws, the inputs and calibration data.
#include "weenet/weenet.h"

#include "weenet/generator.h"

namespace weec::weenet {

namespace {

constexpr Kind kKinds[] = {Kind::Conv, Kind::Op, Kind::Chain, Kind::Residual};

// An input for the kind: NCHW or NCL for convolutional nets, [M, K] sometimes for chains and ops.
Dims input_dims(Generator& gen, Kind kind, bool int8) {
  const int64_t n = gen.rng.coin(0.75) ? 1 : gen.rng.uniform(2, 3);
  const double r = gen.rng.real(0, 1);
  if (kind != Kind::Conv && kind != Kind::Residual && r < 0.2) return {n, gen.small_dim(64)};
  const int64_t c = gen.small_dim(int8 ? 16 : 8);
  if (r < 0.4) return {n, c, gen.small_dim(32)};
  return {n, c, gen.small_dim(13), gen.small_dim(13)};
}

Value* single_op(Generator& gen, Value* x) {
  using Family = Value* (Generator::*)(Value*);
  std::vector<Family> fam = {&Generator::pool,         &Generator::global_pool,  &Generator::activation,
                             &Generator::binary_const, &Generator::reshape_like, &Generator::gemm,
                             &Generator::matmul};
  fam.insert(fam.end(),
             {&Generator::conv_transpose, &Generator::batchnorm, &Generator::reduce, &Generator::softmax});
  for (int attempt = 0; attempt < 40; ++attempt)
    if (Value* y = (gen.*gen.rng.pick(fam))(x)) return y;
  return nullptr;
}

}  // namespace

Expected<Kind> parse_kind(const std::string& name) {
  for (Kind k : {Kind::Conv, Kind::Op, Kind::Chain, Kind::Residual, Kind::Any})
    if (name == kind_name(k)) return k;
  return error("unknown WeeNet kind '{}' (conv, op, chain, residual or any)", name);
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Conv:
      return "conv";
    case Kind::Op:
      return "op";
    case Kind::Chain:
      return "chain";
    case Kind::Residual:
      return "residual";
    case Kind::Any:
      return "any";
  }
  return "?";
}

Expected<WeeNet> generate(uint64_t seed, const Spec& spec_in) {
  Spec spec = spec_in;
  WeeNet net;
  net.graph = std::make_unique<Graph>();
  net.graph->name = fmt::format("weenet_{}", seed);
  Generator gen(seed, spec, *net.graph);
  net.kind = spec.kind == Kind::Any ? kKinds[gen.rng.uniform(0, 3)] : spec.kind;
  // Int8 ops-only nets draw from the int8 families (single_op is float-only).
  if (spec.int8 && net.kind == Kind::Op) net.kind = Kind::Chain;
  const Dims in = input_dims(gen, net.kind, spec.int8);
  Value* x = gen.input(in);
  Value* y = nullptr;
  switch (net.kind) {
    case Kind::Conv:
      for (int attempt = 0; attempt < 40 && !y; ++attempt) y = gen.conv(x);
      break;
    case Kind::Op:
      y = single_op(gen, x);
      break;
    case Kind::Chain: {
      const int64_t layers = gen.rng.uniform(2, 8);
      y = x;
      for (int64_t i = 0; i < layers && y; ++i)
        if (Value* next = gen.any_layer(y)) y = next;
      break;
    }
    case Kind::Residual: {
      y = x;
      const int64_t blocks = gen.rng.uniform(1, 3);
      for (int64_t i = 0; i < blocks && y; ++i) {
        Value* next = gen.rng.coin(0.6) ? gen.residual_add(y) : gen.concat_branches(y);
        if (!next) next = gen.residual_add(y);
        if (next) y = next;
        if (gen.rng.coin(0.5))
          if (Value* z = gen.any_layer(y)) y = z;
      }
      break;
    }
    case Kind::Any:
      break;
  }
  WEEC_TRY(gen.status());
  if (!y || y == x)
    return error("weenet seed {}: no layer could be drawn for input [{}]", seed, fmt::join(in, ","));
  net.graph->outputs.push_back(y);
  net.layers = std::move(gen.log);
  // Inputs uniform in [-1, 1]; int8 calibration: 16 more samples.
  auto sample = [&] {
    Tensor t(DType::F32, in);
    for (int64_t i = 0; i < t.numel(); ++i) t.set_double(i, gen.rng.real(-1, 1));
    return t;
  };
  net.feeds.push_back(sample());
  if (spec.int8)
    for (int i = 0; i < 16; ++i) net.calib.push_back({sample()});
  return net;
}

std::string describe(uint64_t seed, const WeeNet& net) {
  const Value* x = net.graph->inputs.empty() ? nullptr : net.graph->inputs[0];
  return fmt::format("seed {} ({}{}) input {}: {}", seed, kind_name(net.kind),
                     net.calib.empty() ? "" : ", int8", x ? dims_text(dims_of(x)) : "?",
                     fmt::join(net.layers, "; "));
}

}  // namespace weec::weenet
