// The training step as one IR graph: the model with a fixed batch size, its
// trainable constants turned into inputs, the loss, and the loss's gradient
// with respect to each of them (autodiff/autodiff.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace weec::train {

enum class Loss { CrossEntropy, Mse };

// A trainable tensor of the model: the constant `value` (by name) and its data.
struct Param {
  std::string name;
  Tensor data;
};

// Which float constants of `model` are trained: weights and biases of Gemm,
// MatMul, Conv and ConvTranspose (inputs 1 and 2), BatchNormalization's
// scale and bias, and the bias added right after a MatMul or Conv. Other
// constants (a preprocessing scale, say) stay fixed.
// A weight behind a FakeQuantize (quantisation-aware training) counts as
// the weight. `extra` names more constants to train (LSQ step sizes).
std::vector<Param> trainable_params(const Graph& model, const std::vector<std::string>& extra = {});

// Constants fed to each step as inputs but not differentiated, by name:
// state the trainer updates between steps (QAT's weight scales).
std::vector<Param> named_constants(const Graph& model, const std::vector<std::string>& names);

// BatchNormalization running statistics (mean, var inputs): state the step
// updates (outputs running_mean/running_var) but does not differentiate.
std::vector<Param> bn_state(const Graph& model);

// The step graph. Inputs, in order: x [batch, ...], each param (with
// `extra_params`), each state tensor, each `fed` constant, then the target (labels [batch] int64 for cross
// entropy, or a tensor shaped as the model's output for MSE). Outputs: loss (scalar), the model's output, the
// gradient of each param, the updated state.
struct StepGraph {
  std::unique_ptr<Graph> g;
  size_t params = 0, state = 0, fed = 0;
};
struct StepExtras {
  std::vector<std::string> params, fed;
};
Expected<StepGraph> build_step_graph(const Graph& model, int64_t batch, Loss loss,
                                     const StepExtras& extras = {});

}  // namespace weec::train
