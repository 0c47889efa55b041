#include "ir/dtype.h"

#include <cmath>
#include <cstring>

namespace weec {

std::string_view dtype_name(DType t) {
  switch (t) {
#define X(e, n, s) \
  case DType::e:   \
    return n;
    WEEC_DTYPES(X)
#undef X
  }
  return "?";
}

std::optional<DType> dtype_from_name(std::string_view name) {
#define X(e, n, s) \
  if (name == n) return DType::e;
  WEEC_DTYPES(X)
#undef X
  return std::nullopt;
}

size_t dtype_size(DType t) {
  switch (t) {
#define X(e, n, s) \
  case DType::e:   \
    return s;
    WEEC_DTYPES(X)
#undef X
  }
  return 0;
}

bool is_float(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16; }
bool is_integer(DType t) {
  switch (t) {
    case DType::I8:
    case DType::U8:
    case DType::I16:
    case DType::U16:
    case DType::I32:
    case DType::U32:
    case DType::I64:
    case DType::U64:
      return true;
    default:
      return false;
  }
}
bool is_signed(DType t) {
  return is_float(t) || t == DType::I8 || t == DType::I16 || t == DType::I32 || t == DType::I64;
}

float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: value = man * 2^-24
      float f = std::ldexp((float)man, -24);
      std::memcpy(&bits, &f, 4);
      bits |= sign;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  }
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint16_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffff;
  if (absx >= 0x7f800000u) {  // inf or nan
    return sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0);
  }
  if (absx >= 0x477ff000u) return sign | 0x7c00;  // rounds to inf
  if (absx < 0x38800000u) {                       // subnormal half (or zero)
    // Scale to units of 2^-24 and round half to even.
    float a;
    std::memcpy(&a, &absx, 4);
    float scaled = a * 16777216.0f;    // exact: power of two
    float r = std::nearbyint(scaled);  // default rounding mode: nearest even
    return sign | (uint16_t)r;
  }
  uint32_t mant = absx & 0x7fffff;
  uint32_t exp = (absx >> 23) - 112;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;  // may carry into exp: correct
  return sign | (uint16_t)h;
}

float bfloat16_to_float(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

uint16_t float_to_bfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);  // quiet nan
  uint32_t rounding = 0x7fff + ((x >> 16) & 1);
  return (uint16_t)((x + rounding) >> 16);
}

}  // namespace weec
