// Models to train from scratch, without an ONNX file.
#pragma once

#include <memory>
#include <string>
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

// A small CNN on [N, in_channels, height, width] images. For each entry k
// of `channels`:
//   Conv 3x3, pads 1, stride 1, k output channels, no bias
//     (the BatchNormalization after it subtracts the batch mean, which
//     cancels a bias, whose gradient would be zero; torchvision omits it too)
//   -> BatchNormalization (epsilon 1e-5, ONNX momentum 0.9 = PyTorch's 0.1)
//   -> Relu -> MaxPool 2x2 stride 2 (floor: odd sizes drop the last row/column)
// then Flatten -> Gemm to `classes` logits (weights [classes, in], transB = 1).
// Initialisation as PyTorch's defaults, from `seed`: Conv and Gemm weights
// (and the Gemm bias) uniform in ±1/sqrt(fan_in), fan_in = in_channels * 3 * 3
// for a Conv; BatchNormalization scale 1, bias 0, running mean 0, var 1.
// Constants are named as a PyTorch state_dict would: conv0.weight,
// bn0.weight, bn0.bias, bn0.running_mean, bn0.running_var, ..., fc.weight,
// fc.bias. input_scale/input_shift and the symbolic batch as for make_mlp.
// Each pool halves the image, so height and width must be at least
// 2^channels.size().
struct CnnSpec {
  int64_t in_channels = 1, height = 0, width = 0;
  std::vector<int64_t> channels;  // output channels of each conv block
  int64_t classes = 0;
  double input_scale = 1.0, input_shift = 0.0;
  uint64_t seed = 0;
};
Expected<std::unique_ptr<Graph>> make_cnn(const CnnSpec& s);

// Parses the --cnn text "CxHxW:K1,K2,...:CLASSES" into the shape fields of
// a CnnSpec (input_scale, input_shift and seed keep their defaults), e.g.
//   1x28x28:8,16:10   1 x 28 x 28 images, conv blocks of 8 and 16 channels,
//                     10 classes (Fashion-MNIST).
// Numbers are positive decimal integers; no spaces. The result passes
// make_cnn's checks (an image too small for its pools is an error here).
Expected<CnnSpec> parse_cnn_spec(const std::string& text);

}  // namespace weec::train
