// Slice: starts/ends/axes/steps are inputs (before opset 10 starts/ends/axes
// were attributes; the import hook makes them constant inputs). Negative
// starts/ends count from the end; they are then clamped exactly as the spec
// says: to [0, dim] for positive steps, start to [0, dim-1] and end to
// [-1, dim-1] for negative steps.
#include <algorithm>
#include <limits>

#include "ops/grad.h"
#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

struct AxisSlice {
  int64_t start = 0, step = 1, count = 0;
};

AxisSlice slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step) {
  AxisSlice s;
  s.step = step;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    s.start = start;
    s.count = end > start ? 1 + (end - start - 1) / step : 0;
  } else {
    if (dim == 0) return s;
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    s.start = start;
    // -step may overflow for INT64_MIN; any step beyond -dim takes one element.
    int64_t mag = step < -dim ? dim + 1 : -step;
    s.count = start > end ? 1 + (start - end - 1) / mag : 0;
  }
  return s;
}

struct SliceSpec {
  std::vector<int64_t> starts, ends, axes, steps;
};

// Validates lengths, normalises axes (no repeats), fills default axes/steps.
Expected<SliceSpec> make_spec(const NodeContext& ctx, std::vector<int64_t> starts, std::vector<int64_t> ends,
                              const std::vector<int64_t>* axes, const std::vector<int64_t>* steps,
                              int64_t rank) {
  SliceSpec s{std::move(starts), std::move(ends), {}, {}};
  size_t n = s.starts.size();
  if (s.ends.size() != n) return ctx.error("starts has {} values but ends has {}", n, s.ends.size());
  if (axes) {
    if (axes->size() != n) return ctx.error("axes has {} values for {} starts", axes->size(), n);
    std::vector<bool> seen(rank, false);
    for (int64_t a : *axes) {
      WEEC_ASSIGN_OR_RETURN(int64_t na, normalize_axis(ctx, a, rank));
      if (seen[na]) return ctx.error("axis {} is repeated", a);
      seen[na] = true;
      s.axes.push_back(na);
    }
  } else {
    if ((int64_t)n > rank) return ctx.error("{} starts for rank {}", n, rank);
    for (size_t i = 0; i < n; ++i) s.axes.push_back((int64_t)i);
  }
  if (steps) {
    if (steps->size() != n) return ctx.error("steps has {} values for {} starts", steps->size(), n);
    for (int64_t st : *steps)
      if (st == 0) return ctx.error("step is 0");
    s.steps = *steps;
  } else {
    s.steps.assign(n, 1);
  }
  return s;
}

// Unknown dims keep their symbol when the slice obviously takes the whole axis.
bool whole_axis(int64_t start, int64_t end, int64_t step) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  return (step == 1 && start == 0 && end == kMax) || (step == -1 && start == -1 && end == kMin);
}

Status infer_slice(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  ctx.outputs[0] = TensorType{in.dtype, Shape::unknown_rank()};
  if (!in.shape.rank_known) return Status::ok();
  const int64_t rank = in.shape.rank();
  Shape out = in.shape;
  const Tensor *st = ctx.input_constant(1), *en = ctx.input_constant(2);
  const Tensor *ax = ctx.input_constant(3), *sp = ctx.input_constant(4);
  bool axes_ok = !ctx.has_input(3) || ax, steps_ok = !ctx.has_input(4) || sp;
  if (st && en && axes_ok && steps_ok) {
    std::vector<int64_t> axes_v = ax ? ax->to_int_vector() : std::vector<int64_t>{};
    std::vector<int64_t> steps_v = sp ? sp->to_int_vector() : std::vector<int64_t>{};
    WEEC_ASSIGN_OR_RETURN(SliceSpec spec, make_spec(ctx, st->to_int_vector(), en->to_int_vector(),
                                                    ax ? &axes_v : nullptr, sp ? &steps_v : nullptr, rank));
    for (size_t i = 0; i < spec.axes.size(); ++i) {
      Dim& d = out.dims[spec.axes[i]];
      if (d.is_known())
        d = Dim::known(slice_axis(d.value, spec.starts[i], spec.ends[i], spec.steps[i]).count);
      else if (!whole_axis(spec.starts[i], spec.ends[i], spec.steps[i]))
        d = Dim::unknown();
    }
  } else if (ax) {  // which axes change is known, not by how much
    for (int64_t a : ax->to_int_vector()) {
      WEEC_ASSIGN_OR_RETURN(int64_t na, normalize_axis(ctx, a, rank));
      out.dims[na] = Dim::unknown();
    }
  } else if (auto n = static_length(ctx.input_type(1)); n && !ctx.has_input(3)) {
    for (int64_t i = 0; i < std::min(*n, rank); ++i) out.dims[i] = Dim::unknown();
  } else {
    out = Shape::of_rank(rank);
  }
  ctx.outputs[0].shape = out;
  return Status::ok();
}

Status kernel_slice(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const int64_t rank = in.rank();
  std::vector<int64_t> axes_v, steps_v;
  if (ctx.has_input(3)) axes_v = ctx.input(3).to_int_vector();
  if (ctx.has_input(4)) steps_v = ctx.input(4).to_int_vector();
  WEEC_ASSIGN_OR_RETURN(
      SliceSpec spec,
      make_spec(ctx, ctx.input(1).to_int_vector(), ctx.input(2).to_int_vector(),
                ctx.has_input(3) ? &axes_v : nullptr, ctx.has_input(4) ? &steps_v : nullptr, rank));
  std::vector<AxisSlice> per(rank);
  for (int64_t d = 0; d < rank; ++d) per[d] = AxisSlice{0, 1, in.dim(d)};
  for (size_t i = 0; i < spec.axes.size(); ++i)
    per[spec.axes[i]] = slice_axis(in.dim(spec.axes[i]), spec.starts[i], spec.ends[i], spec.steps[i]);
  Dims out_dims(rank), strides = strides_of(in.dims()), step(rank);
  int64_t src = 0;
  for (int64_t d = 0; d < rank; ++d) {
    out_dims[d] = per[d].count;
    step[d] = per[d].step * strides[d];
    src += per[d].start * strides[d];
  }
  Tensor out(in.dtype(), out_dims);
  ElemCopy copy(in, out);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t o = 0; o < out.numel(); ++o) {
    copy(o, src);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < out_dims[d]) {
        src += step[d];
        break;
      }
      src -= step[d] * (out_dims[d] - 1);
      idx[d] = 0;
    }
  }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// A strided copy; starts/ends/axes/steps must be compile-time constants.
// Gradient (ops/grad.h) of a slice with steps of 1: dY padded with zeros
// back to X's dims.
Status slice_grad(GradContext& c) {
  const Dims xd = c.dims(c.x(0));
  const Tensor *st = c.node.inputs[1]->constant.get(), *en = c.node.inputs[2]->constant.get();
  const Tensor* ax = c.node.has_input(3) ? c.node.inputs[3]->constant.get() : nullptr;
  const Tensor* sp = c.node.has_input(4) ? c.node.inputs[4]->constant.get() : nullptr;
  if (!st || !en || (c.node.has_input(3) && !ax) || (c.node.has_input(4) && !sp))
    return c.error("gradient: starts, ends, axes and steps must be constants");
  std::vector<int64_t> axes_v = ax ? ax->to_int_vector() : std::vector<int64_t>{};
  std::vector<int64_t> steps_v = sp ? sp->to_int_vector() : std::vector<int64_t>{};
  WEEC_ASSIGN_OR_RETURN(SliceSpec spec,
                        make_spec(c, st->to_int_vector(), en->to_int_vector(), ax ? &axes_v : nullptr,
                                  sp ? &steps_v : nullptr, (int64_t)xd.size()));
  std::vector<int64_t> pads(2 * xd.size(), 0);
  for (size_t i = 0; i < spec.axes.size(); ++i) {
    if (spec.steps[i] != 1) return c.error("gradient: only steps of 1 are supported");
    const int64_t a = spec.axes[i];
    const AxisSlice s = slice_axis(xd[a], spec.starts[i], spec.ends[i], 1);
    pads[a] = s.start;
    pads[xd.size() + a] = xd[a] - s.start - s.count;
  }
  c.set(0, c.op(OpKind::Pad, {c.dy(0), c.ints(pads)}));
  return Status::ok();
}

Status emit_slice(CEmitContext& c) {
  const Dims in = c.in_dims(0);
  const int64_t rank = (int64_t)in.size();
  const Tensor *st = c.input_constant(1), *en = c.input_constant(2);
  const Tensor *ax = c.input_constant(3), *sp = c.input_constant(4);
  if (!st || !en || (c.has_input(3) && !ax) || (c.has_input(4) && !sp))
    return c.error("starts, ends, axes and steps must be constants for the C backend");
  std::vector<int64_t> axes_v = ax ? ax->to_int_vector() : std::vector<int64_t>{};
  std::vector<int64_t> steps_v = sp ? sp->to_int_vector() : std::vector<int64_t>{};
  WEEC_ASSIGN_OR_RETURN(SliceSpec spec, make_spec(c, st->to_int_vector(), en->to_int_vector(),
                                                  ax ? &axes_v : nullptr, sp ? &steps_v : nullptr, rank));
  std::vector<AxisSlice> per(rank);
  for (int64_t d = 0; d < rank; ++d) per[d] = AxisSlice{0, 1, in[d]};
  for (size_t i = 0; i < spec.axes.size(); ++i)
    per[spec.axes[i]] = slice_axis(in[spec.axes[i]], spec.starts[i], spec.ends[i], spec.steps[i]);
  StridedCopy copy;
  Dims strides = strides_of(in);
  for (int64_t d = 0; d < rank; ++d) {
    copy.dims.push_back(per[d].count);
    // A single element's step is unused (and may be a huge value such as INT64_MIN).
    copy.in_steps.push_back(per[d].count > 1 ? per[d].step * strides[d] : 0);
    copy.in_base += per[d].start * strides[d];
  }
  if (copy.dims != c.out_dims(0)) return c.error("slice of {} does not match the output type", dims_str(in));
  copy.out_steps = strides_of(copy.dims);
  emit_strided_copy(c, 0, 0, copy);
  return Status::ok();
}

// Opset < 10: starts, ends and axes were attributes.
Status import_slice(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  std::vector<Value*> ins = ctx.inputs;
  Value* starts = attr_to_input(ctx, attrs, "starts");
  Value* ends = attr_to_input(ctx, attrs, "ends");
  Value* axes = attr_to_input(ctx, attrs, "axes");
  if (starts || ends) {
    if (!starts || !ends) return ctx.error("Slice needs both starts and ends");
    ins = {ins[0], starts, ends};
    if (axes) ins.push_back(axes);
  }
  if (ins.size() < 3) return ctx.error("Slice needs starts and ends");
  ctx.emit(OpKind::Slice, ins, ctx.outputs, attrs);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Slice() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Slice, "Slice"};
    m.min_inputs = 3;
    m.max_inputs = 5;
    m.fusion = FusionKind::Injective;
    m.infer = infer_slice;
    m.kernel = kernel_slice;
    m.emit_c = emit_slice;
    m.import = import_slice;
    m.doc = "strided sub-tensor; starts/ends clamped, negative steps allowed";
    m.grad = slice_grad;
    return m;
  }();
  return s;
}

}  // namespace weec
