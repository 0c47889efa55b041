#include "ir/types.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weec {

Shape Shape::of(const Dims& d) {
  Shape s;
  s.rank_known = true;
  for (int64_t v : d) s.dims.push_back(Dim::known(v));
  return s;
}

Shape Shape::of_rank(size_t rank) {
  Shape s;
  s.rank_known = true;
  s.dims.resize(rank);
  return s;
}

bool Shape::is_static() const {
  if (!rank_known) return false;
  for (const Dim& d : dims)
    if (!d.is_known()) return false;
  return true;
}

Dims Shape::static_dims() const {
  Dims out;
  for (const Dim& d : dims) out.push_back(d.value);
  return out;
}

std::string shape_str(const Shape& s) {
  if (!s.rank_known) return "[*]";
  std::string out = "[";
  for (size_t i = 0; i < s.dims.size(); ++i) {
    if (i) out += ",";
    const Dim& d = s.dims[i];
    if (d.is_known())
      out += std::to_string(d.value);
    else if (!d.symbol.empty())
      out += d.symbol;
    else
      out += "?";
  }
  return out + "]";
}

std::string quant_str(const std::optional<QuantParams>& q) {
  if (!q) return "";
  if (!q->per_axis() && q->scale.size() == 1 && q->zero_point.size() == 1)
    return fmt::format("q(s={},zp={})", q->scale[0], q->zero_point[0]);
  return fmt::format("q(axis={},s=[{}],zp=[{}])", q->axis, fmt::join(q->scale, ","),
                     fmt::join(q->zero_point, ","));
}

std::string type_str(const TensorType& t) {
  return std::string(dtype_name(t.dtype)) + shape_str(t.shape) + quant_str(t.quant);
}

bool type_compatible(const TensorType& declared, const TensorType& actual) {
  if (declared.dtype != actual.dtype) return false;
  if (!declared.shape.rank_known || !actual.shape.rank_known) return true;
  if (declared.shape.rank() != actual.shape.rank()) return false;
  for (int64_t i = 0; i < declared.shape.rank(); ++i) {
    const Dim& a = declared.shape.dims[i];
    const Dim& b = actual.shape.dims[i];
    if (a.is_known() && b.is_known() && a.value != b.value) return false;
  }
  return true;
}

}  // namespace weec
