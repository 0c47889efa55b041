// DepthToSpace (DCR and CRD modes; opset 1 had no mode and means DCR) and
// SpaceToDepth on NCHW tensors, both as a reshape + permutation.
#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

Dim dim_div(const Dim& d, int64_t b) { return d.is_known() ? Dim::known(d.value / b) : Dim::unknown(); }
Dim dim_mul(const Dim& d, int64_t b) { return d.is_known() ? Dim::known(d.value * b) : Dim::unknown(); }

Expected<int64_t> blocksize(const NodeContext& ctx) {
  int64_t b = ctx.attrs.i("blocksize");
  if (b <= 0) return ctx.error("blocksize must be positive, got {}", b);
  return b;
}

Status infer_depth_to_space(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  WEEC_ASSIGN_OR_RETURN(int64_t b, blocksize(ctx));
  const std::string& mode = ctx.attrs.s("mode");
  if (mode != "DCR" && mode != "CRD") return ctx.error("mode '{}' is not DCR or CRD", mode);
  TensorType out{in.dtype, Shape::of_rank(4)};
  if (in.shape.rank_known) {
    if (in.shape.rank() != 4) return ctx.error("input must be 4-D, got {}", type_str(in));
    const auto& d = in.shape.dims;
    if (d[1].is_known() && d[1].value % (b * b) != 0)
      return ctx.error("channels {} are not divisible by blocksize^2 = {}", d[1].value, b * b);
    out.shape.dims = {d[0], dim_div(d[1], b * b), dim_mul(d[2], b), dim_mul(d[3], b)};
  }
  ctx.outputs[0] = out;
  return Status::ok();
}

Status kernel_depth_to_space(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(int64_t b, blocksize(ctx));
  if (in.rank() != 4) return ctx.error("input must be 4-D, got {}", dims_str(in.dims()));
  int64_t n = in.dim(0), c = in.dim(1), h = in.dim(2), w = in.dim(3);
  if (c % (b * b) != 0) return ctx.error("channels {} are not divisible by blocksize^2 = {}", c, b * b);
  int64_t oc = c / (b * b);
  Tensor out;
  if (ctx.attrs.s("mode") == "CRD")
    out = permute_tensor(in, {n, oc, b, b, h, w}, {0, 1, 4, 2, 5, 3});
  else
    out = permute_tensor(in, {n, b, b, oc, h, w}, {0, 3, 4, 1, 5, 2});
  out.reshape({n, oc, h * b, w * b});
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

Status infer_space_to_depth(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  WEEC_ASSIGN_OR_RETURN(int64_t b, blocksize(ctx));
  TensorType out{in.dtype, Shape::of_rank(4)};
  if (in.shape.rank_known) {
    if (in.shape.rank() != 4) return ctx.error("input must be 4-D, got {}", type_str(in));
    const auto& d = in.shape.dims;
    for (int i = 2; i < 4; ++i)
      if (d[i].is_known() && d[i].value % b != 0)
        return ctx.error("spatial dim {} is not divisible by blocksize {}", d[i].value, b);
    out.shape.dims = {d[0], dim_mul(d[1], b * b), dim_div(d[2], b), dim_div(d[3], b)};
  }
  ctx.outputs[0] = out;
  return Status::ok();
}

Status kernel_space_to_depth(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(int64_t b, blocksize(ctx));
  if (in.rank() != 4) return ctx.error("input must be 4-D, got {}", dims_str(in.dims()));
  int64_t n = in.dim(0), c = in.dim(1), h = in.dim(2), w = in.dim(3);
  if (h % b != 0 || w % b != 0)
    return ctx.error("spatial dims {}x{} are not divisible by blocksize {}", h, w, b);
  Tensor out = permute_tensor(in, {n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4});
  out.reshape({n, c * b * b, h / b, w / b});
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// Both ops are a permutation of a 6-D view of the input, as in the kernels.
Status emit_depth_to_space(CEmitContext& c) {
  WEEC_ASSIGN_OR_RETURN(int64_t b, blocksize(c));
  Dims in = c.in_dims(0);
  int64_t n = in[0], ch = in[1], h = in[2], w = in[3], oc = ch / (b * b);
  if (c.attrs.s("mode") == "CRD")
    emit_strided_copy(c, 0, 0, permute_copy({n, oc, b, b, h, w}, {0, 1, 4, 2, 5, 3}));
  else
    emit_strided_copy(c, 0, 0, permute_copy({n, b, b, oc, h, w}, {0, 3, 4, 1, 5, 2}));
  return Status::ok();
}

Status emit_space_to_depth(CEmitContext& c) {
  WEEC_ASSIGN_OR_RETURN(int64_t b, blocksize(c));
  Dims in = c.in_dims(0);
  int64_t n = in[0], ch = in[1], h = in[2], w = in[3];
  emit_strided_copy(c, 0, 0, permute_copy({n, ch, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4}));
  return Status::ok();
}

}  // namespace

const OpSchema& schema_DepthToSpace() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::DepthToSpace, "DepthToSpace"};
    m.attrs = {attr_required("blocksize", Attribute::Kind::Int), attr_string("mode", "DCR")};
    m.fusion = FusionKind::Injective;
    m.infer = infer_depth_to_space;
    m.kernel = kernel_depth_to_space;
    m.emit_c = emit_depth_to_space;
    m.doc = "moves channel blocks into b x b spatial blocks (DCR or CRD order)";
    return m;
  }();
  return s;
}

const OpSchema& schema_SpaceToDepth() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::SpaceToDepth, "SpaceToDepth"};
    m.attrs = {attr_required("blocksize", Attribute::Kind::Int)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_space_to_depth;
    m.kernel = kernel_space_to_depth;
    m.emit_c = emit_space_to_depth;
    m.doc = "moves b x b spatial blocks into channels";
    return m;
  }();
  return s;
}

}  // namespace weec
