// A concrete tensor: dtype, dims and a contiguous row-major buffer. Used for
// constants in the IR and for every value the interpreter computes.
#pragma once

#include <cassert>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/dtype.h"

namespace weec {

using Dims = std::vector<int64_t>;

int64_t numel_of(const Dims& dims);
Dims strides_of(const Dims& dims);       // row-major element strides
std::string dims_str(const Dims& dims);  // "[1,3,4]"

// The largest tensor weec creates, in bytes (default 1 GiB; `weec
// --max-tensor-bytes` sets it). Initializers, inferred value types (and so
// folded constants and the memory plan) and input files are checked against
// it before anything is allocated, so a corrupt or hostile model cannot ask
// for 10^12 elements. Process-wide: it is a resource policy, not a property
// of one graph.
int64_t max_tensor_bytes();
void set_max_tensor_bytes(int64_t bytes);
// Element count, or an error naming the shape if a dim is negative or the
// product overflows int64.
Expected<int64_t> checked_numel(const Dims& dims);
// Error unless a `dtype` tensor of `dims` fits in max_tensor_bytes(). Strings
// count as sizeof(std::string) each, their characters not included.
Status check_tensor_size(DType dtype, const Dims& dims);

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled (empty strings for String).
  Tensor(DType dtype, Dims dims);

  template <typename T>
  static Tensor from_vector(Dims dims, const std::vector<T>& values) {
    Tensor t(dtype_of<T>(), std::move(dims));
    assert((int64_t)values.size() == t.numel());
    if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i];
    } else if (!values.empty()) {  // memcpy with an empty tensor's null buffer is UB
      std::memcpy(t.raw(), values.data(), values.size() * sizeof(T));
    }
    return t;
  }
  template <typename T>
  static Tensor scalar(T value) {
    return from_vector<T>({}, std::vector<T>{value});
  }

  DType dtype() const { return dtype_; }
  const Dims& dims() const { return dims_; }
  int64_t rank() const { return (int64_t)dims_.size(); }
  int64_t dim(int64_t i) const { return dims_[i]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return bytes_.size(); }

  template <typename T>
  T* data() {
    assert(dtype_of<T>() == dtype_ || sizeof(T) == dtype_size(dtype_));
    return reinterpret_cast<T*>(bytes_.data());
  }
  template <typename T>
  const T* data() const {
    assert(dtype_of<T>() == dtype_ || sizeof(T) == dtype_size(dtype_));
    return reinterpret_cast<const T*>(bytes_.data());
  }
  void* raw() { return bytes_.data(); }
  const void* raw() const { return bytes_.data(); }
  std::vector<std::string>& strings() { return strings_; }
  const std::vector<std::string>& strings() const { return strings_; }

  // Element i converted to double / int64 (any numeric or bool dtype). Handy
  // for small "attribute-like" inputs such as axes, pads and scalar limits.
  double get_double(int64_t i) const;
  int64_t get_int(int64_t i) const;
  // Stores a double into element i, converting (saturation is the caller's job).
  void set_double(int64_t i, double v);
  std::vector<int64_t> to_int_vector() const;

  // Same buffer, new dims with the same element count.
  void reshape(Dims dims);
  // Bitwise equality of dtype, dims and contents.
  bool identical(const Tensor& other) const;

 private:
  DType dtype_ = DType::F32;
  Dims dims_;
  int64_t numel_ = 1;
  std::vector<uint8_t> bytes_;
  std::vector<std::string> strings_;
};

}  // namespace weec
