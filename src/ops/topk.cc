// TopK: the K largest (largest=1) or smallest elements along `axis`, with
// their int64 indices. IR form: inputs (X, K) with K an int64 [1] tensor and
// attributes axis (-1), largest (1), sorted (1). Opset 1 had K as the
// attribute `k`; the import hook turns it into a constant input.
//
// Order: by value, then by index (lower index first on ties, as ONNX
// specifies). The result is always sorted, which sorted=0 ("any order")
// permits. NaN ranks above every number, as in numpy's sort.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "ops/op_util.h"

namespace weec {

namespace {

template <typename T>
bool above(T a, T b) {  // a ranks strictly higher than b
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

// Fills idx (outer*k*inner) with the selected positions along the axis.
template <typename T>
void select(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest, int64_t* idx) {
  std::vector<int64_t> order(n);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * n * inner + i;
      std::iota(order.begin(), order.end(), 0);
      auto before = [&](int64_t a, int64_t b) {
        T va = p[a * inner], vb = p[b * inner];
        if (largest ? above(va, vb) : above(vb, va)) return true;
        if (largest ? above(vb, va) : above(va, vb)) return false;
        return a < b;
      };
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (int64_t j = 0; j < k; ++j) idx[(o * k + j) * inner + i] = order[j];
    }
  }
}

Status topk_kernel(KernelContext& ctx) {
  const Tensor& x0 = ctx.input(0);
  const Tensor& kt = ctx.input(1);
  if (!is_integer(kt.dtype()) || kt.numel() != 1) return ctx.error("K must be one integer");
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), x0.rank()));
  const int64_t k = kt.get_int(0), n = x0.dim(axis);
  if (k < 0 || k > n) return ctx.error("K = {} is out of range for axis {} of size {}", k, axis, n);
  bool largest = ctx.attrs.i("largest") != 0;
  int64_t outer = 1, inner = 1;
  Dims out_dims = x0.dims();
  out_dims[axis] = k;
  for (int64_t i = 0; i < x0.rank(); ++i) {
    if (i < axis) outer *= x0.dim(i);
    if (i > axis) inner *= x0.dim(i);
  }
  Tensor indices(DType::I64, out_dims);
  int64_t* idx = indices.data<int64_t>();
  Tensor keys = is_half(x0.dtype()) ? to_f32(x0) : x0;
  WEEC_TRY(visit_numeric(keys.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return ctx.error("bool data is not supported");
    } else {
      select<T>(keys.data<T>(), outer, n, inner, k, largest, idx);
      return Status::ok();
    }
  }));
  // Gather the values bytewise from the original tensor: exact for every dtype.
  Tensor values(x0.dtype(), out_dims);
  const size_t es = dtype_size(x0.dtype());
  const auto* src = static_cast<const uint8_t*>(x0.raw());
  auto* dst = static_cast<uint8_t*>(values.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t out = (o * k + j) * inner + i;
        std::memcpy(dst + out * es, src + ((o * n + idx[out]) * inner + i) * es, es);
      }
  ctx.outputs[0] = std::move(values);
  ctx.outputs[1] = std::move(indices);
  return Status::ok();
}

Status infer_topk(InferContext& ctx) {
  const TensorType& x = ctx.input_type(0);
  if (x.dtype == DType::Bool || x.dtype == DType::String)
    return ctx.error("{} data is not supported", dtype_name(x.dtype));
  if (!is_integer(ctx.input_type(1).dtype)) return ctx.error("K must be an integer");
  Shape s = Shape::unknown_rank();
  if (x.shape.rank_known) {
    WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), x.shape.rank()));
    s = x.shape;
    s.dims[axis] = Dim::unknown();
    if (const Tensor* kt = ctx.input_constant(1)) {
      if (kt->numel() != 1) return ctx.error("K must be one integer");
      int64_t k = kt->get_int(0);
      const Dim& n = x.shape.dims[axis];
      if (k < 0 || (n.is_known() && k > n.value))
        return ctx.error("K = {} is out of range for axis {} of size {}", k, axis,
                         n.is_known() ? n.value : -1);
      s.dims[axis] = Dim::known(k);
    }
  }
  ctx.outputs[0] = TensorType{x.dtype, s};
  ctx.outputs[1] = TensorType{DType::I64, s};
  return Status::ok();
}

// Opset 1: K was the attribute `k`.
Status import_topk(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  std::vector<Value*> ins = ctx.inputs;
  auto it = attrs.find("k");
  if (it != attrs.end()) {
    if (it->second.kind != Attribute::Kind::Int) return ctx.error("attribute 'k' must be an int");
    if (ins.size() > 1 && ins[1]) return ctx.error("K given both as attribute and as input");
    ins.resize(1);
    ins.push_back(ctx.constant("k", Tensor::from_vector<int64_t>({1}, {it->second.i})));
    attrs.erase(it);
  }
  if (ins.size() < 2 || !ins[1]) return ctx.error("K is missing");
  ctx.emit(OpKind::TopK, ins, ctx.outputs, attrs);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_TopK() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::TopK, "TopK"};
    m.min_inputs = m.max_inputs = 2;
    m.min_outputs = m.max_outputs = 2;
    m.attrs = {attr_int("axis", -1), attr_int("largest", 1), attr_int("sorted", 1)};
    m.fusion = FusionKind::Opaque;
    m.infer = infer_topk;
    m.kernel = topk_kernel;
    m.import = import_topk;
    m.doc = "K largest/smallest values along axis and their int64 indices; ties by lower index";
    return m;
  }();
  return s;
}

}  // namespace weec
