#include "quant/fixed_point.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace weec::quant {

namespace {
constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
}  // namespace

int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == kMin && b == kMin) return kMax;
  const int64_t ab = (int64_t)a * (int64_t)b;
  // Adding the nudge then truncating the division rounds to nearest.
  const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : 1 - (int64_t{1} << 30);
  return (int32_t)((ab + nudge) / (int64_t{1} << 31));
}

int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(0x7fffffffu >> (31 - exponent));  // 2^exponent - 1
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t multiply_by_quantized_multiplier(int32_t x, int32_t m0, int shift) {
  if (shift > 0) {
    const int64_t v = (int64_t)x * (int64_t{1} << shift);
    const int32_t sx = v > kMax ? kMax : v < kMin ? kMin : (int32_t)v;
    return saturating_rounding_doubling_high_mul(sx, m0);
  }
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, m0), -shift);
}

Expected<QuantizedMultiplier> quantize_multiplier(double m) {
  if (!std::isfinite(m) || m < 0)
    return error("a quantised multiplier must be finite and non-negative, got {}", m);
  if (m == 0) return QuantizedMultiplier{0, 0};
  int shift = 0;
  const double q = std::frexp(m, &shift);  // m = q * 2^shift, q in [0.5, 1)
  int64_t m0 = (int64_t)std::round(q * (double)(int64_t{1} << 31));
  if (m0 == (int64_t{1} << 31)) {  // q rounded up to 1
    m0 /= 2;
    ++shift;
  }
  if (shift < -31) return QuantizedMultiplier{0, 0};  // below 2^-32: rounds to nothing useful
  if (shift > 30) return QuantizedMultiplier{kMax, 30};
  return QuantizedMultiplier{(int32_t)m0, shift};
}

Expected<QAddParams> qadd_params(double sa, double sb, double sy, int left_shift) {
  for (double s : {sa, sb, sy})
    if (!std::isfinite(s) || s <= 0) return error("Add scales must be finite and positive, got {}", s);
  if (left_shift < 0 || left_shift > 30)
    return error("Add left_shift must be in [0, 30], got {}", left_shift);
  const double twice_max = 2 * std::max(sa, sb);
  QAddParams p;
  p.left_shift = left_shift;
  WEEC_ASSIGN_OR_RETURN(p.a, quantize_multiplier(sa / twice_max));
  WEEC_ASSIGN_OR_RETURN(p.b, quantize_multiplier(sb / twice_max));
  WEEC_ASSIGN_OR_RETURN(p.y, quantize_multiplier(twice_max / (std::ldexp(1.0, left_shift) * sy)));
  return p;
}

const std::string& c_helpers_text() {
  // C99 without floating point; int64_t products only (a Cortex-M0 calls
  // __aeabi_lmul for them, and nothing else: masks and powers of two are
  // 32-bit shifts). Signed >> is arithmetic on every target weec
  // supports (gcc, clang, arm-none-eabi-gcc); left shifts of negative values,
  // undefined in C, are written as multiplications.
  static const std::string text = R"(static int32_t weec_srdhm(int32_t a, int32_t b) {
  int64_t ab;
  int64_t nudge;
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  ab = (int64_t)a * (int64_t)b;
  nudge = ab >= 0 ? ((int64_t)1 << 30) : 1 - ((int64_t)1 << 30);
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static int32_t weec_rdbpot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)(0x7fffffffu >> (31 - exponent)); /* 2^exponent - 1 */
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static int32_t weec_mbqm(int32_t x, int32_t m0, int32_t shift) {
  if (shift > 0) {
    const int64_t v = (int64_t)x * (int64_t)((uint32_t)1 << shift);
    return weec_srdhm(v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v, m0);
  }
  return weec_rdbpot(weec_srdhm(x, m0), -shift);
}
)";
  return text;
}

}  // namespace weec::quant
