#include "ops/op_util.h"

namespace weec {

bool is_half(DType t) { return t == DType::F16 || t == DType::BF16; }

Tensor to_f32(const Tensor& t) {
  if (t.dtype() == DType::F32) return t;
  Tensor out(DType::F32, t.dims());
  float* o = out.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) o[i] = (float)t.get_double(i);
  return out;
}

Tensor from_f32(const Tensor& t, DType to) {
  if (to == DType::F32) return t;
  Tensor out(to, t.dims());
  const float* in = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) out.set_double(i, in[i]);
  return out;
}

namespace {
template <typename From, typename To>
void convert_loop(const Tensor& in, Tensor& out) {
  const From* s = in.data<From>();
  To* d = out.data<To>();
  for (int64_t i = 0; i < in.numel(); ++i) {
    if constexpr (std::is_same_v<To, bool>)
      d[i] = s[i] != From(0);
    else
      d[i] = static_cast<To>(s[i]);
  }
}
}  // namespace

Tensor convert(const Tensor& t, DType to) {
  if (t.dtype() == to) return t;
  if (is_half(t.dtype())) return convert(to_f32(t), to);
  if (is_half(to)) return from_f32(convert(t, DType::F32), to);
  Tensor out(to, t.dims());
  Status st = visit_numeric(t.dtype(), [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    return visit_numeric(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      convert_loop<From, To>(t, out);
      return Status::ok();
    });
  });
  (void)st;  // both dtypes are numeric here
  return out;
}

Expected<Dims> broadcast_dims(const std::vector<Dims>& shapes) {
  size_t rank = 0;
  for (auto& s : shapes) rank = std::max(rank, s.size());
  Dims out(rank, 1);
  for (auto& s : shapes) {
    size_t off = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[off + i];
      int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::vector<std::string> all;
      for (auto& x : shapes) all.push_back(dims_str(x));
      return Status::error(fmt::format("shapes {} cannot be broadcast", fmt::join(all, ", ")));
    }
  }
  return out;
}

Dims broadcast_strides(const Dims& in, const Dims& out) {
  Dims s(out.size(), 0);
  Dims in_strides = strides_of(in);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) s[off + i] = in[i] == 1 ? 0 : in_strides[i];
  return s;
}

Expected<Shape> broadcast_shapes(const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (auto& s : shapes) {
    if (!s.rank_known) return Shape::unknown_rank();
    rank = std::max(rank, s.dims.size());
  }
  Shape out = Shape::of_rank(rank);
  for (auto& d : out.dims) d = Dim::known(1);
  for (auto& s : shapes) {
    size_t off = rank - s.dims.size();
    for (size_t i = 0; i < s.dims.size(); ++i) {
      Dim& o = out.dims[off + i];
      const Dim& d = s.dims[i];
      if (d.is_known() && d.value == 1) continue;
      if (o.is_known() && o.value == 1) {
        o = d;
        continue;
      }
      if (o == d) continue;
      if (o.is_known() && d.is_known())
        return Status::error(fmt::format("dims {} and {} cannot be broadcast", o.value, d.value));
      // One side unknown/symbolic: a known non-1 dim wins; else unknown.
      if (d.is_known())
        o = d;
      else if (!o.is_known())
        o = Dim::unknown();
    }
  }
  return out;
}

Expected<int64_t> normalize_axis(const NodeContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) return ctx.error("axis {} is out of range for rank {}", axis, rank);
  return axis < 0 ? axis + rank : axis;
}

Status infer_same_as_input0(InferContext& ctx) {
  for (auto& o : ctx.outputs) o = ctx.input_type(0);
  return Status::ok();
}

Status infer_broadcast(InferContext& ctx) {
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i)) shapes.push_back(ctx.input_type(i).shape);
  auto s = broadcast_shapes(shapes);
  if (!s) return ctx.error("{}", s.status().message());
  ctx.outputs[0] = TensorType{ctx.input_type(0).dtype, *s};
  return Status::ok();
}

TensorType static_type(DType dtype, const Dims& dims) { return TensorType{dtype, Shape::of(dims)}; }

// Opset < 7 binary ops: `broadcast=1` with `axis` aligns B's dims to A starting
// at axis. Unsqueezing B's trailing dims turns that into numpy broadcasting.
Status import_legacy_broadcast(ImportContext& ctx, OpKind op) {
  AttrMap attrs = ctx.attrs;
  auto bc = attrs.find("broadcast");
  auto ax = attrs.find("axis");
  bool legacy = bc != attrs.end() && bc->second.i != 0 && ax != attrs.end();
  int64_t axis = legacy ? ax->second.i : 0;
  attrs.erase("broadcast");
  attrs.erase("axis");
  std::vector<Value*> ins = ctx.inputs;
  if (legacy && ins.size() == 2 && ins[0] && ins[1]) {
    const TensorType* ta = (ins[0] ? &ins[0]->type : nullptr);
    const TensorType* tb = (ins[1] ? &ins[1]->type : nullptr);
    if (!ta || !tb || !ta->shape.rank_known || !tb->shape.rank_known)
      return ctx.error("legacy broadcast with axis needs known ranks for both inputs");
    int64_t ra = ta->shape.rank(), rb = tb->shape.rank();
    if (axis < 0) axis += ra;
    int64_t trailing = ra - axis - rb;
    if (axis < 0 || trailing < 0)
      return ctx.error("legacy broadcast axis {} does not fit ranks {} and {}", axis, ra, rb);
    if (trailing > 0) {
      std::vector<int64_t> axes;
      for (int64_t i = 0; i < trailing; ++i) axes.push_back(rb + i);
      if (ins[1]->constant) {  // reshape the constant directly: no extra node
        Tensor t = *ins[1]->constant;
        Dims d = t.dims();
        d.resize(d.size() + trailing, 1);
        t.reshape(d);
        ins[1] = ctx.constant("b", std::move(t));
      } else {
        Value* axes_v = ctx.constant("axes", Tensor::from_vector<int64_t>({(int64_t)axes.size()}, axes));
        Value* b2 = ctx.temp("unsqueezed");
        ctx.emit(OpKind::Unsqueeze, {ins[1], axes_v}, {b2}, {});
        ins[1] = b2;
      }
    }
  }
  ctx.emit(op, ins, ctx.outputs, attrs);
  return Status::ok();
}

}  // namespace weec
