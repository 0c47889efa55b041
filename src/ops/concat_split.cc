// Concat and Split along one axis. Split's sizes are an input from opset 13
// (an attribute before: the import hook makes it a constant input); without
// sizes the axis is split evenly, the last chunk smaller when the dim does not
// divide (the opset 18 rule, a superset of opset 13's "must divide").
#include "ops/grad.h"
#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

// ---- Concat ----

Status infer_concat(InferContext& ctx) {
  DType dt = ctx.input_type(0).dtype;
  int64_t rank = -1;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return ctx.error("{} is missing", ctx.input_desc(i));
    const TensorType& t = ctx.input_type(i);
    if (t.dtype != dt) return ctx.error("inputs have different dtypes");
    if (!t.shape.rank_known) continue;
    if (rank >= 0 && t.shape.rank() != rank) return ctx.error("inputs have different ranks");
    rank = t.shape.rank();
  }
  ctx.outputs[0] = TensorType{dt, Shape::unknown_rank()};
  if (rank < 0) return Status::ok();
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), rank));
  Shape out = Shape::of_rank(rank);
  bool all_ranked = true;
  std::vector<Dim> along;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Shape& s = ctx.input_type(i).shape;
    if (!s.rank_known) {
      all_ranked = false;
      continue;
    }
    along.push_back(s.dims[axis]);
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis) continue;
      const Dim &a = out.dims[d], &b = s.dims[d];
      if (a.is_known() && b.is_known() && a.value != b.value)
        return ctx.error("{} has dim {} = {}, but another input has {}", ctx.input_desc(i), d, b.value,
                         a.value);
      out.dims[d] = merge_dim(a, b);
    }
  }
  int64_t sum = 0;
  bool known = all_ranked;
  for (const Dim& d : along) {
    if (!d.is_known())
      known = false;
    else
      sum += d.value;
  }
  out.dims[axis] = known ? Dim::known(sum) : Dim::unknown();
  ctx.outputs[0].shape = out;
  return Status::ok();
}

Status kernel_concat(KernelContext& ctx) {
  const Tensor& first = ctx.input(0);
  int64_t rank = first.rank();
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), rank));
  Dims out_dims = first.dims();
  out_dims[axis] = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    if (t.dtype() != first.dtype()) return ctx.error("inputs have different dtypes");
    bool ok = t.rank() == rank;
    for (int64_t d = 0; ok && d < rank; ++d) ok = d == axis || t.dim(d) == first.dim(d);
    if (!ok)
      return ctx.error("cannot concatenate {} and {} on axis {}", dims_str(first.dims()), dims_str(t.dims()),
                       axis);
    out_dims[axis] += t.dim(axis);
  }
  Tensor out(first.dtype(), out_dims);
  int64_t outer = numel_of(Dims(out_dims.begin(), out_dims.begin() + axis));
  int64_t inner = numel_of(Dims(out_dims.begin() + axis + 1, out_dims.end()));
  int64_t row = out_dims[axis] * inner, offset = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    ElemCopy copy(t, out);
    int64_t chunk = t.dim(axis) * inner;
    for (int64_t o = 0; o < outer; ++o) copy.block(o * row + offset, o * chunk, chunk);
    offset += chunk;
  }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// Opset < 4: `axis` was optional with default 1.
Status import_concat(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  if (!attrs.count("axis")) {
    if (ctx.opset >= 4) return ctx.error("Concat needs the `axis` attribute");
    attrs["axis"] = Attribute::of_int(1);
  }
  ctx.emit(OpKind::Concat, ctx.inputs, ctx.outputs, attrs);
  return Status::ok();
}

// ---- Split ----

// Sizes of the parts: from the split input, else even (last chunk smaller).
Expected<std::vector<int64_t>> split_sizes(const NodeContext& ctx, const Tensor* split, int64_t dim,
                                           size_t n_out) {
  std::vector<int64_t> sizes;
  if (split && split->numel() > 0) {
    sizes = split->to_int_vector();
    if (sizes.size() != n_out) return ctx.error("split has {} sizes for {} outputs", sizes.size(), n_out);
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0) return ctx.error("split size {} is negative", s);
      sum += s;
    }
    if (sum != dim) return ctx.error("split sizes sum to {}, but the axis has {}", sum, dim);
    return sizes;
  }
  int64_t n = (int64_t)n_out;
  int64_t chunk = (dim + n - 1) / n;
  if (dim % n != 0 && chunk * (n - 1) >= dim) return ctx.error("cannot split {} into {} parts", dim, n);
  for (int64_t i = 0; i < n; ++i) sizes.push_back(i + 1 < n ? chunk : dim - chunk * (n - 1));
  return sizes;
}

Status infer_split(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  for (auto& o : ctx.outputs) o = TensorType{in.dtype, Shape::unknown_rank()};
  if (!in.shape.rank_known) return Status::ok();
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), in.shape.rank()));
  Shape base = in.shape;
  base.dims[axis] = Dim::unknown();
  for (auto& o : ctx.outputs) o.shape = base;
  const Tensor* split = ctx.input_constant(1);
  if (ctx.has_input(1) && !split) return Status::ok();  // sizes computed at run time
  if (split && split->numel() == 0) split = nullptr;    // empty sizes: split evenly
  const Dim& dim = in.shape.dims[axis];
  if (!dim.is_known()) {
    if (!split) return Status::ok();
    // The axis is unknown but the sizes are given: the kernel checks their sum.
    auto v = split->to_int_vector();
    if (v.size() != ctx.outputs.size())
      return ctx.error("split has {} sizes for {} outputs", v.size(), ctx.outputs.size());
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i] >= 0) ctx.outputs[i].shape.dims[axis] = Dim::known(v[i]);
    return Status::ok();
  }
  WEEC_ASSIGN_OR_RETURN(auto sizes, split_sizes(ctx, split, dim.value, ctx.outputs.size()));
  for (size_t i = 0; i < sizes.size(); ++i) ctx.outputs[i].shape.dims[axis] = Dim::known(sizes[i]);
  return Status::ok();
}

Status kernel_split(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), in.rank()));
  const Tensor* split = ctx.has_input(1) ? &ctx.input(1) : nullptr;
  WEEC_ASSIGN_OR_RETURN(auto sizes, split_sizes(ctx, split, in.dim(axis), ctx.outputs.size()));
  int64_t outer = numel_of(Dims(in.dims().begin(), in.dims().begin() + axis));
  int64_t inner = numel_of(Dims(in.dims().begin() + axis + 1, in.dims().end()));
  int64_t row = in.dim(axis) * inner, offset = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    Dims d = in.dims();
    d[axis] = sizes[i];
    Tensor out(in.dtype(), d);
    ElemCopy copy(in, out);
    int64_t chunk = sizes[i] * inner;
    for (int64_t o = 0; o < outer; ++o) copy.block(o * chunk, o * row + offset, chunk);
    offset += chunk;
    ctx.outputs[i] = std::move(out);
  }
  return Status::ok();
}

// Opset < 13: sizes were the `split` attribute (opset 1 also allowed an input).
Status import_split(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  std::vector<Value*> ins = ctx.inputs;
  if (Value* v = attr_to_input(ctx, attrs, "split")) {
    ins.resize(1);
    ins.push_back(v);
  }
  ctx.emit(OpKind::Split, ins, ctx.outputs, attrs);
  return Status::ok();
}

// ---- C emission: one strided copy per input (Concat) or output (Split) ----

Status emit_concat(CEmitContext& c) {
  Dims out = c.out_dims(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), (int64_t)out.size()));
  Dims out_strides = strides_of(out);
  int64_t offset = 0;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    Dims d = c.in_dims(i);
    emit_strided_copy(c, i, 0, StridedCopy{d, strides_of(d), out_strides, 0, offset * out_strides[axis]});
    offset += d[axis];
  }
  return Status::ok();
}

// The sizes are the outputs' static dims along the axis (inference applied
// the split input or the even rule), so the split input need not be constant.
Status emit_split(CEmitContext& c) {
  Dims in = c.in_dims(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), (int64_t)in.size()));
  Dims in_strides = strides_of(in);
  int64_t offset = 0;
  for (size_t k = 0; k < c.node.outputs.size(); ++k) {
    Dims d = c.out_dims(k);
    emit_strided_copy(c, 0, k, StridedCopy{d, in_strides, strides_of(d), offset * in_strides[axis], 0});
    offset += d[axis];
  }
  if (offset != in[axis]) return c.error("split sizes sum to {}, but the axis has {}", offset, in[axis]);
  return Status::ok();
}

}  // namespace

// Gradient (ops/grad.h): each input's slice of dY along the axis.
Status concat_grad(GradContext& c) {
  const int64_t rank = (int64_t)c.dims(c.y(0)).size();
  int64_t axis = c.attrs.i("axis");
  if (axis < 0) axis += rank;
  int64_t at = 0;
  for (size_t i = 0; i < c.node.inputs.size(); ++i) {
    const int64_t len = c.dims(c.x(i))[axis];
    if (c.wants(i))
      c.set(i, c.op(OpKind::Slice, {c.dy(0), c.ints({at}), c.ints({at + len}), c.ints({axis})}));
    at += len;
  }
  return Status::ok();
}

const OpSchema& schema_Concat() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Concat, "Concat"};
    m.min_inputs = 1;
    m.max_inputs = -1;
    m.attrs = {attr_required("axis", Attribute::Kind::Int)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_concat;
    m.kernel = kernel_concat;
    m.emit_c = emit_concat;
    m.import = import_concat;
    m.doc = "joins inputs along axis";
    m.grad = concat_grad;
    return m;
  }();
  return s;
}

const OpSchema& schema_Split() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Split, "Split"};
    m.min_inputs = 1;
    m.max_inputs = 2;
    m.max_outputs = -1;
    m.attrs = {attr_int("axis", 0)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_split;
    m.kernel = kernel_split;
    m.emit_c = emit_split;
    m.import = import_split;
    m.doc = "cuts the input along axis into the given (or equal) sizes";
    return m;
  }();
  return s;
}

}  // namespace weec
