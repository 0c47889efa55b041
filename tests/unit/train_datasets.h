// Synthetic datasets whose answer is known, shared by the training tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>

#include "train/trainer.h"

namespace weec::train {

// Points in the plane, class = which third of the circle their angle is in.
inline Dataset angles(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0, 1);
  Dataset d{Tensor(DType::F32, {n, 2}), Tensor(DType::I64, {n})};
  for (int64_t i = 0; i < n; ++i) {
    const float x = nd(rng), y = nd(rng);
    d.x.data<float>()[2 * i] = x, d.x.data<float>()[2 * i + 1] = y;
    const double a = std::atan2(y, x) + M_PI;
    d.y.data<int64_t>()[i] = std::min<int64_t>(2, (int64_t)(a / (2 * M_PI / 3)));
  }
  return d;
}

}  // namespace weec::train
