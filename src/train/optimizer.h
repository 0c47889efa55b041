// Parameter updates on the host, with PyTorch's semantics (torch.optim.SGD
// and Adam, weight decay added to the gradient), so a run can be repeated
// in PyTorch step for step.
#pragma once

#include <vector>

#include "ir/tensor.h"

namespace weec::train {

struct OptimizerOptions {
  enum class Kind { Sgd, Adam } kind = Kind::Sgd;
  double lr = 0.01;
  double momentum = 0.0;                          // SGD: v = momentum * v + g; p -= lr * v
  double weight_decay = 0.0;                      // g += weight_decay * p
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam
};

class Optimizer {
 public:
  // One slot of state per parameter, shaped as `params` (f32).
  Optimizer(const OptimizerOptions& o, const std::vector<Tensor*>& params);
  // Applies one step with `grads` (same order and shapes as the params).
  void step(const std::vector<const Tensor*>& grads);
  // For a schedule: the learning rate of the following steps.
  void set_lr(double lr) { o_.lr = lr; }

 private:
  OptimizerOptions o_;
  std::vector<Tensor*> params_;
  std::vector<std::vector<float>> m_, v_;
  int64_t t_ = 0;
};

}  // namespace weec::train
