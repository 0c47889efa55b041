// Helpers shared by op files: dtype dispatch, broadcasting, axis handling and
// common inference rules. Keep op-specific logic in the op's own file.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "ops/op.h"

namespace weec {

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) for the C++ storage type of `t`. f16/bf16 are NOT
// included: kernels compute those in f32 (see to_f32/from_f32).
template <typename F>
Status visit_numeric(DType t, F&& f) {
  switch (t) {
    case DType::F32:
      return f(TypeTag<float>{});
    case DType::F64:
      return f(TypeTag<double>{});
    case DType::I8:
      return f(TypeTag<int8_t>{});
    case DType::U8:
      return f(TypeTag<uint8_t>{});
    case DType::I16:
      return f(TypeTag<int16_t>{});
    case DType::U16:
      return f(TypeTag<uint16_t>{});
    case DType::I32:
      return f(TypeTag<int32_t>{});
    case DType::U32:
      return f(TypeTag<uint32_t>{});
    case DType::I64:
      return f(TypeTag<int64_t>{});
    case DType::U64:
      return f(TypeTag<uint64_t>{});
    case DType::Bool:
      return f(TypeTag<bool>{});
    default:
      return Status::error(fmt::format("dtype {} not supported here", dtype_name(t)));
  }
}

// f16/bf16 <-> f32 conversion so half-precision kernels compute in f32 and round once.
bool is_half(DType t);  // f16 or bf16
Tensor to_f32(const Tensor& t);
Tensor from_f32(const Tensor& t, DType to);
// Numeric conversion with C++ semantics (float->int truncates; bool is x != 0).
Tensor convert(const Tensor& t, DType to);

// ---- broadcasting (numpy / ONNX multidirectional) ----
Expected<Dims> broadcast_dims(const std::vector<Dims>& shapes);
// Strides of `in` viewed as `out` (right-aligned), 0 along broadcast dims.
Dims broadcast_strides(const Dims& in, const Dims& out);
// Symbolic version for inference: unknown dims stay unknown.
Expected<Shape> broadcast_shapes(const std::vector<Shape>& shapes);

// Visits every output element: f(out_index, offsets) where offsets[k] is the
// element offset into input k. `strides[k]` from broadcast_strides.
template <typename F>
void for_each_broadcast(const Dims& out, const std::vector<Dims>& strides, F&& f) {
  const size_t rank = out.size(), k = strides.size();
  int64_t n = numel_of(out);
  if (n == 0) return;
  std::vector<int64_t> idx(rank, 0), off(k, 0);
  for (int64_t o = 0; o < n; ++o) {
    f(o, off.data());
    for (int64_t d = (int64_t)rank - 1; d >= 0; --d) {
      if (++idx[d] < out[d]) {
        for (size_t j = 0; j < k; ++j) off[j] += strides[j][d];
        break;
      }
      idx[d] = 0;
      for (size_t j = 0; j < k; ++j) off[j] -= strides[j][d] * (out[d] - 1);
    }
  }
}

// out[i] = f(a[ia], b[ib]) with broadcasting. A, B, Out are storage types.
template <typename A, typename B, typename Out, typename F>
Expected<Tensor> broadcast_binary(const Tensor& a, const Tensor& b, DType out_dtype, F&& f) {
  auto dims = broadcast_dims({a.dims(), b.dims()});
  if (!dims) return dims.status();
  Tensor out(out_dtype, *dims);
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  Out* po = out.data<Out>();
  if (a.dims() == b.dims()) {  // fast path: no broadcasting
    for (int64_t i = 0; i < out.numel(); ++i) po[i] = f(pa[i], pb[i]);
    return out;
  }
  std::vector<Dims> strides = {broadcast_strides(a.dims(), *dims), broadcast_strides(b.dims(), *dims)};
  for_each_broadcast(*dims, strides,
                     [&](int64_t o, const int64_t* off) { po[o] = f(pa[off[0]], pb[off[1]]); });
  return out;
}

// ---- axes ----
// Maps axis in [-rank, rank) to [0, rank); error names the node otherwise.
Expected<int64_t> normalize_axis(const NodeContext& ctx, int64_t axis, int64_t rank);

// ---- common inference rules ----
Status infer_same_as_input0(InferContext& ctx);  // every output = type of input 0
Status infer_broadcast(InferContext& ctx);       // out = broadcast of all inputs, dtype of input 0
// Output type with `dtype` and the given dims (static).
TensorType static_type(DType dtype, const Dims& dims);

// ---- import ----
// Import hook for binary ops before opset 7, whose `broadcast`/`axis` attributes
// are rewritten into numpy broadcasting; emits `op` without those attributes.
Status import_legacy_broadcast(ImportContext& ctx, OpKind op);

// ---- numeric helpers with ONNX semantics ----
// Round half to even (ONNX Round, QuantizeLinear).
inline double round_half_even(double x) { return std::nearbyint(x); }

}  // namespace weec
