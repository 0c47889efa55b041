// Helpers shared by the shape-manipulation and data-movement ops (reshape_like,
// shape_ops, transpose, concat_split, slice, pad, tile_expand, depth_space,
// trilu, reverse_sequence, gather, scatter, select, resize). These ops move
// elements without arithmetic, so most of them work on raw element bytes and
// support every dtype, strings included, through ElemCopy.
#pragma once

#include <cstring>
#include <optional>
#include <vector>

#include "ops/op_util.h"

namespace weec {

// Copies single elements between two tensors of the same dtype, whatever it is.
class ElemCopy {
 public:
  ElemCopy(const Tensor& src, Tensor& dst)
      : is_string_(src.dtype() == DType::String), esize_(dtype_size(src.dtype())), src_(src), dst_(dst) {}
  void operator()(int64_t dst_index, int64_t src_index) const {
    if (is_string_) {
      dst_.strings()[dst_index] = src_.strings()[src_index];
    } else {
      std::memcpy(static_cast<uint8_t*>(dst_.raw()) + dst_index * esize_,
                  static_cast<const uint8_t*>(src_.raw()) + src_index * esize_, esize_);
    }
  }
  // Copies `n` consecutive elements.
  void block(int64_t dst_index, int64_t src_index, int64_t n) const {
    if (n <= 0) return;
    if (is_string_) {
      for (int64_t i = 0; i < n; ++i) dst_.strings()[dst_index + i] = src_.strings()[src_index + i];
    } else {
      std::memcpy(static_cast<uint8_t*>(dst_.raw()) + dst_index * esize_,
                  static_cast<const uint8_t*>(src_.raw()) + src_index * esize_, n * esize_);
    }
  }

 private:
  bool is_string_;
  size_t esize_;
  const Tensor& src_;
  Tensor& dst_;
};

// Advances a row-major multi-index over `dims`; false after the last one.
inline bool next_index(std::vector<int64_t>& idx, const Dims& dims) {
  for (int64_t d = (int64_t)dims.size() - 1; d >= 0; --d) {
    if (++idx[d] < dims[d]) return true;
    idx[d] = 0;
  }
  return false;
}

// Product of dims for inference: known if all are known (or one is 0), the dim
// itself if it is the only non-1 factor, else unknown.
inline Dim dim_product(const std::vector<Dim>& dims) {
  int64_t known = 1;
  int n_other = 0;
  Dim other;
  for (const Dim& d : dims) {
    if (d.is_known()) {
      if (d.value == 0) return Dim::known(0);
      known *= d.value;
    } else {
      ++n_other;
      other = d;
    }
  }
  if (n_other == 0) return Dim::known(known);
  if (n_other == 1 && known == 1) return other;
  return Dim::unknown();
}

// Two dims that must be equal: the known (or named) one wins.
inline Dim merge_dim(const Dim& a, const Dim& b) {
  if (a.is_known()) return a;
  if (b.is_known()) return b;
  return a.symbol.empty() ? b : a;
}

// Number of elements of a 1-D input when its length is static.
inline std::optional<int64_t> static_length(const TensorType& t) {
  if (!t.shape.rank_known) return std::nullopt;
  if (t.shape.rank() == 0) return 1;
  if (t.shape.rank() == 1 && t.shape.dims[0].is_known()) return t.shape.dims[0].value;
  return std::nullopt;
}

// ONNX TensorProto element-type codes (as used by the dtype attributes of
// EyeLike, Cast, ...) to weec dtypes.
inline std::optional<DType> dtype_from_onnx_code(int64_t code) {
  switch (code) {
    case 1:
      return DType::F32;
    case 2:
      return DType::U8;
    case 3:
      return DType::I8;
    case 4:
      return DType::U16;
    case 5:
      return DType::I16;
    case 6:
      return DType::I32;
    case 7:
      return DType::I64;
    case 8:
      return DType::String;
    case 9:
      return DType::Bool;
    case 10:
      return DType::F16;
    case 11:
      return DType::F64;
    case 12:
      return DType::U32;
    case 13:
      return DType::U64;
    case 16:
      return DType::BF16;
    default:
      return std::nullopt;
  }
}

// Permutes `in` viewed with dims `view` (same element count): out dim i is view
// dim perm[i]. Shared by Transpose, DepthToSpace and SpaceToDepth.
Tensor permute_tensor(const Tensor& in, const Dims& view, const std::vector<int64_t>& perm);

// Checks `perm` is a permutation of [0, rank).
bool is_permutation(const std::vector<int64_t>& perm, int64_t rank);

// The 1-D int64 constant an import hook makes from an attribute list.
inline Tensor int64_vector(const std::vector<int64_t>& v) {
  return Tensor::from_vector<int64_t>({(int64_t)v.size()}, v);
}

// Import hooks: turns the int-list attribute `name` (an older opset's form)
// into a 1-D int64 constant input and removes it from `attrs`. nullptr if the
// attribute is absent.
inline Value* attr_to_input(ImportContext& ctx, AttrMap& attrs, const std::string& name) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return nullptr;
  Value* v = ctx.constant(name, int64_vector(it->second.ints));
  attrs.erase(it);
  return v;
}

}  // namespace weec
