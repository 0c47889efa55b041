// If, Loop, Scan: control flow over subgraph attributes. The kernels run the
// bodies through ctx.run_subgraph (the interpreter passes its environment as
// the outer scope, so bodies may read enclosing values directly). Inference
// reads the bodies' already-inferred output types (infer_graph visits
// subgraphs before their node); loop and scan outputs get the iteration dim
// prepended (or inserted), unknown unless the trip count is statically known.
// Loop follows ONNX Runtime and the ONNX reference: the body's cond_out is
// honoured even when the cond input is omitted. Scan supports opset 9+ only
// (opset 8 had a batch dim and sequence_lens).
#include <cstring>
#include <limits>

#include "ops/op_util.h"

namespace weec {

namespace {

// A Loop that never ends would hang the interpreter; no small network needs more.
constexpr int64_t kMaxLoopIterations = 10'000'000;

// ---- helpers shared by the three ops ----

// The most specific shape both a and b satisfy: differing dims become unknown,
// differing ranks an unknown rank.
Shape merge_shapes(const Shape& a, const Shape& b) {
  if (!a.rank_known || !b.rank_known || a.rank() != b.rank()) return Shape::unknown_rank();
  Shape s = a;
  for (size_t i = 0; i < s.dims.size(); ++i)
    if (!(a.dims[i] == b.dims[i])) s.dims[i] = Dim::unknown();
  return s;
}

// `s` with a new dim `d` inserted at `axis` (in [0, rank]); unknown rank stays unknown.
Shape insert_dim(const Shape& s, int64_t axis, Dim d) {
  if (!s.rank_known) return Shape::unknown_rank();
  Shape r = s;
  r.dims.insert(r.dims.begin() + axis, std::move(d));
  return r;
}

// Copies n elements src[s_off..] to dst[d_off..] (same dtype; strings included).
void copy_elems(Tensor& dst, int64_t d_off, const Tensor& src, int64_t s_off, int64_t n) {
  if (n <= 0) return;
  if (dst.dtype() == DType::String) {
    for (int64_t i = 0; i < n; ++i) dst.strings()[d_off + i] = src.strings()[s_off + i];
    return;
  }
  size_t es = dtype_size(dst.dtype());
  std::memcpy(static_cast<uint8_t*>(dst.raw()) + d_off * es,
              static_cast<const uint8_t*>(src.raw()) + s_off * es, n * es);
}

int64_t prod(const Dims& d, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= d[i];
  return p;
}

// t[..., index, ...] along `axis`, that axis removed (Scan's per-iteration input).
Tensor take_slice(const Tensor& t, int64_t axis, int64_t index) {
  Dims d = t.dims();
  int64_t len = d[axis], outer = prod(d, 0, axis), inner = prod(d, axis + 1, d.size());
  d.erase(d.begin() + axis);
  Tensor out(t.dtype(), d);
  for (int64_t o = 0; o < outer; ++o) copy_elems(out, o * inner, t, (o * len + index) * inner, inner);
  return out;
}

// Dims of a per-iteration output when no iteration ran, from the body's static
// type: unknown dims read as 0 (the stack is empty whatever they are), an
// unknown rank as a scalar, so the stacked result is [0] then.
Dims empty_piece_dims(const TensorType& t) {
  Dims d;
  if (!t.shape.rank_known) return d;
  for (const Dim& x : t.shape.dims) d.push_back(x.is_known() ? x.value : 0);
  return d;
}

// Stacks per-iteration outputs along a new `axis`; with `reverse` the first
// piece goes last. `piece_dims`/`dtype` describe the pieces (used when there
// are none); every piece must match them.
Expected<Tensor> stack_pieces(const NodeContext& ctx, size_t out_index, const std::vector<Tensor>& pieces,
                              const Dims& piece_dims, DType dtype, int64_t axis, bool reverse) {
  for (size_t t = 0; t < pieces.size(); ++t)
    if (pieces[t].dims() != piece_dims || pieces[t].dtype() != dtype)
      return ctx.error("scan output {} is {}{} at iteration {} but {}{} at iteration 0", out_index,
                       dtype_name(pieces[t].dtype()), dims_str(pieces[t].dims()), t, dtype_name(dtype),
                       dims_str(piece_dims));
  int64_t n = (int64_t)pieces.size();
  Dims d = piece_dims;
  d.insert(d.begin() + axis, n);
  Tensor out(dtype, d);
  int64_t outer = prod(piece_dims, 0, axis), inner = prod(piece_dims, axis, piece_dims.size());
  for (int64_t t = 0; t < n; ++t) {
    int64_t pos = reverse ? n - 1 - t : t;
    for (int64_t o = 0; o < outer; ++o) copy_elems(out, (o * n + pos) * inner, pieces[t], o * inner, inner);
  }
  return out;
}

const Graph* body_graph(const NodeContext& ctx, const char* name) { return ctx.attrs.graph(name); }

Status run_body(KernelContext& ctx, const Graph& body, const std::vector<const Tensor*>& ins,
                std::vector<Tensor>& outs, const std::string& where) {
  if (!ctx.run_subgraph) return ctx.error("no subgraph runner was supplied");
  auto r = (*ctx.run_subgraph)(body, ins);
  if (!r) return ctx.error("{}: {}", where, r.status().message());
  if (r->size() != body.outputs.size())
    return ctx.error("{}: body returned {} values for {} outputs", where, r->size(), body.outputs.size());
  outs = std::move(*r);
  return Status::ok();
}

// ---- If ----

Status check_if_branches(const NodeContext& ctx, const Graph*& then_g, const Graph*& else_g) {
  then_g = body_graph(ctx, "then_branch");
  else_g = body_graph(ctx, "else_branch");
  if (!then_g || !else_g) return ctx.error("needs then_branch and else_branch graphs");
  if (!then_g->inputs.empty() || !else_g->inputs.empty())
    return ctx.error("If branches must not take inputs");
  if (then_g->outputs.size() != else_g->outputs.size())
    return ctx.error("then_branch has {} outputs but else_branch {}", then_g->outputs.size(),
                     else_g->outputs.size());
  if (ctx.node.outputs.size() > then_g->outputs.size())
    return ctx.error("has {} outputs but the branches produce {}", ctx.node.outputs.size(),
                     then_g->outputs.size());
  return Status::ok();
}

Status infer_if(InferContext& ctx) {
  const Graph *then_g, *else_g;
  WEEC_TRY(check_if_branches(ctx, then_g, else_g));
  // A constant condition picks its branch's types exactly.
  const Tensor* c = ctx.input_constant(0);
  const Graph* taken = c && c->numel() == 1 ? (c->get_int(0) != 0 ? then_g : else_g) : nullptr;
  for (size_t i = 0; i < ctx.outputs.size(); ++i) {
    const TensorType& a = then_g->outputs[i]->type;
    const TensorType& b = else_g->outputs[i]->type;
    if (taken) {
      ctx.outputs[i] = taken->outputs[i]->type;
      continue;
    }
    if (a.dtype != b.dtype)
      return ctx.error("output {} is {} in then_branch but {} in else_branch", i, dtype_name(a.dtype),
                       dtype_name(b.dtype));
    ctx.outputs[i] = TensorType{a.dtype, merge_shapes(a.shape, b.shape)};
  }
  return Status::ok();
}

Status if_kernel(KernelContext& ctx) {
  const Graph *then_g, *else_g;
  WEEC_TRY(check_if_branches(ctx, then_g, else_g));
  const Tensor& c = ctx.input(0);
  if (c.numel() != 1 || c.dtype() == DType::String)
    return ctx.error("cond must be a single bool, got {}{}", dtype_name(c.dtype()), dims_str(c.dims()));
  bool cond = c.get_int(0) != 0;
  std::vector<Tensor> outs;
  WEEC_TRY(run_body(ctx, cond ? *then_g : *else_g, {}, outs, cond ? "then_branch" : "else_branch"));
  for (size_t i = 0; i < ctx.outputs.size(); ++i) ctx.outputs[i] = std::move(outs[i]);
  return Status::ok();
}

// ---- Loop ----

struct LoopShape {
  const Graph* body = nullptr;
  size_t carried = 0, scans = 0;
};

Expected<LoopShape> loop_shape(const NodeContext& ctx) {
  LoopShape s;
  s.body = body_graph(ctx, "body");
  if (!s.body) return ctx.error("needs a body graph");
  const Graph& b = *s.body;
  if (b.inputs.size() < 2)
    return ctx.error("body must take (iteration_num, cond, carried...), it has {} inputs", b.inputs.size());
  s.carried = b.inputs.size() - 2;
  if (b.outputs.size() < 1 + s.carried)
    return ctx.error("body has {} outputs, needs at least cond plus {} carried values", b.outputs.size(),
                     s.carried);
  s.scans = b.outputs.size() - 1 - s.carried;
  size_t n_in = ctx.node.inputs.size();
  // Trailing omitted inputs are dropped at import, so M and cond may be missing entirely.
  if (n_in != 2 + s.carried && !(s.carried == 0 && n_in < 2))
    return ctx.error("has {} inputs but the body carries {} values (expected {} inputs)", n_in, s.carried,
                     2 + s.carried);
  for (size_t i = 0; i < s.carried; ++i)
    if (!ctx.node.input(2 + i)) return ctx.error("initial value of carried input {} is missing", i);
  if (ctx.node.outputs.size() > s.carried + s.scans)
    return ctx.error("has {} outputs but the body yields {} carried and {} scan outputs",
                     ctx.node.outputs.size(), s.carried, s.scans);
  return s;
}

// Trip count when it is statically known: M constant and the loop either never
// starts or cannot stop early (cond absent/true and the body passes cond through
// unchanged or returns constant true).
Dim static_trip_count(const InferContext& ctx, const Graph& body) {
  const Tensor* m = ctx.input_constant(0);
  const Tensor* c = ctx.input_constant(1);
  if (c && c->numel() == 1 && c->get_int(0) == 0) return Dim::known(0);
  if (!m || m->numel() != 1) return Dim::unknown();
  int64_t trips = std::max<int64_t>(m->get_int(0), 0);
  if (trips == 0) return Dim::known(0);
  if (ctx.has_input(1) && !c) return Dim::unknown();
  const Value* cond_out = body.outputs[0];
  bool passthrough = cond_out == body.inputs[1] || (cond_out->constant && cond_out->constant->numel() == 1 &&
                                                    cond_out->constant->get_int(0) != 0);
  return passthrough && trips <= kMaxLoopIterations ? Dim::known(trips) : Dim::unknown();
}

Status infer_loop(InferContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(LoopShape s, loop_shape(ctx));
  const Graph& body = *s.body;
  Dim trips = static_trip_count(ctx, body);
  for (size_t i = 0; i < ctx.outputs.size(); ++i) {
    if (i < s.carried) {
      const TensorType& init = ctx.input_type(2 + i);
      const TensorType& next = body.outputs[1 + i]->type;
      if (init.dtype != next.dtype)
        return ctx.error("carried value {} starts as {} but the body returns {}", i, dtype_name(init.dtype),
                         dtype_name(next.dtype));
      // Zero iterations return the initial value, otherwise the body's last output.
      ctx.outputs[i] = TensorType{init.dtype, merge_shapes(init.shape, next.shape)};
    } else {
      const TensorType& piece = body.outputs[1 + i]->type;
      ctx.outputs[i] = TensorType{piece.dtype, insert_dim(piece.shape, 0, trips)};
    }
  }
  return Status::ok();
}

// A scalar shaped as the body declares it: the spec says scalar, but some
// exporters declare iteration_num / cond with shape [1].
Tensor shaped_like(const Value& decl, Tensor t) {
  const Shape& s = decl.type.shape;
  if (!s.rank_known || s.rank() == 0) return t;
  for (const Dim& d : s.dims)
    if (d.is_known() && d.value != 1) return t;  // let run_graph report the mismatch
  t.reshape(Dims(s.rank(), 1));
  return t;
}

Status loop_kernel(KernelContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(LoopShape s, loop_shape(ctx));
  const Graph& body = *s.body;
  int64_t max_trips = std::numeric_limits<int64_t>::max();
  if (ctx.has_input(0)) {
    const Tensor& m = ctx.input(0);
    if (m.numel() != 1 || !is_integer(m.dtype()))
      return ctx.error("M must be a single integer, got {}{}", dtype_name(m.dtype()), dims_str(m.dims()));
    max_trips = m.get_int(0);
  }
  bool cond = true;
  if (ctx.has_input(1)) {
    const Tensor& c = ctx.input(1);
    if (c.numel() != 1 || c.dtype() == DType::String)
      return ctx.error("cond must be a single bool, got {}{}", dtype_name(c.dtype()), dims_str(c.dims()));
    cond = c.get_int(0) != 0;
  }
  std::vector<Tensor> carried;
  for (size_t i = 0; i < s.carried; ++i) carried.push_back(ctx.input(2 + i));
  std::vector<std::vector<Tensor>> scans(s.scans);

  Tensor iter_t = shaped_like(*body.inputs[0], Tensor::scalar<int64_t>(0));
  Tensor cond_t = shaped_like(*body.inputs[1], Tensor::scalar<bool>(true));
  std::vector<Tensor> outs;
  for (int64_t it = 0; it < max_trips && cond; ++it) {
    if (it >= kMaxLoopIterations)
      return ctx.error(
          "stopped after {} iterations, weec's limit: cond never became false and M is absent "
          "or larger (runaway loop?)",
          it);
    iter_t.data<int64_t>()[0] = it;
    cond_t.data<bool>()[0] = cond;
    std::vector<const Tensor*> ins = {&iter_t, &cond_t};
    for (const Tensor& c : carried) ins.push_back(&c);
    WEEC_TRY(run_body(ctx, body, ins, outs, fmt::format("loop body, iteration {}", it)));
    const Tensor& c = outs[0];
    if (c.numel() != 1 || c.dtype() == DType::String)
      return ctx.error("body's cond output must be a single bool, got {}{}", dtype_name(c.dtype()),
                       dims_str(c.dims()));
    cond = c.get_int(0) != 0;
    for (size_t i = 0; i < s.carried; ++i) carried[i] = std::move(outs[1 + i]);
    for (size_t k = 0; k < s.scans; ++k) scans[k].push_back(std::move(outs[1 + s.carried + k]));
  }

  for (size_t i = 0; i < ctx.outputs.size(); ++i) {
    if (i < s.carried) {
      ctx.outputs[i] = std::move(carried[i]);
      continue;
    }
    const std::vector<Tensor>& pieces = scans[i - s.carried];
    const TensorType& decl = body.outputs[1 + i]->type;
    Dims pd = pieces.empty() ? empty_piece_dims(decl) : pieces[0].dims();
    DType dt = pieces.empty() ? decl.dtype : pieces[0].dtype();
    WEEC_ASSIGN_OR_RETURN(ctx.outputs[i], stack_pieces(ctx, i, pieces, pd, dt, 0, false));
  }
  return Status::ok();
}

// ---- Scan (opset 9+) ----

struct ScanShape {
  const Graph* body = nullptr;
  size_t states = 0, scan_ins = 0, scan_outs = 0;
  std::vector<int64_t> in_axes, in_dirs, out_axes, out_dirs;  // raw attribute values, defaults filled
};

Expected<std::vector<int64_t>> per_item_attr(const NodeContext& ctx, const char* name, size_t n) {
  std::vector<int64_t> v = ctx.attrs.ints(name);
  if (v.empty()) return std::vector<int64_t>(n, 0);
  if (v.size() != n) return ctx.error("{} has {} entries, expected {}", name, v.size(), n);
  if (std::string_view(name).find("direction") != std::string_view::npos)
    for (int64_t d : v)
      if (d != 0 && d != 1) return ctx.error("{} values must be 0 or 1, got {}", name, d);
  return v;
}

Expected<ScanShape> scan_shape(const NodeContext& ctx) {
  ScanShape s;
  s.body = body_graph(ctx, "body");
  if (!s.body) return ctx.error("needs a body graph");
  int64_t m = ctx.attrs.i("num_scan_inputs");
  int64_t n_in = (int64_t)ctx.node.inputs.size();
  if (m < 1 || m > n_in) return ctx.error("num_scan_inputs = {} but the node has {} inputs", m, n_in);
  s.scan_ins = (size_t)m;
  s.states = (size_t)(n_in - m);
  for (int64_t i = 0; i < n_in; ++i)
    if (!ctx.node.input(i)) return ctx.error("input {} is missing", i);
  const Graph& b = *s.body;
  if (b.inputs.size() != s.states + s.scan_ins)
    return ctx.error("body takes {} inputs, expected {} states + {} scan inputs", b.inputs.size(), s.states,
                     s.scan_ins);
  if (b.outputs.size() < s.states)
    return ctx.error("body has {} outputs, fewer than the {} states", b.outputs.size(), s.states);
  s.scan_outs = b.outputs.size() - s.states;
  if (ctx.node.outputs.size() > b.outputs.size())
    return ctx.error("has {} outputs but the body yields {}", ctx.node.outputs.size(), b.outputs.size());
  WEEC_ASSIGN_OR_RETURN(s.in_axes, per_item_attr(ctx, "scan_input_axes", s.scan_ins));
  WEEC_ASSIGN_OR_RETURN(s.in_dirs, per_item_attr(ctx, "scan_input_directions", s.scan_ins));
  WEEC_ASSIGN_OR_RETURN(s.out_axes, per_item_attr(ctx, "scan_output_axes", s.scan_outs));
  WEEC_ASSIGN_OR_RETURN(s.out_dirs, per_item_attr(ctx, "scan_output_directions", s.scan_outs));
  return s;
}

Status infer_scan(InferContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(ScanShape s, scan_shape(ctx));
  const Graph& body = *s.body;
  // Sequence length: the first scan input whose scanned dim is known.
  Dim seq = Dim::unknown();
  for (size_t j = 0; j < s.scan_ins; ++j) {
    const Shape& sh = ctx.input_type(s.states + j).shape;
    if (!sh.rank_known) continue;
    WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, s.in_axes[j], sh.rank()));
    const Dim& d = sh.dims[axis];
    if (d.is_known() || (!seq.is_known() && !d.symbol.empty())) seq = d;
    if (seq.is_known()) break;
  }
  for (size_t i = 0; i < ctx.outputs.size(); ++i) {
    const TensorType& out = body.outputs[i]->type;
    if (i < s.states) {
      const TensorType& init = ctx.input_type(i);
      if (init.dtype != out.dtype)
        return ctx.error("state {} starts as {} but the body returns {}", i, dtype_name(init.dtype),
                         dtype_name(out.dtype));
      ctx.outputs[i] = TensorType{init.dtype, merge_shapes(init.shape, out.shape)};
      continue;
    }
    size_t k = i - s.states;
    if (!out.shape.rank_known) {
      ctx.outputs[i] = TensorType{out.dtype, Shape::unknown_rank()};
      continue;
    }
    WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, s.out_axes[k], out.shape.rank() + 1));
    ctx.outputs[i] = TensorType{out.dtype, insert_dim(out.shape, axis, seq)};
  }
  return Status::ok();
}

Status scan_kernel(KernelContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(ScanShape s, scan_shape(ctx));
  const Graph& body = *s.body;
  std::vector<int64_t> axes(s.scan_ins);
  int64_t seq_len = -1;
  for (size_t j = 0; j < s.scan_ins; ++j) {
    const Tensor& x = ctx.input(s.states + j);
    if (x.rank() == 0) return ctx.error("scan input {} is a scalar; it needs an axis to scan", j);
    WEEC_ASSIGN_OR_RETURN(axes[j], normalize_axis(ctx, s.in_axes[j], x.rank()));
    int64_t len = x.dim(axes[j]);
    if (seq_len >= 0 && len != seq_len)
      return ctx.error("scan inputs disagree on the sequence length: {} and {}", seq_len, len);
    seq_len = len;
  }
  std::vector<Tensor> states;
  for (size_t i = 0; i < s.states; ++i) states.push_back(ctx.input(i));
  std::vector<std::vector<Tensor>> pieces(s.scan_outs);
  std::vector<Tensor> slices(s.scan_ins), outs;
  for (int64_t t = 0; t < seq_len; ++t) {
    std::vector<const Tensor*> ins;
    for (const Tensor& st : states) ins.push_back(&st);
    for (size_t j = 0; j < s.scan_ins; ++j) {
      int64_t idx = s.in_dirs[j] ? seq_len - 1 - t : t;
      slices[j] = take_slice(ctx.input(s.states + j), axes[j], idx);
      ins.push_back(&slices[j]);
    }
    WEEC_TRY(run_body(ctx, body, ins, outs, fmt::format("scan body, iteration {}", t)));
    for (size_t i = 0; i < s.states; ++i) states[i] = std::move(outs[i]);
    for (size_t k = 0; k < s.scan_outs; ++k) pieces[k].push_back(std::move(outs[s.states + k]));
  }
  for (size_t i = 0; i < ctx.outputs.size(); ++i) {
    if (i < s.states) {
      ctx.outputs[i] = std::move(states[i]);
      continue;
    }
    size_t k = i - s.states;
    const TensorType& decl = body.outputs[i]->type;
    const std::vector<Tensor>& p = pieces[k];
    Dims pd = p.empty() ? empty_piece_dims(decl) : p[0].dims();
    DType dt = p.empty() ? decl.dtype : p[0].dtype();
    WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, s.out_axes[k], (int64_t)pd.size() + 1));
    WEEC_ASSIGN_OR_RETURN(ctx.outputs[i], stack_pieces(ctx, i, p, pd, dt, axis, s.out_dirs[k] != 0));
  }
  return Status::ok();
}

}  // namespace

const OpSchema& schema_If() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::If, "If"};
    m.min_inputs = m.max_inputs = 1;
    m.min_outputs = 1;
    m.max_outputs = -1;
    m.attrs = {attr_required("then_branch", Attribute::Kind::Graph),
               attr_required("else_branch", Attribute::Kind::Graph)};
    m.infer = infer_if;
    m.kernel = if_kernel;
    m.doc = "runs then_branch or else_branch on a bool condition";
    return m;
  }();
  return s;
}

const OpSchema& schema_Loop() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Loop, "Loop"};
    // M and cond are optional; with no carried values import may drop both.
    m.min_inputs = 0;
    m.max_inputs = -1;
    m.min_outputs = 0;
    m.max_outputs = -1;
    m.attrs = {attr_required("body", Attribute::Kind::Graph)};
    m.infer = infer_loop;
    m.kernel = loop_kernel;
    m.doc = "runs body up to M times while cond; carried values and stacked scan outputs";
    return m;
  }();
  return s;
}

const OpSchema& schema_Scan() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Scan, "Scan"};
    m.since_opset = 9;  // opset 8's batch dim and sequence_lens are not supported
    m.min_inputs = 1;
    m.max_inputs = -1;
    m.min_outputs = 1;
    m.max_outputs = -1;
    m.attrs = {attr_required("body", Attribute::Kind::Graph),
               attr_required("num_scan_inputs", Attribute::Kind::Int),
               attr_optional("scan_input_axes", Attribute::Kind::Ints),
               attr_optional("scan_input_directions", Attribute::Kind::Ints),
               attr_optional("scan_output_axes", Attribute::Kind::Ints),
               attr_optional("scan_output_directions", Attribute::Kind::Ints)};
    m.infer = infer_scan;
    m.kernel = scan_kernel;
    m.doc = "runs body over slices of the scan inputs with carried state (opset 9+)";
    return m;
  }();
  return s;
}

}  // namespace weec
