#include "io/compare.h"

#include <fmt/format.h>

#include <cmath>

namespace weec {

Comparison compare_tensors(const Tensor& got, const Tensor& want, const Tolerance& tol) {
  Comparison r;
  if (got.dtype() != want.dtype()) {
    r.mismatch = fmt::format("dtype {} != expected {}", dtype_name(got.dtype()), dtype_name(want.dtype()));
    return r;
  }
  if (got.dims() != want.dims()) {
    r.mismatch = fmt::format("shape {} != expected {}", dims_str(got.dims()), dims_str(want.dims()));
    return r;
  }
  if (got.dtype() == DType::String) {
    for (int64_t i = 0; i < got.numel(); ++i)
      if (got.strings()[i] != want.strings()[i]) {
        if (r.differing++ == 0)
          r.mismatch =
              fmt::format("element {}: \"{}\" != expected \"{}\"", i, got.strings()[i], want.strings()[i]);
      }
    return r;
  }
  bool fp = is_float(got.dtype());
  int64_t first = -1;
  for (int64_t i = 0; i < got.numel(); ++i) {
    bool ok;
    if (fp) {
      double g = got.get_double(i), w = want.get_double(i);
      if (std::isnan(w) || std::isnan(g)) {
        ok = std::isnan(w) && std::isnan(g);
      } else if (std::isinf(w) || std::isinf(g)) {
        ok = g == w;
      } else {
        double err = std::fabs(g - w);
        r.max_abs_error = std::max(r.max_abs_error, err);
        ok = err <= tol.atol + tol.rtol * std::fabs(w);
      }
    } else {
      ok = got.get_int(i) == want.get_int(i) &&
           (got.dtype() != DType::U64 || got.data<uint64_t>()[i] == want.data<uint64_t>()[i]);
    }
    if (!ok && r.differing++ == 0) first = i;
  }
  if (r.differing == 0) return r;
  if (fp)
    r.mismatch = fmt::format("{} of {} values differ (first at {}: {} vs expected {}; max abs error {:.3g})",
                             r.differing, got.numel(), first, got.get_double(first), want.get_double(first),
                             r.max_abs_error);
  else
    r.mismatch = fmt::format("{} of {} values differ (first at {}: {} vs expected {})", r.differing,
                             got.numel(), first, got.get_int(first), want.get_int(first));
  return r;
}

}  // namespace weec
