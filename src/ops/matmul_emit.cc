// The numpy-matmul loop nest of the C backend (see nn_emit.h): loops over the
// broadcast batch dims (each operand indexed through its own matrix
// strides, 0 along broadcast dims), then per output row a scratch row
// accumulates row[j] += a[i, k] * b[k, j] with j innermost and contiguous in
// B, so gcc vectorises it without reassociating any sum.
#include "ops/nn_emit.h"

namespace weec::nn {

Status emit_matmul(CEmitContext& c, const MatMulEmitSpec& s) {
  const Dims a0 = c.in_dims(s.a_in), b0 = c.in_dims(s.b_in);
  if (a0.empty() || b0.empty()) return c.error("matmul operands must have rank >= 1");
  Dims a = a0, b = b0;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
  if (b[b.size() - 2] != k) return c.error("inner dims differ: {} x {}", dims_str(a0), dims_str(b0));
  const Dims ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  auto batch = broadcast_dims({ab, bb});
  if (!batch) return c.error("batch dims cannot be broadcast: {} x {}", dims_str(a0), dims_str(b0));
  const Dims as = broadcast_strides(ab, *batch), bs = broadcast_strides(bb, *batch);
  if (numel_of(*batch) == 0 || m == 0 || n == 0) return Status::ok();

  const DType at = c.input_dtype(s.a_in), bt = c.input_dtype(s.b_in);
  const std::string acc_t = c_type(s.acc);
  auto a_value = [&](const std::string& raw, const std::string& row) {
    if (s.a_value) return s.a_value(raw, row);
    return at == s.acc ? raw : fmt::format("({}){}", acc_t, raw);
  };
  auto b_value = [&](const std::string& raw, const std::string& col) {
    if (s.b_value) return s.b_value(raw, col);
    return bt == s.acc ? raw : fmt::format("({}){}", acc_t, raw);
  };

  std::vector<std::string> bv = c.open_loops(*batch, "b");
  // Matrix offsets of A, B and Y for this batch entry.
  std::string a_mat, b_mat;
  for (size_t d = 0; d < bv.size(); ++d) {
    if (as[d]) a_mat += fmt::format("{}{} * {}", a_mat.empty() ? "" : " + ", bv[d], as[d]);
    if (bs[d]) b_mat += fmt::format("{}{} * {}", b_mat.empty() ? "" : " + ", bv[d], bs[d]);
  }
  std::string y_mat = CEmitContext::flat_index(*batch, bv);
  std::string ap = c.var("ap"), bp = c.var("bp");
  c.w.line("const {}* {} = {} + {};", c_type(at), ap, c.in(s.a_in),
           a_mat.empty() ? "0" : fmt::format("({}) * {}", a_mat, m * k));
  c.w.line("const {}* {} = {} + {};", c_type(bt), bp, c.in(s.b_in),
           b_mat.empty() ? "0" : fmt::format("({}) * {}", b_mat, k * n));
  std::string row = c.scratch(s.acc, n, "row");
  std::string i = c.var("i"), q = c.var("q"), j = c.var("j");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, m);
  if (s.per_row) s.per_row(i);
  c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = 0;", j, n, row);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", q, k);
  std::string av = c.var("av");
  c.w.line("const {} {} = {};", acc_t, av, a_value(fmt::format("{}[{} * {} + {}]", ap, i, k, q), i));
  c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] += {3} * {4};", j, n, row, av,
           b_value(fmt::format("{}[{} * {} + {}]", bp, q, n, j), j));
  c.w.close();
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", j, n);
  std::vector<std::string> idx = bv;
  if (a0.size() > 1) idx.push_back(i);
  if (b0.size() > 1) idx.push_back(j);
  std::string r = fmt::format("{}[{}]", row, j);
  std::string flat = fmt::format("(({}) * {} + {}) * {} + {}", y_mat, m, i, n, j);
  c.store(0, idx, s.finish ? s.finish(r, i, j) : r, flat);
  c.w.close();
  c.w.close();
  c.close_loops(bv.size());
  return Status::ok();
}

}  // namespace weec::nn
