// Static types: a dtype plus a shape whose dims may be known numbers, named
// symbols (ONNX's dim_param, e.g. "N") or unknown. The rank itself may be
// unknown for values an importer could not infer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace weec {

struct Dim {
  int64_t value = -1;  // >= 0 when known
  std::string symbol;  // non-empty for a named symbolic dim
  static Dim known(int64_t v) { return Dim{v, {}}; }
  static Dim named(std::string s) { return Dim{-1, std::move(s)}; }
  static Dim unknown() { return Dim{}; }
  bool is_known() const { return value >= 0; }
  bool operator==(const Dim&) const = default;
};

struct Shape {
  bool rank_known = false;
  std::vector<Dim> dims;

  static Shape unknown_rank() { return Shape{}; }
  static Shape of(const Dims& d);
  static Shape of_rank(size_t rank);  // all dims unknown
  int64_t rank() const { return (int64_t)dims.size(); }
  bool is_static() const;    // rank and every dim known
  Dims static_dims() const;  // requires is_static()
  bool operator==(const Shape&) const = default;
};

// Affine quantisation of an integer tensor: real = scale * (q - zero_point),
// per tensor (one entry, axis -1) or per slice along `axis` (one entry per
// slice). Carried by the values of a quantised graph so the edges (float I/O
// wrappers, `weec show`) know what the integers mean.
struct QuantParams {
  std::vector<double> scale;
  std::vector<int64_t> zero_point;
  int64_t axis = -1;
  bool per_axis() const { return axis >= 0; }
  bool operator==(const QuantParams&) const = default;
};

struct TensorType {
  DType dtype = DType::F32;
  Shape shape;
  std::optional<QuantParams> quant;
  bool operator==(const TensorType&) const = default;
};

// "q(s=0.5,zp=-3)" or "q(axis=0,s=[0.1,0.2],zp=[0,0])"; "" without quant.
std::string quant_str(const std::optional<QuantParams>& q);

// "f32[N,3,?,224]", "i64[]" (scalar), "f32[*]" (unknown rank), "i8[4]q(s=0.5,zp=-3)".
std::string type_str(const TensorType& t);
std::string shape_str(const Shape& s);

// True if `actual` is consistent with `declared`: same dtype and rank (when
// both known), and every dim known on both sides agrees.
bool type_compatible(const TensorType& declared, const TensorType& actual);

}  // namespace weec
