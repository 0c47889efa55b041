// Tile (repeats input; opset 1's tiles/axis inputs are folded into repeats by
// the import hook when constant) and Expand (numpy broadcast of the input to a
// shape, in both directions).
#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

// ---- Tile ----

Expected<std::vector<int64_t>> repeats_of(const NodeContext& ctx, const Tensor& t, int64_t rank) {
  if (t.rank() != 1) return ctx.error("repeats must be 1-D, got {}", dims_str(t.dims()));
  std::vector<int64_t> r = t.to_int_vector();
  if ((int64_t)r.size() != rank) return ctx.error("repeats has {} values for rank {}", r.size(), rank);
  for (int64_t v : r)
    if (v < 0) return ctx.error("repeat count {} is negative", v);
  return r;
}

Status infer_tile(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  ctx.outputs[0] = TensorType{in.dtype, Shape::unknown_rank()};
  if (!in.shape.rank_known) return Status::ok();
  const int64_t rank = in.shape.rank();
  Shape out = Shape::of_rank(rank);
  if (const Tensor* r = ctx.input_constant(1)) {
    WEEC_ASSIGN_OR_RETURN(auto reps, repeats_of(ctx, *r, rank));
    for (int64_t d = 0; d < rank; ++d) out.dims[d] = dim_product({in.shape.dims[d], Dim::known(reps[d])});
  } else {
    for (int64_t d = 0; d < rank; ++d)
      if (in.shape.dims[d] == Dim::known(0)) out.dims[d] = Dim::known(0);
  }
  ctx.outputs[0].shape = out;
  return Status::ok();
}

Status kernel_tile(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const int64_t rank = in.rank();
  WEEC_ASSIGN_OR_RETURN(auto reps, repeats_of(ctx, ctx.input(1), rank));
  Dims out_dims(rank), strides = strides_of(in.dims());
  for (int64_t d = 0; d < rank; ++d) out_dims[d] = in.dim(d) * reps[d];
  Tensor out(in.dtype(), out_dims);
  ElemCopy copy(in, out);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t o = 0; o < out.numel(); ++o) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d) src += (idx[d] % in.dim(d)) * strides[d];
    copy(o, src);
    next_index(idx, out_dims);
  }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// Two loops per axis, (repeat, position): the input step of the repeat loop
// is 0. The repeats come from the static output dims, so they need not be a
// constant input.
Status emit_tile(CEmitContext& c) {
  const Dims in = c.in_dims(0), out = c.out_dims(0);
  if (in.size() != out.size()) return c.error("output rank differs from the input's");
  Dims in_strides = strides_of(in), out_strides = strides_of(out);
  StridedCopy copy;
  for (size_t d = 0; d < in.size(); ++d) {
    if (in[d] == 0 ? out[d] != 0 : out[d] % in[d] != 0)
      return c.error("output dim {} is not a multiple of input dim {}", out[d], in[d]);
    int64_t reps = in[d] == 0 ? 0 : out[d] / in[d];
    copy.dims.insert(copy.dims.end(), {reps, in[d]});
    copy.in_steps.insert(copy.in_steps.end(), {0, in_strides[d]});
    copy.out_steps.insert(copy.out_steps.end(), {in[d] * out_strides[d], out_strides[d]});
  }
  emit_strided_copy(c, 0, 0, copy);
  return Status::ok();
}

// Opset 1: Tile(input, tiles, axis) repeats one axis; needs constant tiles/axis.
Status import_tile(ImportContext& ctx) {
  if (ctx.opset >= 6) {
    ctx.emit(OpKind::Tile, ctx.inputs, ctx.outputs, ctx.attrs);
    return Status::ok();
  }
  if (ctx.inputs.size() != 3 || !ctx.inputs[1] || !ctx.inputs[2] || !ctx.inputs[1]->constant ||
      !ctx.inputs[2]->constant)
    return ctx.error("Tile-1 is supported only with constant tiles and axis");
  const Shape& s = ctx.inputs[0]->type.shape;
  if (!s.rank_known) return ctx.error("Tile-1 needs the input rank");
  int64_t tiles = ctx.inputs[1]->constant->get_int(0), axis = ctx.inputs[2]->constant->get_int(0);
  if (axis < 0) axis += s.rank();
  if (axis < 0 || axis >= s.rank()) return ctx.error("Tile-1 axis is out of range");
  std::vector<int64_t> reps(s.rank(), 1);
  reps[axis] = tiles;
  ctx.emit(OpKind::Tile, {ctx.inputs[0], ctx.constant("repeats", int64_vector(reps))}, ctx.outputs,
           ctx.attrs);
  return Status::ok();
}

// ---- Expand ----

Expected<Dims> expand_shape_of(const NodeContext& ctx, const Tensor& t) {
  if (t.rank() != 1) return ctx.error("shape must be 1-D, got {}", dims_str(t.dims()));
  Dims d = t.to_int_vector();
  for (int64_t v : d)
    if (v < 0) return ctx.error("shape {} has a negative dim", dims_str(d));
  return d;
}

Status infer_expand(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  ctx.outputs[0] = TensorType{in.dtype, Shape::unknown_rank()};
  if (const Tensor* sh = ctx.input_constant(1)) {
    WEEC_ASSIGN_OR_RETURN(Dims dims, expand_shape_of(ctx, *sh));
    auto s = broadcast_shapes({in.shape, Shape::of(dims)});
    if (!s) return ctx.error("{}", s.status().message());
    ctx.outputs[0].shape = *s;
    return Status::ok();
  }
  auto n = static_length(ctx.input_type(1));
  if (!n || !in.shape.rank_known) return Status::ok();
  // Unknown target values: each output dim is the input's when that is a
  // known dim other than 1 (the target must then be 1 or equal), else unknown.
  int64_t r = in.shape.rank(), rank = std::max(*n, r);
  Shape out = Shape::of_rank(rank);
  for (int64_t i = 0; i < r; ++i) {
    const Dim& d = in.shape.dims[i];
    if (d.is_known() && d.value != 1) out.dims[rank - r + i] = d;
  }
  ctx.outputs[0].shape = out;
  return Status::ok();
}

Status kernel_expand(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(Dims target, expand_shape_of(ctx, ctx.input(1)));
  auto dims = broadcast_dims({in.dims(), target});
  if (!dims) return ctx.error("{}", dims.status().message());
  Tensor out(in.dtype(), *dims);
  ElemCopy copy(in, out);
  for_each_broadcast(*dims, {broadcast_strides(in.dims(), *dims)},
                     [&](int64_t o, const int64_t* off) { copy(o, off[0]); });
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// Output element = the input element it broadcasts from; the backend's
// elementwise loop does the broadcast indexing (the shape input is not read).
Expected<std::string> emit_expand_scalar(CScalarContext& c) { return c.in[0]; }

}  // namespace

const OpSchema& schema_Tile() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Tile, "Tile"};
    m.min_inputs = 2;
    m.max_inputs = 2;  // opset 1 had 3; the import hook rewrites it
    m.fusion = FusionKind::Injective;
    m.infer = infer_tile;
    m.kernel = kernel_tile;
    m.emit_c = emit_tile;
    m.import = import_tile;
    m.doc = "repeats the input repeats[i] times along each axis";
    return m;
  }();
  return s;
}

const OpSchema& schema_Expand() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Expand, "Expand"};
    m.since_opset = 8;
    m.min_inputs = m.max_inputs = 2;
    m.fusion = FusionKind::Broadcast;
    m.infer = infer_expand;
    m.kernel = kernel_expand;
    m.emit_scalar = emit_expand_scalar;
    m.doc = "broadcasts the input against a shape (numpy rules, both ways)";
    return m;
  }();
  return s;
}

}  // namespace weec
