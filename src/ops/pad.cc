// Pad: modes constant, reflect and edge. Canonical form has pads (i64,
// [begin_0.., end_0..]) and the optional constant_value as inputs; before
// opset 11 they were the `pads` (opset 1: `paddings`) and `value` attributes,
// which the import hook turns into constant inputs. Negative pads crop.
#include <algorithm>

#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

enum class PadMode { Constant, Reflect, Edge };

Expected<PadMode> pad_mode(const NodeContext& ctx) {
  const std::string& m = ctx.attrs.s("mode");
  if (m == "constant") return PadMode::Constant;
  if (m == "reflect") return PadMode::Reflect;
  if (m == "edge") return PadMode::Edge;
  return ctx.error("mode '{}' is not supported (constant, reflect, edge)", m);
}

Expected<std::vector<int64_t>> pads_of(const NodeContext& ctx, const Tensor& t, int64_t rank) {
  if (t.rank() > 1) return ctx.error("pads must be 1-D, got {}", dims_str(t.dims()));
  std::vector<int64_t> p = t.to_int_vector();
  if ((int64_t)p.size() != 2 * rank) return ctx.error("pads has {} values for rank {}", p.size(), rank);
  return p;
}

Status infer_pad(InferContext& ctx) {
  WEEC_TRY(pad_mode(ctx).status());
  const TensorType& in = ctx.input_type(0);
  ctx.outputs[0] = TensorType{in.dtype, in.shape.rank_known ? Shape::of_rank(in.shape.rank()) : in.shape};
  const Tensor* p = ctx.input_constant(1);
  if (!in.shape.rank_known || !p) return Status::ok();
  const int64_t rank = in.shape.rank();
  WEEC_ASSIGN_OR_RETURN(auto pads, pads_of(ctx, *p, rank));
  for (int64_t d = 0; d < rank; ++d) {
    const Dim& dim = in.shape.dims[d];
    int64_t add = pads[d] + pads[d + rank];
    if (dim.is_known()) {
      if (dim.value + add < 0) return ctx.error("pads make dim {} negative", d);
      ctx.outputs[0].shape.dims[d] = Dim::known(dim.value + add);
    } else if (add == 0 && pads[d] == 0) {
      ctx.outputs[0].shape.dims[d] = dim;
    }
  }
  return Status::ok();
}

// Input coordinate for output coordinate o along an axis of size n, or -1 for
// the constant fill.
int64_t source_coord(int64_t o, int64_t begin, int64_t n, PadMode mode) {
  int64_t c = o - begin;
  if (c >= 0 && c < n) return c;
  switch (mode) {
    case PadMode::Constant:
      return -1;
    case PadMode::Edge:
      return c < 0 ? 0 : n - 1;
    case PadMode::Reflect: {
      if (n == 1) return 0;
      int64_t period = 2 * (n - 1);
      c %= period;
      if (c < 0) c += period;
      return c >= n ? period - c : c;
    }
  }
  return -1;
}

// Fill value converted to the data dtype (integers exactly, others via double).
Tensor fill_value(const Tensor* cv, DType dtype) {
  Tensor v(dtype, {1});
  if (!cv || cv->numel() == 0) return v;
  if (cv->dtype() == dtype) {
    ElemCopy(*cv, v)(0, 0);
  } else if (is_integer(dtype) && (is_integer(cv->dtype()) || cv->dtype() == DType::Bool)) {
    Tensor i64 = Tensor::scalar<int64_t>(cv->get_int(0));
    v = convert(i64, dtype);
    v.reshape({1});
  } else {
    v.set_double(0, cv->get_double(0));
  }
  return v;
}

Status kernel_pad(KernelContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(PadMode mode, pad_mode(ctx));
  const Tensor& in = ctx.input(0);
  const int64_t rank = in.rank();
  WEEC_ASSIGN_OR_RETURN(auto pads, pads_of(ctx, ctx.input(1), rank));
  Dims out_dims(rank);
  std::vector<std::vector<int64_t>> maps(rank);  // per axis: output coord -> input coord or -1
  for (int64_t d = 0; d < rank; ++d) {
    out_dims[d] = in.dim(d) + pads[d] + pads[d + rank];
    if (out_dims[d] < 0) return ctx.error("pads make dim {} negative", d);
    if (mode != PadMode::Constant && in.dim(d) == 0 && out_dims[d] > 0)
      return ctx.error("cannot {}-pad the empty axis {}", ctx.attrs.s("mode"), d);
    for (int64_t o = 0; o < out_dims[d]; ++o) maps[d].push_back(source_coord(o, pads[d], in.dim(d), mode));
  }
  if (ctx.has_input(2) && in.dtype() == DType::String)
    return ctx.error("string data cannot take a constant_value");
  Tensor fill = fill_value(ctx.has_input(2) ? &ctx.input(2) : nullptr, in.dtype());
  Tensor out(in.dtype(), out_dims);
  ElemCopy copy(in, out), put_fill(fill, out);
  Dims strides = strides_of(in.dims());
  std::vector<int64_t> idx(rank, 0);
  for (int64_t o = 0; o < out.numel(); ++o) {
    int64_t src = 0;
    bool inside = true;
    for (int64_t d = 0; d < rank && inside; ++d) {
      int64_t c = maps[d][idx[d]];
      inside = c >= 0;
      src += c * strides[d];
    }
    if (inside)
      copy(o, src);
    else
      put_fill(o, 0);
    next_index(idx, out_dims);
  }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// Pads must be constant. Per axis, the input coordinate is the loop variable
// (unpadded axis), the variable shifted by the begin pad (constant mode, with
// a range check where the axis is padded), or a table lookup (edge, reflect).
Status emit_pad(CEmitContext& c) {
  WEEC_ASSIGN_OR_RETURN(PadMode mode, pad_mode(c));
  const Dims in = c.in_dims(0), out = c.out_dims(0);
  const int64_t rank = (int64_t)in.size();
  const Tensor* p = c.input_constant(1);
  if (!p) return c.error("pads must be a constant for the C backend");
  WEEC_ASSIGN_OR_RETURN(auto pads, pads_of(c, *p, rank));
  if (c.out_count(0) == 0) return Status::ok();
  std::string fill;
  if (mode == PadMode::Constant) {
    if (const Tensor* cv = c.input_constant(2))
      fill = element_literal(fill_value(cv, c.input_dtype(0)), 0);
    else if (c.has_input(2) && c.input_dtype(2) == c.input_dtype(0))
      fill = fmt::format("{}[0]", c.in(2));
    else if (c.has_input(2))
      return c.error("a run-time constant_value must have the data's dtype");
    else
      fill = element_literal(fill_value(nullptr, c.input_dtype(0)), 0);
  }
  std::vector<std::string> tables(rank);
  for (int64_t d = 0; d < rank; ++d) {
    if (mode == PadMode::Constant || (pads[d] == 0 && out[d] == in[d])) continue;
    if (in[d] == 0) return c.error("cannot {}-pad the empty axis {}", c.attrs.s("mode"), d);
    std::vector<int64_t> map;
    for (int64_t o = 0; o < out[d]; ++o) map.push_back(source_coord(o, pads[d], in[d], mode));
    tables[d] = emit_index_table(c, "pad_map", map);
  }
  std::vector<std::string> v = c.open_loops(out);
  Dims strides = strides_of(in), coefs(rank, 0);
  int64_t base = 0;
  std::string table_terms, cond;
  for (int64_t d = 0; d < rank; ++d) {
    if (!tables[d].empty()) {
      table_terms += fmt::format(" + {}[{}]", tables[d], v[d]);
      if (strides[d] != 1) table_terms += fmt::format(" * {}", strides[d]);
      continue;
    }
    coefs[d] = strides[d];
    base -= pads[d] * strides[d];
    std::string lo = pads[d] > 0 ? fmt::format("{} >= {}", v[d], pads[d]) : "";
    std::string hi = pads[d] + in[d] < out[d] ? fmt::format("{} < {}", v[d], pads[d] + in[d]) : "";
    for (const std::string& part : {lo, hi})
      if (!part.empty()) cond += (cond.empty() ? "" : " && ") + part;
  }
  std::string value = c.load(0, affine_index(base, v, coefs) + table_terms);
  if (!cond.empty()) value = fmt::format("({}) ? {} : {}", cond, value, fill);
  c.store(0, v, value);
  c.close_loops(v.size());
  return Status::ok();
}

// Opset < 11: pads (`paddings` in opset 1) and value were attributes.
Status import_pad(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  std::vector<Value*> ins = ctx.inputs;
  Value* pads = attr_to_input(ctx, attrs, "pads");
  if (!pads) pads = attr_to_input(ctx, attrs, "paddings");
  if (pads) {
    ins = {ins[0], pads};
    auto v = attrs.find("value");
    if (v != attrs.end()) {
      // Inputs are typed as the importer goes, so the fill can take the data dtype.
      Tensor value(ins[0]->type.dtype, {});
      if (value.dtype() != DType::String) value.set_double(0, v->second.f);
      ins.push_back(ctx.constant("value", std::move(value)));
      attrs.erase(v);
    }
  }
  if (ins.size() < 2 || !ins[1]) return ctx.error("Pad needs pads");
  ctx.emit(OpKind::Pad, ins, ctx.outputs, attrs);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Pad() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Pad, "Pad"};
    m.min_inputs = 2;
    m.max_inputs = 3;
    m.attrs = {attr_string("mode", "constant")};
    m.fusion = FusionKind::Injective;
    m.infer = infer_pad;
    m.kernel = kernel_pad;
    m.emit_c = emit_pad;
    m.import = import_pad;
    m.doc = "pads (or crops, if negative) each axis: constant, reflect or edge";
    return m;
  }();
  return s;
}

}  // namespace weec
