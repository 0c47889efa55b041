// Calibration observers: what a float activation took over the calibration
// set, and the clipping range each method derives from it.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ir/tensor.h"
#include "passes/quantize_options.h"

namespace weec {

// Two passes over the data: the first records min/max, the second (only for
// the histogram methods) a histogram over that fixed range.
class RangeObserver {
 public:
  static constexpr int kBins = 2048;

  void observe_range(const Tensor& t);
  void start_histogram();  // after the last observe_range()
  void observe_histogram(const Tensor& t);

  bool seen() const { return seen_; }
  double min() const { return min_; }
  double max() const { return max_; }
  // The clipping range [lo, hi] for `method`, always containing 0 (so zero
  // is exactly representable, as padding and ReLU need).
  std::pair<double, double> range(CalibMethod method, double percentile, int levels) const;

 private:
  double bin_center(int b) const { return min_ + (b + 0.5) * (max_ - min_) / kBins; }
  std::pair<double, double> percentile_range(double percentile) const;
  std::pair<double, double> mse_range(int levels) const;
  // Expected squared error of quantising the histogram to `levels` steps over [lo, hi].
  double quantisation_error(double lo, double hi, int levels) const;

  bool seen_ = false;
  double min_ = 0, max_ = 0;
  std::vector<uint64_t> hist_;
};

// Affine parameters for [lo, hi] on `levels` = 256 steps of an 8-bit type
// whose lowest value is `qmin`: scale and zero point with 0 exact.
AffineParams affine_params(double lo, double hi, int64_t qmin, int64_t qmax);

}  // namespace weec
