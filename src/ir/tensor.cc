#include "ir/tensor.h"

#include <fmt/format.h>

namespace weec {

int64_t numel_of(const Dims& dims) {
  // checked_numel accepts an empty tensor whose other dims multiply past
  // int64 ([2^40, 2^40, 0]): its count is 0, found before multiplying.
  for (int64_t d : dims)
    if (d == 0) return 0;
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Dims strides_of(const Dims& dims) {
  Dims s(dims.size(), 1);
  // Wrapping arithmetic: only an empty tensor's strides can overflow, and
  // nothing is ever indexed with them.
  for (int64_t i = (int64_t)dims.size() - 2; i >= 0; --i)
    s[i] = (int64_t)((uint64_t)s[i + 1] * (uint64_t)dims[i + 1]);
  return s;
}

std::string dims_str(const Dims& dims) { return fmt::format("[{}]", fmt::join(dims, ",")); }

namespace {
int64_t g_max_tensor_bytes = int64_t(1) << 30;
}

int64_t max_tensor_bytes() { return g_max_tensor_bytes; }
void set_max_tensor_bytes(int64_t bytes) { g_max_tensor_bytes = bytes; }

Expected<int64_t> checked_numel(const Dims& dims) {
  int64_t n = 1;
  bool overflow = false;
  for (int64_t d : dims) {
    if (d < 0) return error("shape {} has a negative dim {}", dims_str(dims), d);
    overflow = overflow || __builtin_mul_overflow(n, d, &n);
  }
  // A zero dim makes the product 0 even after an overflow.
  for (int64_t d : dims)
    if (d == 0) return int64_t(0);
  if (overflow)
    return error("shape {} has more elements than int64 can count (the product overflows)", dims_str(dims));
  return n;
}

Status check_tensor_size(DType dtype, const Dims& dims) {
  WEEC_ASSIGN_OR_RETURN(int64_t n, checked_numel(dims));
  int64_t elem = dtype == DType::String ? (int64_t)sizeof(std::string) : (int64_t)dtype_size(dtype);
  int64_t bytes = 0;
  bool overflow = __builtin_mul_overflow(n, elem, &bytes);
  if (overflow || bytes > g_max_tensor_bytes)
    return error(
        "shape {} of {} needs {} bytes, more than the maximum tensor size of {} bytes (weec "
        "--max-tensor-bytes sets it)",
        dims_str(dims), dtype_name(dtype), overflow ? fmt::format("{} x {}", n, elem) : std::to_string(bytes),
        g_max_tensor_bytes);
  return Status::ok();
}

Tensor::Tensor(DType dtype, Dims dims) : dtype_(dtype), dims_(std::move(dims)) {
  numel_ = numel_of(dims_);
  if (dtype_ == DType::String) {
    strings_.resize(numel_);
  } else {
    bytes_.assign(numel_ * dtype_size(dtype_), 0);
  }
}

double Tensor::get_double(int64_t i) const {
  switch (dtype_) {
    case DType::F32:
      return data<float>()[i];
    case DType::F64:
      return data<double>()[i];
    case DType::F16:
      return half_to_float(data<uint16_t>()[i]);
    case DType::BF16:
      return bfloat16_to_float(data<uint16_t>()[i]);
    case DType::I8:
      return data<int8_t>()[i];
    case DType::U8:
      return data<uint8_t>()[i];
    case DType::I16:
      return data<int16_t>()[i];
    case DType::U16:
      return data<uint16_t>()[i];
    case DType::I32:
      return data<int32_t>()[i];
    case DType::U32:
      return data<uint32_t>()[i];
    case DType::I64:
      return (double)data<int64_t>()[i];
    case DType::U64:
      return (double)data<uint64_t>()[i];
    case DType::Bool:
      return data<uint8_t>()[i] ? 1.0 : 0.0;
    case DType::String:
      return 0.0;
  }
  return 0.0;
}

int64_t Tensor::get_int(int64_t i) const {
  switch (dtype_) {
    case DType::I8:
      return data<int8_t>()[i];
    case DType::U8:
      return data<uint8_t>()[i];
    case DType::I16:
      return data<int16_t>()[i];
    case DType::U16:
      return data<uint16_t>()[i];
    case DType::I32:
      return data<int32_t>()[i];
    case DType::U32:
      return data<uint32_t>()[i];
    case DType::I64:
      return data<int64_t>()[i];
    case DType::U64:
      return (int64_t)data<uint64_t>()[i];
    case DType::Bool:
      return data<uint8_t>()[i] ? 1 : 0;
    default:
      return (int64_t)get_double(i);
  }
}

void Tensor::set_double(int64_t i, double v) {
  switch (dtype_) {
    case DType::F32:
      data<float>()[i] = (float)v;
      break;
    case DType::F64:
      data<double>()[i] = v;
      break;
    case DType::F16:
      data<uint16_t>()[i] = float_to_half((float)v);
      break;
    case DType::BF16:
      data<uint16_t>()[i] = float_to_bfloat16((float)v);
      break;
    case DType::I8:
      data<int8_t>()[i] = (int8_t)v;
      break;
    case DType::U8:
      data<uint8_t>()[i] = (uint8_t)v;
      break;
    case DType::I16:
      data<int16_t>()[i] = (int16_t)v;
      break;
    case DType::U16:
      data<uint16_t>()[i] = (uint16_t)v;
      break;
    case DType::I32:
      data<int32_t>()[i] = (int32_t)v;
      break;
    case DType::U32:
      data<uint32_t>()[i] = (uint32_t)v;
      break;
    case DType::I64:
      data<int64_t>()[i] = (int64_t)v;
      break;
    case DType::U64:
      data<uint64_t>()[i] = (uint64_t)v;
      break;
    case DType::Bool:
      data<uint8_t>()[i] = v != 0.0;
      break;
    case DType::String:
      break;
  }
}

std::vector<int64_t> Tensor::to_int_vector() const {
  std::vector<int64_t> out(numel_);
  for (int64_t i = 0; i < numel_; ++i) out[i] = get_int(i);
  return out;
}

void Tensor::reshape(Dims dims) {
  assert(numel_of(dims) == numel_);
  dims_ = std::move(dims);
}

bool Tensor::identical(const Tensor& o) const {
  return dtype_ == o.dtype_ && dims_ == o.dims_ && bytes_ == o.bytes_ && strings_ == o.strings_;
}

}  // namespace weec
