// Element types of tensors. The short names ("f32", "i64", ...) are what the
// text IR prints; ONNX's TensorProto codes are mapped in the front end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace weec {

// X-macro: enum name, text-IR name, byte size.
#define WEEC_DTYPES(X) \
  X(F32, "f32", 4)     \
  X(F64, "f64", 8)     \
  X(F16, "f16", 2)     \
  X(BF16, "bf16", 2)   \
  X(I8, "i8", 1)       \
  X(U8, "u8", 1)       \
  X(I16, "i16", 2)     \
  X(U16, "u16", 2)     \
  X(I32, "i32", 4)     \
  X(U32, "u32", 4)     \
  X(I64, "i64", 8)     \
  X(U64, "u64", 8)     \
  X(Bool, "bool", 1)   \
  X(String, "str", 0)

enum class DType : uint8_t {
#define X(e, n, s) e,
  WEEC_DTYPES(X)
#undef X
};

std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);
// Bytes per element; 0 for String (stored out of line).
size_t dtype_size(DType t);
bool is_float(DType t);    // f16, bf16, f32, f64
bool is_integer(DType t);  // signed or unsigned integers, not bool
bool is_signed(DType t);   // signed ints and floats

// C++ storage type for each dtype; f16/bf16 are stored as raw bits.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};
float half_to_float(uint16_t bits);
uint16_t float_to_half(float f);  // round to nearest even, like numpy
float bfloat16_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float f);  // round to nearest even

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::F64;
}
template <>
constexpr DType dtype_of<Half>() {
  return DType::F16;
}
template <>
constexpr DType dtype_of<BFloat16>() {
  return DType::BF16;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::I8;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::U8;
}
template <>
constexpr DType dtype_of<int16_t>() {
  return DType::I16;
}
template <>
constexpr DType dtype_of<uint16_t>() {
  return DType::U16;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::I32;
}
template <>
constexpr DType dtype_of<uint32_t>() {
  return DType::U32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::I64;
}
template <>
constexpr DType dtype_of<uint64_t>() {
  return DType::U64;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::Bool;
}

}  // namespace weec
