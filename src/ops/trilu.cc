// Trilu: keeps the upper (upper=1, j - i >= k) or lower (j - i <= k) triangle
// of the last two dims and zeroes the rest; k is an optional scalar input.
#include "ops/c_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

Status infer_trilu(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  if (in.shape.rank_known && in.shape.rank() < 2)
    return ctx.error("input must have rank >= 2, got {}", type_str(in));
  return infer_same_as_input0(ctx);
}

Status kernel_trilu(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  if (in.rank() < 2) return ctx.error("input must have rank >= 2, got {}", dims_str(in.dims()));
  int64_t k = 0;
  if (ctx.has_input(1)) {
    if (ctx.input(1).numel() != 1) return ctx.error("k must be a scalar");
    k = ctx.input(1).get_int(0);
  }
  bool upper = ctx.attrs.i("upper") != 0;
  int64_t rows = in.dim(in.rank() - 2), cols = in.dim(in.rank() - 1);
  Tensor out(in.dtype(), in.dims());  // zero-filled ("" for strings)
  ElemCopy copy(in, out);
  int64_t mats = rows * cols == 0 ? 0 : in.numel() / (rows * cols);
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        bool keep = upper ? j - i >= k : j - i <= k;
        int64_t o = (m * rows + i) * cols + j;
        if (keep) copy(o, o);
      }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// C: one pass over the elements; k is a literal when constant, else read at
// run time.
Status emit_c_trilu(CEmitContext& c) {
  Dims in = c.in_dims(0);
  if (in.size() < 2) return c.error("input must have rank >= 2");
  const int64_t rows = in[in.size() - 2], cols = in[in.size() - 1];
  if (rows * cols == 0) return Status::ok();
  const int64_t mats = numel_of(in) / (rows * cols);
  std::string k = "0";
  if (const Tensor* kt = c.input_constant(1)) {
    if (kt->numel() != 1) return c.error("k must be a scalar");
    k = c_literal_i64(kt->get_int(0), DType::I64);
  } else if (c.has_input(1)) {
    k = c.var("k");
    c.w.line("const int64_t {} = (int64_t){}[0];", k, c.in(1));
  }
  const bool upper = c.attrs.i("upper") != 0;
  std::vector<std::string> idx = c.open_loops({mats, rows, cols});
  std::string flat = CEmitContext::flat_index({mats, rows, cols}, idx);
  c.w.line("const {} v = {};", c_type(c.input_dtype(0)), c.load(0, flat));
  std::string keep = fmt::format("(int64_t){} - (int64_t){} {} {}", idx[2], idx[1], upper ? ">=" : "<=", k);
  c.store(0, {}, fmt::format("{} ? v : {}", keep, c_literal(0, c.output_dtype())), flat);
  c.close_loops(3);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Trilu() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Trilu, "Trilu"};
    m.since_opset = 14;
    m.min_inputs = 1;
    m.max_inputs = 2;
    m.attrs = {attr_int("upper", 1)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_trilu;
    m.kernel = kernel_trilu;
    m.emit_c = emit_c_trilu;
    m.doc = "upper or lower triangle (offset k) of the last two dims";
    return m;
  }();
  return s;
}

}  // namespace weec
