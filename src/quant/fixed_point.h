// Integer-only fixed-point arithmetic of quantised inference, exactly as
// gemmlowp and TFLite define it. A real multiplier M (a ratio of scales such
// as S_in * S_w / S_out) is stored as an int32 M0 in [2^30, 2^31) and a
// power-of-two exponent: M ~= M0 * 2^(shift - 31). Applying it to an int32
// accumulator needs only integer multiplies and shifts, so the interpreter's
// integer kernels and the generated C (which gets the same functions as C99
// text, c_helpers_text()) agree bit for bit.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace weec::quant {

// gemmlowp SaturatingRoundingDoublingHighMul: the high 32 bits of 2*a*b,
// rounded to nearest (ties away from zero); INT32_MIN * INT32_MIN, the one
// case that overflows, saturates to INT32_MAX.
int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b);

// gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away
// from zero. exponent in [0, 31].
int32_t rounding_divide_by_pot(int32_t x, int exponent);

// TFLite MultiplyByQuantizedMultiplier: x * M0 * 2^(shift - 31). shift > 0 is
// a left shift of x first (saturating to int32), shift <= 0 a rounding right
// shift after the high multiply. shift in [-31, 30].
int32_t multiply_by_quantized_multiplier(int32_t x, int32_t m0, int shift);

struct QuantizedMultiplier {
  int32_t m0 = 0;  // in [2^30, 2^31), or 0 for M == 0 (and M too small to represent)
  int shift = 0;   // in [-31, 30]
};

// TFLite QuantizeMultiplier: M = q * 2^shift with q in [0.5, 1) (frexp),
// m0 = round(q * 2^31) (ties away from zero). Rounding up to 2^31 renormalises;
// M < 2^-32 (shift below -31) becomes 0; M >= 2^30 saturates to
// (2^31 - 1, 30). Negative, NaN and infinite M are errors.
Expected<QuantizedMultiplier> quantize_multiplier(double m);

// TFLite's rescaling of a quantised Add (the "twice_max_input_scale" form):
// each input offset by its zero point is shifted left by `left_shift` bits,
// scaled by s_in / (2 * max(sa, sb)) (a multiplier <= 1/2), the two summed,
// and the sum scaled by 2 * max(sa, sb) / (2^left_shift * sy):
//   y = y_zp + mbqm(mbqm((a - a_zp) << ls, a_m0, a_shift)
//                 + mbqm((b - b_zp) << ls, b_m0, b_shift), y_m0, y_shift)
// TFLite uses left_shift 20 for 8-bit inputs and 15 for 16-bit ones.
struct QAddParams {
  int left_shift = 20;
  QuantizedMultiplier a, b, y;
};
Expected<QAddParams> qadd_params(double sa, double sb, double sy, int left_shift = 20);

// The same three functions as C99 text: `static` functions weec_srdhm,
// weec_rdbpot and weec_mbqm (same arguments and results as the three above),
// needing only <stdint.h> and no floating point. Generated code registers it
// once under kCHelpersName (CModuleNeeds::helpers).
inline constexpr const char* kCHelpersName = "weec_fixed_point";
const std::string& c_helpers_text();

}  // namespace weec::quant
