// Output comparison with ONNX backend-test semantics: dtype and shape must
// match; floats within |got - want| <= atol + rtol * |want| (NaN == NaN,
// inf == inf of the same sign); integers, bools and strings exactly.
#pragma once

#include <string>

#include "ir/tensor.h"

namespace weec {

struct Tolerance {
  double rtol = 1e-3;
  double atol = 1e-7;
};

// Empty string on match, else a short description of the first mismatch.
std::string compare_tensors(const Tensor& got, const Tensor& want, const Tolerance& tol);

}  // namespace weec
