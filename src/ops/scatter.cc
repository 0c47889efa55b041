// ScatterElements and ScatterND: a copy of data with updates written at the
// indexed places, optionally combined by reduction (add, mul; max and min
// from opset 18 are accepted too). Updates apply in index order, so with
// reduction "none" the last duplicate index wins. The deprecated ONNX op
// Scatter (opsets 9-10) is the same as ScatterElements but is not mapped yet.
#include <algorithm>

#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

enum class Reduction { None, Add, Mul, Max, Min };

Expected<Reduction> reduction_of(const NodeContext& ctx) {
  const std::string& r = ctx.attrs.s("reduction");
  if (r == "none") return Reduction::None;
  if (r == "add") return Reduction::Add;
  if (r == "mul") return Reduction::Mul;
  if (r == "max") return Reduction::Max;
  if (r == "min") return Reduction::Min;
  return ctx.error("reduction '{}' is not supported (none, add, mul, max, min)", r);
}

// A run of `block` updates starting at update element `src`, written to
// output element `dst`.
struct Write {
  int64_t dst, src;
};

template <typename T>
T combine(Reduction r, T a, T b) {
  switch (r) {
    case Reduction::Add:
      return T(a + b);
    case Reduction::Mul:
      return T(a * b);
    case Reduction::Max:
      return std::max(a, b);
    case Reduction::Min:
      return std::min(a, b);
    case Reduction::None:
      return b;
  }
  return b;
}

Status apply_writes(const NodeContext& ctx, Tensor& out, const Tensor& updates,
                    const std::vector<Write>& writes, int64_t block, Reduction red) {
  if (red == Reduction::None) {
    ElemCopy copy(updates, out);
    for (const Write& w : writes) copy.block(w.dst, w.src, block);
    return Status::ok();
  }
  DType dt = out.dtype();
  if (is_half(dt)) {
    Tensor o = to_f32(out), u = to_f32(updates);
    WEEC_TRY(apply_writes(ctx, o, u, writes, block, red));
    out = from_f32(o, dt);
    return Status::ok();
  }
  return visit_numeric(dt, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return ctx.error("reduction '{}' is not supported for bool", ctx.attrs.s("reduction"));
    } else {
      T* o = out.data<T>();
      const T* u = updates.data<T>();
      for (const Write& w : writes)
        for (int64_t j = 0; j < block; ++j) o[w.dst + j] = combine(red, o[w.dst + j], u[w.src + j]);
      return Status::ok();
    }
  });
}

Expected<int64_t> fix_index(const NodeContext& ctx, int64_t i, int64_t dim) {
  if (i < -dim || i >= dim) return ctx.error("index {} is out of range for an axis of size {}", i, dim);
  return i < 0 ? i + dim : i;
}

Status infer_scatter(InferContext& ctx) {
  WEEC_TRY(reduction_of(ctx).status());
  if (ctx.input_type(0).dtype != ctx.input_type(2).dtype)
    return ctx.error("data and updates differ in dtype");
  return infer_same_as_input0(ctx);
}

// ---- ScatterElements ----

Status kernel_scatter_elements(KernelContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(Reduction red, reduction_of(ctx));
  const Tensor &data = ctx.input(0), &ind = ctx.input(1), &upd = ctx.input(2);
  const int64_t rank = data.rank();
  if (ind.rank() != rank || upd.dims() != ind.dims())
    return ctx.error("indices {} and updates {} must have data's rank {} and one shape", dims_str(ind.dims()),
                     dims_str(upd.dims()), rank);
  if (upd.dtype() != data.dtype()) return ctx.error("data and updates differ in dtype");
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), rank));
  Dims strides = strides_of(data.dims());
  std::vector<Write> writes;
  std::vector<int64_t> pos(rank, 0);
  for (int64_t e = 0; e < ind.numel(); ++e) {
    int64_t dst = 0;
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis) continue;
      if (pos[d] >= data.dim(d))
        return ctx.error("indices shape {} exceeds data shape {}", dims_str(ind.dims()),
                         dims_str(data.dims()));
      dst += pos[d] * strides[d];
    }
    WEEC_ASSIGN_OR_RETURN(int64_t i, fix_index(ctx, ind.get_int(e), data.dim(axis)));
    writes.push_back({dst + i * strides[axis], e});
    next_index(pos, ind.dims());
  }
  Tensor out = data;
  WEEC_TRY(apply_writes(ctx, out, upd, writes, 1, red));
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- ScatterND ----

Status kernel_scatter_nd(KernelContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(Reduction red, reduction_of(ctx));
  const Tensor &data = ctx.input(0), &ind = ctx.input(1), &upd = ctx.input(2);
  int64_t r = data.rank(), q = ind.rank();
  if (q < 1) return ctx.error("indices must have rank >= 1");
  int64_t k = ind.dim(q - 1);
  if (k < 1 || k > r) return ctx.error("index tuples of length {} do not fit data of rank {}", k, r);
  Dims want(ind.dims().begin(), ind.dims().end() - 1);
  want.insert(want.end(), data.dims().begin() + k, data.dims().end());
  if (upd.dims() != want)
    return ctx.error("updates have shape {}, expected {}", dims_str(upd.dims()), dims_str(want));
  if (upd.dtype() != data.dtype()) return ctx.error("data and updates differ in dtype");
  Dims strides = strides_of(data.dims());
  int64_t slice = numel_of(Dims(data.dims().begin() + k, data.dims().end()));
  int64_t tuples = ind.numel() / k;
  std::vector<int64_t> iv = ind.to_int_vector();
  std::vector<Write> writes;
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t dst = 0;
    for (int64_t j = 0; j < k; ++j) {
      WEEC_ASSIGN_OR_RETURN(int64_t i, fix_index(ctx, iv[t * k + j], data.dim(j)));
      dst += i * strides[j];
    }
    writes.push_back({dst, t * slice});
  }
  Tensor out = data;
  WEEC_TRY(apply_writes(ctx, out, upd, writes, slice, red));
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- C emission: copy data to the output, then apply the updates in index
// order, combining in the output buffer (Opaque op: no epilogue to respect) ----

// `dst = combine(dst, u)` as a C statement, like combine() above.
Expected<std::string> combine_statement(const NodeContext& ctx, Reduction r, DType t, const std::string& dst,
                                        const std::string& u) {
  if (r != Reduction::None && t == DType::Bool)
    return ctx.error("reduction '{}' is not supported for bool", ctx.attrs.s("reduction"));
  switch (r) {
    case Reduction::Add:
      return fmt::format("{0} = ({2})({0} + {1});", dst, u, c_type(t));
    case Reduction::Mul:
      return fmt::format("{0} = ({2})({0} * {1});", dst, u, c_type(t));
    case Reduction::Max:  // std::max(a, b): a unless a < b
      return fmt::format("if ({0} < {1}) {0} = {1};", dst, u);
    case Reduction::Min:  // std::min(a, b): a unless b < a
      return fmt::format("if ({1} < {0}) {0} = {1};", dst, u);
    case Reduction::None:
      break;
  }
  return fmt::format("{} = {};", dst, u);
}

void emit_copy_data(CEmitContext& c) {
  std::vector<std::string> i = c.open_loops({c.in_count(0)});
  c.w.line("{}[{}] = {}[{}];", c.out(0), i[0], c.in(0), i[0]);
  c.close_loops(1);
}

Status emit_scatter_elements(CEmitContext& c) {
  WEEC_ASSIGN_OR_RETURN(Reduction red, reduction_of(c));
  const Dims data = c.in_dims(0), ind = c.in_dims(1);
  const int64_t rank = (int64_t)data.size();
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), rank));
  if (ind.size() != data.size() || c.in_dims(2) != ind)
    return c.error("indices and updates must have data's rank and one shape");
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis && ind[d] > data[d])
      return c.error("indices shape {} exceeds data shape {}", dims_str(ind), dims_str(data));
  if (c.out_count(0) == 0) return Status::ok();
  emit_copy_data(c);
  if (numel_of(ind) == 0) return Status::ok();
  Dims strides = strides_of(data), coefs = strides;
  coefs[axis] = 0;
  std::vector<std::string> v = c.open_loops(ind);
  std::string flat = CEmitContext::flat_index(ind, v), ix = c.var("ix");
  emit_wrapped_index(c, ix, 1, flat, data[axis]);
  std::string dst =
      fmt::format("{}[{} + (int32_t){} * {}]", c.out(0), affine_index(0, v, coefs), ix, strides[axis]);
  WEEC_ASSIGN_OR_RETURN(
      std::string st, combine_statement(c, red, c.output_dtype(), dst, fmt::format("{}[{}]", c.in(2), flat)));
  c.w.line("{}", st);
  c.close_loops(v.size());
  return Status::ok();
}

Status emit_scatter_nd(CEmitContext& c) {
  WEEC_ASSIGN_OR_RETURN(Reduction red, reduction_of(c));
  const Dims data = c.in_dims(0), ind = c.in_dims(1);
  int64_t r = (int64_t)data.size(), q = (int64_t)ind.size();
  if (q < 1) return c.error("indices must have rank >= 1");
  int64_t k = ind[q - 1];
  if (k < 1 || k > r) return c.error("index tuples of length {} do not fit data of rank {}", k, r);
  if (c.out_count(0) == 0) return Status::ok();
  emit_copy_data(c);
  int64_t tuples = numel_of(ind) / k, slice = numel_of(Dims(data.begin() + k, data.end()));
  if (tuples == 0 || slice == 0) return Status::ok();
  Dims strides = strides_of(data);
  std::vector<std::string> t = c.open_loops({tuples});
  std::string dst_base;
  for (int64_t j = 0; j < k; ++j) {
    std::string ix = c.var("ix");
    emit_wrapped_index(c, ix, 1, fmt::format("{} * {} + {}", t[0], k, j), data[j]);
    dst_base += fmt::format("{}(int32_t){} * {}", j ? " + " : "", ix, strides[j]);
  }
  std::vector<std::string> e = c.open_loops({slice});
  WEEC_ASSIGN_OR_RETURN(
      std::string st,
      combine_statement(c, red, c.output_dtype(), fmt::format("{}[{} + {}]", c.out(0), dst_base, e[0]),
                        fmt::format("{}[{} * {} + {}]", c.in(2), t[0], slice, e[0])));
  c.w.line("{}", st);
  c.close_loops(2);
  return Status::ok();
}

OpSchema scatter_schema(OpKind kind, std::string_view onnx, KernelFn kernel, EmitCFn emit,
                        std::vector<AttrSpec> attrs, std::string_view doc) {
  OpSchema m{kind, onnx};
  m.since_opset = 11;
  m.min_inputs = m.max_inputs = 3;
  m.attrs = std::move(attrs);
  m.attrs.push_back(attr_string("reduction", "none"));
  m.infer = infer_scatter;
  m.kernel = kernel;
  m.emit_c = emit;
  m.doc = doc;
  return m;
}

}  // namespace

const OpSchema& schema_ScatterElements() {
  static const OpSchema s = scatter_schema(
      OpKind::ScatterElements, "ScatterElements", kernel_scatter_elements, emit_scatter_elements,
      {attr_int("axis", 0)}, "data with updates written along axis at indices (optional reduction)");
  return s;
}

const OpSchema& schema_ScatterND() {
  static const OpSchema s =
      scatter_schema(OpKind::ScatterND, "ScatterND", kernel_scatter_nd, emit_scatter_nd, {},
                     "data with update slices written at index tuples (optional reduction)");
  return s;
}

}  // namespace weec
