// Det (opsets 11-17): determinant of each trailing [M, M] matrix of a [*, M, M]
// tensor, by LU decomposition with partial pivoting in double (the product of
// the pivots, sign-flipped per row swap). A 0x0 matrix has determinant 1; a
// singular one gives 0; NaN/Inf entries propagate through the arithmetic.
#include <algorithm>
#include <cmath>
#include <utility>

#include "ops/c_emit.h"
#include "ops/op_util.h"

namespace weec {

namespace {

double lu_det(std::vector<double>& a, int64_t n) {
  double det = 1;
  for (int64_t k = 0; k < n; ++k) {
    int64_t piv = k;
    for (int64_t i = k + 1; i < n; ++i)
      if (std::fabs(a[i * n + k]) > std::fabs(a[piv * n + k])) piv = i;
    if (piv != k) {
      for (int64_t j = 0; j < n; ++j) std::swap(a[k * n + j], a[piv * n + j]);
      det = -det;
    }
    const double p = a[k * n + k];
    det *= p;
    if (p == 0) return det == 0 ? 0.0 : det;  // singular: +0 (like numpy), or NaN from earlier pivots
    for (int64_t i = k + 1; i < n; ++i) {
      const double f = a[i * n + k] / p;
      if (f == 0) continue;
      for (int64_t j = k + 1; j < n; ++j) a[i * n + j] -= f * a[k * n + j];
    }
  }
  return det;
}

Status det_infer(InferContext& ctx) {
  const TensorType& x = ctx.input_type(0);
  if (!is_float(x.dtype)) return ctx.error("dtype {} is not supported", dtype_name(x.dtype));
  ctx.outputs[0] = TensorType{x.dtype, Shape::unknown_rank()};
  if (!x.shape.rank_known) return Status::ok();
  const int64_t r = x.shape.rank();
  if (r < 2) return ctx.error("input must have rank >= 2, got {}", shape_str(x.shape));
  const Dim &m = x.shape.dims[r - 2], &n = x.shape.dims[r - 1];
  if (m.is_known() && n.is_known() && m.value != n.value)
    return ctx.error("matrices must be square, got {}", shape_str(x.shape));
  Shape s;
  s.rank_known = true;
  s.dims.assign(x.shape.dims.begin(), x.shape.dims.end() - 2);
  ctx.outputs[0].shape = s;
  return Status::ok();
}

Status det_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!is_float(x.dtype())) return ctx.error("dtype {} is not supported", dtype_name(x.dtype()));
  const int64_t r = x.rank();
  if (r < 2) return ctx.error("input must have rank >= 2, got {}", dims_str(x.dims()));
  const int64_t n = x.dim(r - 1);
  if (x.dim(r - 2) != n) return ctx.error("matrices must be square, got {}", dims_str(x.dims()));
  Tensor out(x.dtype(), Dims(x.dims().begin(), x.dims().end() - 2));
  std::vector<double> a(n * n);
  for (int64_t m = 0; m < out.numel(); ++m) {
    for (int64_t i = 0; i < n * n; ++i) a[i] = x.get_double(m * n * n + i);
    out.set_double(m, lu_det(a, n));
  }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

int64_t det_macs(const Node& node) {
  const Shape& s = node.inputs[0]->type.shape;
  if (!s.is_static() || s.rank() < 2) return 0;
  Dims d = s.static_dims();
  const int64_t n = d.back();
  return numel_of(d) / std::max<int64_t>(n * n, 1) * n * n * n / 3;
}

// lu_det in C: each matrix copied to a double scratch, the same pivoting,
// elimination order and early exit on a zero pivot.
Status det_emit_c(CEmitContext& c) {
  const Dims xd = c.in_dims(0);
  if (xd.size() < 2 || xd[xd.size() - 1] != xd[xd.size() - 2]) return c.error("matrices must be square");
  const int64_t n = xd.back(), count = c.out_count(0), nn = n * n;
  if (count == 0) return Status::ok();
  const std::string T = c_type(c.output_dtype()), fabs = c.math("fabs", DType::F64);
  std::string a = c.scratch(DType::F64, std::max<int64_t>(nn, 1), "lu");
  std::string m = c.var("m"), i = c.var("i"), j = c.var("j"), k = c.var("k"), det = c.var("det"),
              piv = c.var("piv"), p = c.var("p"), f = c.var("f"), t = c.var("t");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", m, count);
  c.w.line("double {} = 1;", det);
  c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = (double){3}[{4} * {1} + {0}];", i, nn, a,
           c.in(0), m);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", k, n);
  c.w.line("int32_t {} = {};", piv, k);
  c.w.line("double {};", p);
  c.w.line(
      "for (int32_t {0} = {1} + 1; {0} < {2}; ++{0}) if ({3}({4}[{0} * {2} + {1}]) > {3}({4}[{5} * {2} + "
      "{1}])) {5} = {0};",
      i, k, n, fabs, a, piv);
  c.w.open("if ({} != {}) {{", piv, k);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", j, n);
  c.w.line("const double {} = {}[{} * {} + {}];", t, a, k, n, j);
  c.w.line("{0}[{1} * {2} + {3}] = {0}[{4} * {2} + {3}];", a, k, n, j, piv);
  c.w.line("{}[{} * {} + {}] = {};", a, piv, n, j, t);
  c.w.close();
  c.w.line("{0} = -{0};", det);
  c.w.close();
  c.w.line("{} = {}[{} * {} + {}];", p, a, k, n, k);
  c.w.line("{} *= {};", det, p);
  // Singular: +0 (like numpy), or NaN from earlier pivots.
  c.w.open("if ({} == 0) {{", p);
  c.w.line("if ({0} == 0) {0} = 0;", det);
  c.w.line("break;");
  c.w.close();
  c.w.open("for (int32_t {0} = {1} + 1; {0} < {2}; ++{0}) {{", i, k, n);
  c.w.line("const double {} = {}[{} * {} + {}] / {};", f, a, i, n, k, p);
  c.w.line("if ({} == 0) continue;", f);
  c.w.line(
      "for (int32_t {0} = {1} + 1; {0} < {2}; ++{0}) {3}[{4} * {2} + {0}] -= {5} * {3}[{1} * {2} + {0}];", j,
      k, n, a, i, f);
  c.w.close();
  c.w.close();
  c.w.line("{}[{}] = ({}){};", c.out(0), m, T, det);
  c.w.close();
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Det() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Det, "Det"};
    m.since_opset = 11;
    m.fusion = FusionKind::Opaque;
    m.infer = det_infer;
    m.kernel = det_kernel;
    m.emit_c = det_emit_c;
    m.macs = det_macs;
    m.doc = "determinant of each trailing square matrix (partial-pivot LU)";
    return m;
  }();
  return s;
}

}  // namespace weec
