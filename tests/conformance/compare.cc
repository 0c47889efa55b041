#include "compare.h"

#include <fmt/format.h>

#include <cmath>

namespace weec {

std::string compare_tensors(const Tensor& got, const Tensor& want, const Tolerance& tol) {
  if (got.dtype() != want.dtype())
    return fmt::format("dtype {} != expected {}", dtype_name(got.dtype()), dtype_name(want.dtype()));
  if (got.dims() != want.dims())
    return fmt::format("shape {} != expected {}", dims_str(got.dims()), dims_str(want.dims()));
  if (got.dtype() == DType::String) {
    for (int64_t i = 0; i < got.numel(); ++i)
      if (got.strings()[i] != want.strings()[i])
        return fmt::format("element {}: \"{}\" != expected \"{}\"", i, got.strings()[i], want.strings()[i]);
    return {};
  }
  bool fp = is_float(got.dtype());
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    bool ok;
    if (fp) {
      double g = got.get_double(i), w = want.get_double(i);
      if (std::isnan(w) || std::isnan(g))
        ok = std::isnan(w) && std::isnan(g);
      else if (std::isinf(w) || std::isinf(g))
        ok = g == w;
      else {
        double err = std::fabs(g - w);
        ok = err <= tol.atol + tol.rtol * std::fabs(w);
        if (!ok) worst = std::max(worst, err);
      }
    } else {
      ok = got.get_int(i) == want.get_int(i) &&
           (got.dtype() != DType::U64 || got.data<uint64_t>()[i] == want.data<uint64_t>()[i]);
    }
    if (!ok) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  if (bad == 0) return {};
  if (fp)
    return fmt::format("{} of {} values differ (first at {}: {} vs expected {}; max abs error {:.3g})", bad,
                       got.numel(), first, got.get_double(first), want.get_double(first), worst);
  return fmt::format("{} of {} values differ (first at {}: {} vs expected {})", bad, got.numel(), first,
                     got.get_int(first), want.get_int(first));
}

}  // namespace weec
