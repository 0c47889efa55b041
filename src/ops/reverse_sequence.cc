// ReverseSequence: for each batch entry b, reverses the first
// sequence_lens[b] steps along time_axis. batch_axis and time_axis are 0 and 1
// in either order.
#include "ops/c_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

Status check_axes(const NodeContext& ctx) {
  int64_t b = ctx.attrs.i("batch_axis"), t = ctx.attrs.i("time_axis");
  if (!((b == 0 && t == 1) || (b == 1 && t == 0)))
    return ctx.error("batch_axis/time_axis must be 0/1 or 1/0, got {}/{}", b, t);
  return Status::ok();
}

Status infer_reverse_sequence(InferContext& ctx) {
  WEEC_TRY(check_axes(ctx));
  const TensorType& in = ctx.input_type(0);
  if (in.shape.rank_known && in.shape.rank() < 2)
    return ctx.error("input must have rank >= 2, got {}", type_str(in));
  return infer_same_as_input0(ctx);
}

Status kernel_reverse_sequence(KernelContext& ctx) {
  WEEC_TRY(check_axes(ctx));
  const Tensor& in = ctx.input(0);
  if (in.rank() < 2) return ctx.error("input must have rank >= 2, got {}", dims_str(in.dims()));
  int64_t batch_axis = ctx.attrs.i("batch_axis"), time_axis = ctx.attrs.i("time_axis");
  std::vector<int64_t> lens = ctx.input(1).to_int_vector();
  int64_t batch = in.dim(batch_axis), steps = in.dim(time_axis);
  if ((int64_t)lens.size() != batch)
    return ctx.error("sequence_lens has {} values for batch {}", lens.size(), batch);
  for (int64_t l : lens)
    if (l < 0 || l > steps) return ctx.error("sequence length {} is outside [0, {}]", l, steps);
  Dims strides = strides_of(in.dims());
  int64_t inner = strides[1];  // elements per (dim0, dim1) pair
  Tensor out = in;
  ElemCopy copy(in, out);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < lens[b]; ++t) {
      int64_t src_t = lens[b] - 1 - t;
      int64_t dst = batch_axis == 0 ? b * strides[0] + t * strides[1] : t * strides[0] + b * strides[1];
      int64_t src =
          batch_axis == 0 ? b * strides[0] + src_t * strides[1] : src_t * strides[0] + b * strides[1];
      copy.block(dst, src, inner);
    }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// C: a gather over every element; the source step is reversed below
// sequence_lens[b] (read at run time, clamped to [0, steps] so a bad length
// cannot index outside the input; the kernel rejects it).
Status emit_c_reverse_sequence(CEmitContext& c) {
  WEEC_TRY(check_axes(c));
  Dims in = c.in_dims(0);
  if (in.size() < 2) return c.error("input must have rank >= 2");
  if (numel_of(in) == 0) return Status::ok();
  const int64_t batch_axis = c.attrs.i("batch_axis");
  const int64_t inner = numel_of(in) / (in[0] * in[1]), steps = in[1 - batch_axis];
  std::vector<std::string> idx = c.open_loops({in[0], in[1]});
  const std::string& b = idx[batch_axis];
  const std::string& t = idx[1 - batch_axis];
  std::string len = c.var("len"), src = c.var("src"), e = c.var("e");
  c.w.line("int64_t {} = (int64_t){}[{}];", len, c.in(1), b);
  c.w.line("if ({0} < 0) {0} = 0;", len);
  c.w.line("if ({0} > {1}) {0} = {1};", len, steps);
  c.w.line("const int64_t {0} = {1} < {2} ? {2} - 1 - {1} : {1};", src, t, len);
  std::string from = batch_axis == 0 ? fmt::format("{} * {} + {}", b, in[1], src)
                                     : fmt::format("{} * {} + {}", src, in[1], b);
  std::string to = CEmitContext::flat_index({in[0], in[1]}, idx);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", e, inner);
  c.store(0, {}, c.load(0, fmt::format("({}) * {} + {}", from, inner, e)),
          fmt::format("({}) * {} + {}", to, inner, e));
  c.w.close();
  c.close_loops(2);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_ReverseSequence() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::ReverseSequence, "ReverseSequence"};
    m.since_opset = 10;
    m.min_inputs = m.max_inputs = 2;
    m.attrs = {attr_int("batch_axis", 1), attr_int("time_axis", 0)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_reverse_sequence;
    m.kernel = kernel_reverse_sequence;
    m.emit_c = emit_c_reverse_sequence;
    m.doc = "reverses each batch entry's first sequence_lens[b] time steps";
    return m;
  }();
  return s;
}

}  // namespace weec
