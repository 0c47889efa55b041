// WeeNets: the smallest networks that show one behaviour, generated from a
// seed. A WeeNet of kind `conv` is a single Conv whose every attribute is
// drawn (1-D or 2-D, groups incl. depthwise, dilation, asymmetric pads,
// auto_pad); `op` is one other layer (ConvTranspose, Gemm/MatMul with
// transposes and broadcasting, pools, broadcasting elementwise ops,
// reductions, reshape-like ops, BatchNorm, activations, Softmax); `chain`
// is 2-8 layers in a row; `residual` adds skip connections (Add) and
// channel Concat branches. Shapes favour 1s, primes and sizes that are not
// multiples of a vector width. With int8 the layers are those the int8
// pipeline quantises, and calibration inputs come with the net.
//
// The same (seed, spec) always gives the same net, on every machine: the
// generator draws from its own 64-bit PRNG, never from std distributions
// (their output is implementation-defined).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace weec::weenet {

enum class Kind { Conv, Op, Chain, Residual, Any };

// "conv", "op", "chain", "residual", "any".
Expected<Kind> parse_kind(const std::string& name);
const char* kind_name(Kind k);

struct Spec {
  Kind kind = Kind::Any;
  bool int8 = false;
  // No tensor of the net has more elements than this (keeps a seed's run short).
  int64_t max_elements = 6000;
};

struct WeeNet {
  std::unique_ptr<Graph> graph;            // float, static shapes, types inferred
  Kind kind = Kind::Conv;                  // what was drawn (never Any)
  std::vector<std::string> layers;         // one line per layer: op and attributes
  std::vector<Tensor> feeds;               // one random input per graph input
  std::vector<std::vector<Tensor>> calib;  // int8 only: calibration samples (one input vector each)
};

Expected<WeeNet> generate(uint64_t seed, const Spec& spec);

// "seed 7 (chain, int8): conv2d ...; relu; ..." for logs and test names.
std::string describe(uint64_t seed, const WeeNet& net);

}  // namespace weec::weenet
