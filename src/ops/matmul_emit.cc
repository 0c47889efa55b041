// The numpy-matmul loop nest of the C backend (see nn_emit.h): loops over the
// broadcast batch dims (each operand indexed through its own matrix
// strides, 0 along broadcast dims), then
//  * float32: weec_sgemm (register-tiled SIMD, simd_gemm_emit.cc) into the
//    output itself when gemm_output_writable_early, else into scratch blocks
//    of rows, then store() of each element (the fused epilogue);
//  * other types: per output row a scratch row accumulates
//    row[j] += a[i, k] * b[k, j] with j innermost and contiguous in B, so gcc
//    vectorises it without reassociating any sum.
#include "ops/nn_emit.h"

namespace weec::nn {

// Whether the GEMM may write the node's output buffer before the epilogue
// runs over it in place. Not in a fused group whose sink differs from the
// anchor's output in type or shape, nor when the epilogue reads a value of
// the output's shape from outside the group: plan-memory may give the
// group's output that value's buffer (it is read only at the same index).
bool gemm_output_writable_early(const CEmitContext& c) {
  const Graph* g = c.node.owner;
  if (!g) return false;
  if (!g->parent) return true;  // a top-level node: no epilogue
  const Value* y = c.node.outputs[0];
  const Dims out = y->type.shape.static_dims();
  for (const Value* o : g->outputs)
    if (o->type.dtype != y->type.dtype || !o->type.shape.is_static() || o->type.shape.static_dims() != out)
      return false;
  for (auto& n : g->nodes()) {
    if (n.get() == &c.node) continue;
    for (const Value* v : n->inputs)
      if (v && !v->producer && !v->constant && v->type.shape.is_static() &&
          v->type.shape.static_dims() == out)
        return false;
  }
  return true;
}
namespace {

constexpr int64_t kAccBudget = 8192;  // floats of scratch for a block of output rows

}  // namespace

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
  if (s.acc == DType::F32 && at == s.acc && bt == s.acc && !s.a_value && !s.b_value && !s.per_row) {
    // Row blocks of the output through weec_sgemm.
    const bool direct = gemm_output_writable_early(c);
    const int64_t rows = direct ? m : std::clamp<int64_t>(kAccBudget / std::max<int64_t>(n, 1), 1, m);
    const std::string acc = direct ? "" : c.scratch(s.acc, rows * n, "acc"), gemm = sgemm_helper(c);
    const std::string taps = tap_offsets(c, {0}), y = fmt::format("{} + ({}) * {}", c.out(0), y_mat, m * n);
    std::string i0 = c.var("i"), i = c.var("i"), j = c.var("j");
    c.w.open("for (int32_t {0} = 0; {0} < {1}; {0} += {2}) {{", i0, m, rows);
    std::string cnt = c.var("rows");
    c.w.line("const int32_t {0} = {1} - {2} < {3} ? {1} - {2} : {3};", cnt, m, i0, rows);
    c.w.line("{}({}, {}, {}, 1, {} + {} * {}, {}, {}, {}, {}, {}, {});", gemm, cnt, n, k, ap, i0, k, k, bp, n,
             taps, direct ? fmt::format("{} + {} * {}", y, i0, n) : acc, n);
    c.w.open("for (int32_t {0} = {1}; {0} < {1} + {2}; ++{0}) {{", i, i0, cnt);
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", j, n);
    std::vector<std::string> idx = bv;
    if (a0.size() > 1) idx.push_back(i);
    if (b0.size() > 1) idx.push_back(j);
    const std::string flat = fmt::format("(({}) * {} + {}) * {} + {}", y_mat, m, i, n, j);
    const std::string r = direct ? fmt::format("{}[{}]", c.out(0), flat)
                                 : fmt::format("{}[({} - {}) * {} + {}]", acc, i, i0, n, j);
    c.store(0, idx, s.finish ? s.finish(r, i, j) : r, flat);
    c.w.close();
    c.w.close();
    c.w.close();
    c.close_loops(bv.size());
    return Status::ok();
  }
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
