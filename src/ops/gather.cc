// Gather, GatherElements, GatherND. Negative indices count from the end of
// the indexed axis; out-of-range indices are an error (ONNX leaves them
// undefined).
#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

Expected<int64_t> fix_index(const NodeContext& ctx, int64_t i, int64_t dim) {
  if (i < -dim || i >= dim) return ctx.error("index {} is out of range for an axis of size {}", i, dim);
  return i < 0 ? i + dim : i;
}

// ---- Gather ----

Status infer_gather(InferContext& ctx) {
  const TensorType &data = ctx.input_type(0), &ind = ctx.input_type(1);
  ctx.outputs[0] = TensorType{data.dtype, Shape::unknown_rank()};
  if (!data.shape.rank_known || !ind.shape.rank_known) return Status::ok();
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), data.shape.rank()));
  Shape out = Shape::of_rank(0);
  const auto& d = data.shape.dims;
  out.dims.insert(out.dims.end(), d.begin(), d.begin() + axis);
  out.dims.insert(out.dims.end(), ind.shape.dims.begin(), ind.shape.dims.end());
  out.dims.insert(out.dims.end(), d.begin() + axis + 1, d.end());
  ctx.outputs[0].shape = out;
  return Status::ok();
}

Status kernel_gather(KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &ind = ctx.input(1);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), data.rank()));
  Dims out_dims(data.dims().begin(), data.dims().begin() + axis);
  out_dims.insert(out_dims.end(), ind.dims().begin(), ind.dims().end());
  out_dims.insert(out_dims.end(), data.dims().begin() + axis + 1, data.dims().end());
  int64_t outer = numel_of(Dims(data.dims().begin(), data.dims().begin() + axis));
  int64_t inner = numel_of(Dims(data.dims().begin() + axis + 1, data.dims().end()));
  int64_t n = data.dim(axis);
  std::vector<int64_t> idx = ind.to_int_vector();
  for (int64_t& i : idx) {
    WEEC_ASSIGN_OR_RETURN(i, fix_index(ctx, i, n));
  }
  Tensor out(data.dtype(), out_dims);
  ElemCopy copy(data, out);
  int64_t dst = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : idx) {
      copy.block(dst, (o * n + i) * inner, inner);
      dst += inner;
    }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- GatherElements ----

Status infer_gather_elements(InferContext& ctx) {
  const TensorType &data = ctx.input_type(0), &ind = ctx.input_type(1);
  if (data.shape.rank_known && ind.shape.rank_known && data.shape.rank() != ind.shape.rank())
    return ctx.error("data {} and indices {} differ in rank", type_str(data), type_str(ind));
  int64_t rank = data.shape.rank_known ? data.shape.rank() : ind.shape.rank_known ? ind.shape.rank() : -1;
  if (rank >= 0) WEEC_TRY(normalize_axis(ctx, ctx.attrs.i("axis"), rank).status());
  ctx.outputs[0] = TensorType{data.dtype, ind.shape};
  return Status::ok();
}

Status kernel_gather_elements(KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &ind = ctx.input(1);
  const int64_t rank = data.rank();
  if (ind.rank() != rank)
    return ctx.error("data {} and indices {} differ in rank", dims_str(data.dims()), dims_str(ind.dims()));
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), rank));
  Dims strides = strides_of(data.dims());
  Tensor out(data.dtype(), ind.dims());
  ElemCopy copy(data, out);
  std::vector<int64_t> pos(rank, 0);
  for (int64_t o = 0; o < out.numel(); ++o) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis) continue;
      if (pos[d] >= data.dim(d))
        return ctx.error("indices shape {} exceeds data shape {} on axis {}", dims_str(ind.dims()),
                         dims_str(data.dims()), d);
      src += pos[d] * strides[d];
    }
    WEEC_ASSIGN_OR_RETURN(int64_t i, fix_index(ctx, ind.get_int(o), data.dim(axis)));
    copy(o, src + i * strides[axis]);
    next_index(pos, ind.dims());
  }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- GatherND ----

Status infer_gather_nd(InferContext& ctx) {
  const TensorType &data = ctx.input_type(0), &ind = ctx.input_type(1);
  ctx.outputs[0] = TensorType{data.dtype, Shape::unknown_rank()};
  if (!data.shape.rank_known || !ind.shape.rank_known) return Status::ok();
  int64_t r = data.shape.rank(), q = ind.shape.rank(), b = ctx.attrs.i("batch_dims");
  if (q < 1 || r < 1) return ctx.error("data and indices must have rank >= 1");
  if (b < 0 || b >= std::min(r, q)) return ctx.error("batch_dims {} is out of range", b);
  const Dim& last = ind.shape.dims[q - 1];
  if (!last.is_known()) return Status::ok();
  int64_t k = last.value;
  if (k < 1 || k > r - b)
    return ctx.error("index tuples of length {} do not fit data of rank {} (batch_dims {})", k, r, b);
  Shape out = Shape::of_rank(0);
  out.dims.assign(ind.shape.dims.begin(), ind.shape.dims.end() - 1);
  for (int64_t i = 0; i < b; ++i) out.dims[i] = merge_dim(out.dims[i], data.shape.dims[i]);
  out.dims.insert(out.dims.end(), data.shape.dims.begin() + b + k, data.shape.dims.end());
  ctx.outputs[0].shape = out;
  return Status::ok();
}

Status kernel_gather_nd(KernelContext& ctx) {
  const Tensor &data = ctx.input(0), &ind = ctx.input(1);
  int64_t r = data.rank(), q = ind.rank(), b = ctx.attrs.i("batch_dims");
  if (q < 1 || r < 1) return ctx.error("data and indices must have rank >= 1");
  if (b < 0 || b >= std::min(r, q)) return ctx.error("batch_dims {} is out of range", b);
  int64_t k = ind.dim(q - 1);
  if (k < 1 || k > r - b)
    return ctx.error("index tuples of length {} do not fit data of rank {} (batch_dims {})", k, r, b);
  for (int64_t i = 0; i < b; ++i)
    if (data.dim(i) != ind.dim(i))
      return ctx.error("batch dim {} differs: data {} vs indices {}", i, data.dim(i), ind.dim(i));
  Dims out_dims(ind.dims().begin(), ind.dims().end() - 1);
  out_dims.insert(out_dims.end(), data.dims().begin() + b + k, data.dims().end());
  Tensor out(data.dtype(), out_dims);
  ElemCopy copy(data, out);
  Dims strides = strides_of(data.dims());
  int64_t batches = numel_of(Dims(data.dims().begin(), data.dims().begin() + b));
  int64_t batch_stride = numel_of(Dims(data.dims().begin() + b, data.dims().end()));
  int64_t slice = numel_of(Dims(data.dims().begin() + b + k, data.dims().end()));
  int64_t tuples = batches == 0 ? 0 : ind.numel() / k / batches;
  std::vector<int64_t> iv = ind.to_int_vector();
  int64_t dst = 0;
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t src = bi * batch_stride;
      const int64_t* tup = &iv[(bi * tuples + t) * k];
      for (int64_t j = 0; j < k; ++j) {
        WEEC_ASSIGN_OR_RETURN(int64_t i, fix_index(ctx, tup[j], data.dim(b + j)));
        src += i * strides[b + j];
      }
      copy.block(dst, src, slice);
      dst += slice;
    }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- C emission ----
// Indices are read at run time (negatives wrap, out-of-range ones clamp: see
// emit_wrapped_index); everything else is static.

Status emit_gather(CEmitContext& c) {
  const Dims data = c.in_dims(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), (int64_t)data.size()));
  int64_t outer = numel_of(Dims(data.begin(), data.begin() + axis));
  int64_t inner = numel_of(Dims(data.begin() + axis + 1, data.end()));
  int64_t n = data[axis], count = c.in_count(1);
  if (c.out_count(0) == 0) return Status::ok();
  if (n == 0) return c.error("cannot gather from the empty axis {}", axis);
  std::vector<std::string> oj = c.open_loops({outer, count});
  std::string ix = c.var("ix");
  emit_wrapped_index(c, ix, 1, oj[1], n);
  std::vector<std::string> k = c.open_loops({inner});
  std::string src = fmt::format("({} * {} + (int32_t){}) * {} + {}", oj[0], n, ix, inner, k[0]);
  std::string dst = fmt::format("({} * {} + {}) * {} + {}", oj[0], count, oj[1], inner, k[0]);
  c.store(0, {}, c.load(0, src), dst);
  c.close_loops(3);
  return Status::ok();
}

Status emit_gather_elements(CEmitContext& c) {
  const Dims data = c.in_dims(0), ind = c.in_dims(1);
  const int64_t rank = (int64_t)data.size();
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), rank));
  if (c.out_count(0) == 0) return Status::ok();
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis && ind[d] > data[d])
      return c.error("indices shape {} exceeds data shape {} on axis {}", dims_str(ind), dims_str(data), d);
  if (data[axis] == 0) return c.error("cannot gather from the empty axis {}", axis);
  Dims strides = strides_of(data), coefs = strides;
  coefs[axis] = 0;
  std::vector<std::string> v = c.open_loops(ind);
  std::string flat = CEmitContext::flat_index(ind, v), ix = c.var("ix");
  emit_wrapped_index(c, ix, 1, flat, data[axis]);
  std::string src = fmt::format("{} + (int32_t){} * {}", affine_index(0, v, coefs), ix, strides[axis]);
  c.store(0, v, c.load(0, src), flat);
  c.close_loops(v.size());
  return Status::ok();
}

Status emit_gather_nd(CEmitContext& c) {
  const Dims data = c.in_dims(0), ind = c.in_dims(1);
  int64_t r = (int64_t)data.size(), q = (int64_t)ind.size(), b = c.attrs.i("batch_dims");
  if (q < 1 || r < 1 || b < 0 || b >= std::min(r, q)) return c.error("batch_dims {} is out of range", b);
  int64_t k = ind[q - 1];
  if (k < 1 || k > r - b) return c.error("index tuples of length {} do not fit data of rank {}", k, r);
  if (c.out_count(0) == 0) return Status::ok();
  Dims strides = strides_of(data);
  int64_t batches = numel_of(Dims(data.begin(), data.begin() + b));
  int64_t batch_stride = numel_of(Dims(data.begin() + b, data.end()));
  int64_t slice = numel_of(Dims(data.begin() + b + k, data.end()));
  int64_t tuples = c.in_count(1) / k / batches;
  std::vector<std::string> bt = c.open_loops({batches, tuples});
  std::string tuple = fmt::format("({} * {} + {}) * {}", bt[0], tuples, bt[1], k);
  std::string src = fmt::format("{} * {}", bt[0], batch_stride);
  for (int64_t j = 0; j < k; ++j) {
    if (data[b + j] == 0) return c.error("cannot gather from the empty axis {}", b + j);
    std::string ix = c.var("ix");
    emit_wrapped_index(c, ix, 1, fmt::format("{} + {}", tuple, j), data[b + j]);
    src += fmt::format(" + (int32_t){} * {}", ix, strides[b + j]);
  }
  std::vector<std::string> e = c.open_loops({slice});
  std::string dst = fmt::format("({} * {} + {}) * {} + {}", bt[0], tuples, bt[1], slice, e[0]);
  c.store(0, {}, c.load(0, fmt::format("{} + {}", src, e[0])), dst);
  c.close_loops(3);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Gather() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Gather, "Gather"};
    m.min_inputs = m.max_inputs = 2;
    m.attrs = {attr_int("axis", 0)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_gather;
    m.kernel = kernel_gather;
    m.emit_c = emit_gather;
    m.doc = "takes slices along axis at the given indices";
    return m;
  }();
  return s;
}

const OpSchema& schema_GatherElements() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::GatherElements, "GatherElements"};
    m.since_opset = 11;
    m.min_inputs = m.max_inputs = 2;
    m.attrs = {attr_int("axis", 0)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_gather_elements;
    m.kernel = kernel_gather_elements;
    m.emit_c = emit_gather_elements;
    m.doc = "out[i] = data[i with the axis coordinate replaced by indices[i]]";
    return m;
  }();
  return s;
}

const OpSchema& schema_GatherND() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::GatherND, "GatherND"};
    m.since_opset = 11;
    m.min_inputs = m.max_inputs = 2;
    m.attrs = {attr_int("batch_dims", 0)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_gather_nd;
    m.kernel = kernel_gather_nd;
    m.emit_c = emit_gather_nd;
    m.doc = "gathers slices addressed by index tuples (last dim of indices)";
    return m;
  }();
  return s;
}

}  // namespace weec
