// SGD with momentum and Adam (optimizer.h), in float like PyTorch's CPU kernels.
#include "train/optimizer.h"

#include <cmath>

namespace weec::train {

Optimizer::Optimizer(const OptimizerOptions& o, const std::vector<Tensor*>& params) : o_(o), params_(params) {
  for (Tensor* p : params_) {
    m_.emplace_back(p->numel(), 0.0f);
    if (o_.kind == OptimizerOptions::Kind::Adam) v_.emplace_back(p->numel(), 0.0f);
  }
}

void Optimizer::step(const std::vector<const Tensor*>& grads) {
  ++t_;
  const float lr = (float)o_.lr, wd = (float)o_.weight_decay, mom = (float)o_.momentum;
  const float b1 = (float)o_.beta1, b2 = (float)o_.beta2, eps = (float)o_.eps;
  const float c1 = 1.0f - std::pow(b1, (float)t_), c2 = 1.0f - std::pow(b2, (float)t_);
  for (size_t k = 0; k < params_.size(); ++k) {
    float* p = params_[k]->data<float>();
    const float* g = grads[k]->data<float>();
    float* m = m_[k].data();
    const int64_t n = params_[k]->numel();
    if (o_.kind == OptimizerOptions::Kind::Sgd) {
      for (int64_t i = 0; i < n; ++i) {
        float d = g[i] + wd * p[i];
        if (mom != 0.0f) d = m[i] = t_ == 1 ? d : mom * m[i] + d;  // PyTorch: the first step sets v = g
        p[i] -= lr * d;
      }
    } else {
      float* v = v_[k].data();
      for (int64_t i = 0; i < n; ++i) {
        const float d = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * d;
        v[i] = b2 * v[i] + (1.0f - b2) * d * d;
        const float denom = std::sqrt(v[i]) / std::sqrt(c2) + eps;
        p[i] -= (lr / c1) * m[i] / denom;
      }
    }
  }
}

}  // namespace weec::train
