// Tensor comparison with ONNX backend-test semantics: dtype and shape must
// match; floats within |got - want| <= atol + rtol * |want| (NaN == NaN,
// inf == inf of the same sign); integers, bools and strings exactly. Used by
// the conformance runner and by `weec compare`.
#pragma once

#include <string>

#include "ir/tensor.h"

namespace weec {

struct Tolerance {
  double rtol = 1e-3;
  double atol = 1e-7;
};

struct Comparison {
  std::string mismatch;      // empty when the tensors agree; else the first difference
  int64_t differing = 0;     // elements outside the tolerance
  double max_abs_error = 0;  // over elements that are finite on both sides
};

Comparison compare_tensors(const Tensor& got, const Tensor& want, const Tolerance& tol);

}  // namespace weec
