#include "passes/range_observer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace weec {

std::string_view calib_method_name(CalibMethod m) {
  switch (m) {
    case CalibMethod::MinMax:
      return "minmax";
    case CalibMethod::Percentile:
      return "percentile";
    case CalibMethod::Mse:
      return "mse";
  }
  return "?";
}

bool parse_calib_method(std::string_view s, CalibMethod& out) {
  for (CalibMethod m : {CalibMethod::MinMax, CalibMethod::Percentile, CalibMethod::Mse})
    if (calib_method_name(m) == s) {
      out = m;
      return true;
    }
  return false;
}

void RangeObserver::observe_range(const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.get_double(i);
    if (!std::isfinite(v)) continue;  // a NaN or inf says nothing about the range
    if (!seen_) {
      min_ = max_ = v;
      seen_ = true;
    }
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }
}

void RangeObserver::start_histogram() { hist_.assign(kBins, 0); }

void RangeObserver::observe_histogram(const Tensor& t) {
  if (hist_.empty() || max_ <= min_) return;
  double width = (max_ - min_) / kBins;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.get_double(i);
    if (!std::isfinite(v)) continue;
    int b = (int)std::floor((v - min_) / width);
    ++hist_[std::clamp(b, 0, kBins - 1)];
  }
}

std::pair<double, double> RangeObserver::range(CalibMethod method, double percentile, int levels) const {
  std::pair<double, double> r{min_, max_};
  if (!hist_.empty() && max_ > min_) {
    if (method == CalibMethod::Percentile) r = percentile_range(percentile);
    if (method == CalibMethod::Mse) r = mse_range(levels);
  }
  return {std::min(r.first, 0.0), std::max(r.second, 0.0)};
}

std::pair<double, double> RangeObserver::percentile_range(double percentile) const {
  uint64_t total = 0;
  for (uint64_t c : hist_) total += c;
  if (total == 0) return {min_, max_};
  double tail = total * (100.0 - std::clamp(percentile, 50.0, 100.0)) / 100.0;
  double width = (max_ - min_) / kBins;
  // Lowest bin edge whose cumulative count from below exceeds the tail, and
  // the mirror from above.
  double below = 0, lo = min_, hi = max_;
  for (int b = 0; b < kBins; ++b) {
    below += hist_[b];
    if (below > tail) {
      lo = min_ + b * width;
      break;
    }
  }
  double above = 0;
  for (int b = kBins - 1; b >= 0; --b) {
    above += hist_[b];
    if (above > tail) {
      hi = min_ + (b + 1) * width;
      break;
    }
  }
  return {lo, hi};
}

double RangeObserver::quantisation_error(double lo, double hi, int levels) const {
  double step = (hi - lo) / (levels - 1);
  double err = 0;
  for (int b = 0; b < kBins; ++b) {
    if (!hist_[b]) continue;
    double c = bin_center(b);
    double e = c < lo ? (lo - c) * (lo - c) : c > hi ? (c - hi) * (c - hi) : step * step / 12;
    err += e * hist_[b];
  }
  return err;
}

std::pair<double, double> RangeObserver::mse_range(int levels) const {
  // Shrink each end independently towards 0 on a grid; keep the best pair.
  double lo0 = std::min(min_, 0.0), hi0 = std::max(max_, 0.0);
  double best = std::numeric_limits<double>::infinity();
  std::pair<double, double> r{lo0, hi0};
  for (int i = 0; i <= 40; ++i)
    for (int j = 0; j <= 40; ++j) {
      double lo = lo0 * (1 - 0.02 * i), hi = hi0 * (1 - 0.02 * j);
      if (hi - lo <= 0) continue;
      double e = quantisation_error(lo, hi, levels);
      if (e < best) {
        best = e;
        r = {lo, hi};
      }
    }
  return r;
}

AffineParams affine_params(double lo, double hi, int64_t qmin, int64_t qmax) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  AffineParams p;
  if (hi - lo <= 0) return p;  // an all-zero tensor: any scale is exact
  p.scale = (hi - lo) / (double)(qmax - qmin);
  p.zero_point = std::clamp<int64_t>((int64_t)std::llround(qmin - lo / p.scale), qmin, qmax);
  return p;
}

}  // namespace weec
