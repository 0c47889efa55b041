// Tensor files: NumPy `.npy` (v1-v3, little-endian, C or Fortran order) and
// ONNX TensorProto `.pb`, chosen by extension.
#pragma once

#include <string>

#include "core/status.h"
#include "ir/tensor.h"

namespace weec {

Expected<Tensor> read_npy(const std::string& path);
Expected<Tensor> parse_npy(std::string_view bytes);  // errors never crash
Status write_npy(const std::string& path, const Tensor& t);
std::string npy_bytes(const Tensor& t);

// By extension: ".npy" or ".pb"; anything else is an error naming the file.
Expected<Tensor> read_tensor_file(const std::string& path);
Status write_tensor_file(const std::string& path, const Tensor& t, const std::string& name);

}  // namespace weec
