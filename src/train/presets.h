// Models to train from scratch, without an ONNX file.
#pragma once

#include <memory>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace weec::train {

// An MLP: sizes = {inputs, hidden..., outputs}; Gemm layers (weights
// [out, in], transB = 1, as PyTorch's nn.Linear exports), `act` between
// them (Relu, Tanh or Sigmoid), none after the last. Weights and biases
// start as nn.Linear's: uniform in ±1/sqrt(fan_in), from `seed`. The input
// goes through x * input_scale + input_shift first (when not 1 and 0): the
// model then takes the data as the file holds it (raw pixel values, say).
// The batch axis is symbolic ("N").
struct MlpSpec {
  std::vector<int64_t> sizes;
  OpKind act = OpKind::Relu;
  double input_scale = 1.0, input_shift = 0.0;
  uint64_t seed = 0;
};
Expected<std::unique_ptr<Graph>> make_mlp(const MlpSpec& s);

}  // namespace weec::train
