// Transpose (perm defaults to reversing the dims), plus permute_tensor, the
// strided copy that DepthToSpace and SpaceToDepth reuse.
#include <algorithm>

#include "ops/grad.h"
#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

bool is_permutation(const std::vector<int64_t>& perm, int64_t rank) {
  if ((int64_t)perm.size() != rank) return false;
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p]) return false;
    seen[p] = true;
  }
  return true;
}

Tensor permute_tensor(const Tensor& in, const Dims& view, const std::vector<int64_t>& perm) {
  const size_t rank = view.size();
  Dims out_dims(rank), in_strides = strides_of(view), step(rank);
  for (size_t i = 0; i < rank; ++i) {
    out_dims[i] = view[perm[i]];
    step[i] = in_strides[perm[i]];
  }
  Tensor out(in.dtype(), out_dims);
  if (out.numel() == 0) return out;
  ElemCopy copy(in, out);
  // Walk the output in order; the inner dim is copied in one run when it is
  // contiguous in the input (the trailing dims were not moved).
  std::vector<int64_t> idx(rank, 0);
  int64_t src = 0, n = out.numel();
  if (rank == 0) {
    copy(0, 0);
    return out;
  }
  const int64_t inner = out_dims[rank - 1], inner_step = step[rank - 1];
  for (int64_t o = 0; o < n; o += inner) {
    if (inner_step == 1) {
      copy.block(o, src, inner);
    } else {
      for (int64_t j = 0; j < inner; ++j) copy(o + j, src + j * inner_step);
    }
    // Advance the multi-index over all dims but the last.
    for (int64_t d = (int64_t)rank - 2; d >= 0; --d) {
      if (++idx[d] < out_dims[d]) {
        src += step[d];
        break;
      }
      src -= step[d] * (out_dims[d] - 1);
      idx[d] = 0;
    }
  }
  return out;
}

namespace {

Expected<std::vector<int64_t>> transpose_perm(const NodeContext& ctx, int64_t rank) {
  std::vector<int64_t> perm;
  if (ctx.attrs.has("perm")) {
    perm = ctx.attrs.ints("perm");
    for (int64_t& p : perm)
      if (p < 0) p += rank;  // tolerated, as ONNX Runtime does
    if (!is_permutation(perm, rank))
      return ctx.error("perm [{}] is not a permutation of rank {}", fmt::join(ctx.attrs.ints("perm"), ","),
                       rank);
  } else {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  return perm;
}

Status infer_transpose(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  TensorType out{in.dtype, Shape::unknown_rank()};
  if (in.shape.rank_known) {
    WEEC_ASSIGN_OR_RETURN(auto perm, transpose_perm(ctx, in.shape.rank()));
    out.shape = Shape::of_rank(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) out.shape.dims[i] = in.shape.dims[perm[i]];
  } else if (ctx.attrs.has("perm")) {
    out.shape = Shape::of_rank(ctx.attrs.ints("perm").size());
  }
  ctx.outputs[0] = out;
  return Status::ok();
}

Status kernel_transpose(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(auto perm, transpose_perm(ctx, in.rank()));
  ctx.outputs[0] = permute_tensor(in, in.dims(), perm);
  return Status::ok();
}

Status emit_transpose(CEmitContext& c) {
  Dims in = c.in_dims(0);
  WEEC_ASSIGN_OR_RETURN(auto perm, transpose_perm(c, (int64_t)in.size()));
  emit_strided_copy(c, 0, 0, permute_copy(in, perm));
  return Status::ok();
}

}  // namespace

namespace {

// Gradient (ops/grad.h): dY transposed by the inverse permutation.
Status transpose_grad(GradContext& c) {
  const int64_t r = (int64_t)c.dims(c.x(0)).size();
  std::vector<int64_t> perm = c.attrs.ints("perm"), inv(r);
  if (perm.empty())
    for (int64_t a = 0; a < r; ++a) perm.push_back(r - 1 - a);
  for (int64_t a = 0; a < r; ++a) inv[perm[a]] = a;
  c.set(0, c.op(OpKind::Transpose, {c.dy(0)}, {{"perm", Attribute::of_ints(inv)}}));
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Transpose() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Transpose, "Transpose"};
    m.attrs = {attr_optional("perm", Attribute::Kind::Ints)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_transpose;
    m.kernel = kernel_transpose;
    m.emit_c = emit_transpose;
    m.doc = "permutes dims (default: reverses them)";
    m.grad = transpose_grad;
    return m;
  }();
  return s;
}

}  // namespace weec
