// MatMul (numpy matmul: 1-D promotion, batch broadcasting; float and integer
// types), MatMulInteger (zero points per tensor, per row of A / per column of
// B; exact int32 result with 32-bit wrap-around) and Einsum (a generic loop
// over the index space: explicit/implicit output, ellipsis, diagonals, sums).
// Floats accumulate in double and round once; integers wrap like C unsigned.
#include <cctype>
#include <map>

#include "ops/grad.h"
#include "ops/nn_emit.h"

namespace weec {

namespace {

bool matmul_dtype_ok(DType t) {
  return is_float(t) || t == DType::I32 || t == DType::I64 || t == DType::U32 || t == DType::U64;
}

Status matmul_infer(InferContext& ctx) {
  DType dt = ctx.input_type(0).dtype;
  if (!matmul_dtype_ok(dt)) return ctx.error("dtype {} is not supported", dtype_name(dt));
  if (ctx.input_type(1).dtype != dt) return ctx.error("A and B dtypes differ");
  WEEC_ASSIGN_OR_RETURN(Shape s, nn::matmul_shape(ctx, ctx.input_type(0).shape, ctx.input_type(1).shape));
  ctx.outputs[0] = TensorType{dt, s};
  return Status::ok();
}

// Integer operands widened to uint64: the product mod 2^64, truncated to the
// result type, equals the wrapped product in that type.
std::vector<uint64_t> to_u64(const Tensor& t) {
  std::vector<uint64_t> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = (uint64_t)t.get_int(i);
  return v;
}

Status matmul_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const DType dt = a.dtype();
  if (!matmul_dtype_ok(dt)) return ctx.error("dtype {} is not supported", dtype_name(dt));
  if (b.dtype() != dt) return ctx.error("A and B dtypes differ");
  WEEC_ASSIGN_OR_RETURN(nn::MatMulPlan p, nn::matmul_plan(ctx, a.dims(), b.dims()));
  const int64_t count = numel_of(p.out);
  if (is_float(dt)) {
    std::vector<double> av = nn::to_doubles(a), bv = nn::to_doubles(b), y(count, 0.0);
    nn::matmul_loop<double>(p, av.data(), bv.data(), y.data());
    ctx.outputs[0] = nn::from_doubles(dt, p.out, y);
    return Status::ok();
  }
  std::vector<uint64_t> av = to_u64(a), bv = to_u64(b), y(count, 0);
  nn::matmul_loop<uint64_t>(p, av.data(), bv.data(), y.data());
  Tensor out(dt, p.out);
  WEEC_TRY(visit_numeric(dt, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    for (int64_t i = 0; i < count; ++i) o[i] = (T)y[i];
    return Status::ok();
  }));
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// Floats accumulate in their own type; integers in the unsigned type of
// their width, which wraps like the kernel's uint64 arithmetic truncated.
Status matmul_emit_c(CEmitContext& c) {
  const DType t = c.output_dtype();
  nn::MatMulEmitSpec s;
  if (is_float(t)) {
    s.acc = t;
  } else {
    s.acc = dtype_size(t) == 8 ? DType::U64 : DType::U32;
    std::string T = c_type(t);
    s.finish = [T](const std::string& acc, const std::string&, const std::string&) {
      return fmt::format("({}){}", T, acc);
    };
  }
  return nn::emit_matmul(c, s);
}

// ---- MatMulInteger ----

bool is_8bit(DType t) { return t == DType::I8 || t == DType::U8; }

// operand - zero_point as int64 (zero point absent, per tensor, per row of A
// or per column of B; see nn::param_for_operand).
Expected<std::vector<int64_t>> subtract_zero_point(const NodeContext& ctx, const Tensor& x, const Tensor* zp,
                                                   bool per_row) {
  std::vector<int64_t> v(x.numel());
  for (int64_t i = 0; i < x.numel(); ++i) v[i] = x.get_int(i);
  if (!zp) return v;
  if (zp->dtype() != x.dtype()) return ctx.error("zero point dtype differs from its operand's");
  WEEC_ASSIGN_OR_RETURN(auto z, nn::param_for_operand(ctx, *zp, x.dims(), per_row));
  for (size_t i = 0; i < v.size(); ++i) v[i] -= (int64_t)z[i];
  return v;
}

// A zero point's C expression for one operand element: none, per tensor,
// or per row of A / per column of B (indexed by `at`).
Expected<std::string> zero_point_expr(CEmitContext& c, size_t i, int64_t per_len, const std::string& at) {
  if (!c.has_input(i)) return std::string();
  if (c.in_count(i) == 1) return fmt::format("(int32_t){}[0]", c.in(i));
  if (c.in_dims(i).size() == 1 && c.in_count(i) == per_len)
    return fmt::format("(int32_t){}[{}]", c.in(i), at);
  return c.error("zero point {} is neither per tensor nor 1-D per row/column", dims_str(c.in_dims(i)));
}

// int32 products of the zero-point-shifted operands; the sum wraps mod 2^32
// like the kernel's (uint32 accumulator where int32 could overflow).
Status mmi_emit_c(CEmitContext& c) {
  const Dims a = c.in_dims(0), b = c.in_dims(1);
  const int64_t m = a.size() > 1 ? a[a.size() - 2] : 1, n = b.size() > 1 ? b.back() : 1;
  // Probe the zero points' shapes once; the lambdas rebuild the expressions per row/column.
  WEEC_TRY(zero_point_expr(c, 2, m, "0").status());
  WEEC_TRY(zero_point_expr(c, 3, n, "0").status());
  nn::MatMulEmitSpec s;
  const bool exact32 = nn::int_acc_type(a.back()) == DType::I32;
  s.acc = exact32 ? DType::I32 : DType::U32;
  auto shifted = [&c](size_t zp_in, int64_t len, const std::string& raw, const std::string& at) {
    std::string z = *zero_point_expr(c, zp_in, len, at);
    return z.empty() ? fmt::format("(int32_t){}", raw) : fmt::format("((int32_t){} - {})", raw, z);
  };
  s.a_value = [=](const std::string& raw, const std::string& row) { return shifted(2, m, raw, row); };
  s.b_value = [=](const std::string& raw, const std::string& col) {
    std::string v = shifted(3, n, raw, col);
    return exact32 ? v : fmt::format("(uint32_t){}", v);
  };
  if (!exact32)
    s.finish = [](const std::string& acc, const std::string&, const std::string&) {
      return fmt::format("(int32_t){}", acc);
    };
  return nn::emit_matmul(c, s);
}

Status mmi_infer(InferContext& ctx) {
  if (!is_8bit(ctx.input_type(0).dtype) || !is_8bit(ctx.input_type(1).dtype))
    return ctx.error("A and B must be int8 or uint8");
  WEEC_ASSIGN_OR_RETURN(Shape s, nn::matmul_shape(ctx, ctx.input_type(0).shape, ctx.input_type(1).shape));
  ctx.outputs[0] = TensorType{DType::I32, s};
  return Status::ok();
}

Status mmi_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (!is_8bit(a.dtype()) || !is_8bit(b.dtype())) return ctx.error("A and B must be int8 or uint8");
  WEEC_ASSIGN_OR_RETURN(nn::MatMulPlan p, nn::matmul_plan(ctx, a.dims(), b.dims()));
  WEEC_ASSIGN_OR_RETURN(auto av,
                        subtract_zero_point(ctx, a, ctx.has_input(2) ? &ctx.input(2) : nullptr, true));
  WEEC_ASSIGN_OR_RETURN(auto bv,
                        subtract_zero_point(ctx, b, ctx.has_input(3) ? &ctx.input(3) : nullptr, false));
  std::vector<int64_t> y(numel_of(p.out), 0);
  nn::matmul_loop<int64_t>(p, av.data(), bv.data(), y.data());
  Tensor out(DType::I32, p.out);
  int32_t* o = out.data<int32_t>();
  for (size_t i = 0; i < y.size(); ++i) o[i] = (int32_t)(uint32_t)(uint64_t)y[i];  // wraps mod 2^32
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- Einsum ----

// A parsed equation for inputs of known ranks. Every letter and every
// ellipsis dim gets a label id; a label repeated within one input takes its
// diagonal, and labels absent from the output are summed over.
struct EinsumSpec {
  std::vector<std::vector<int>> in;  // per input, per dim: label id
  std::vector<int> out;              // per output dim: label id
  int num_labels = 0;
};

Expected<EinsumSpec> parse_einsum(const NodeContext& ctx, std::string eq, const std::vector<int64_t>& ranks) {
  std::erase(eq, ' ');
  std::string lhs = eq, rhs;
  bool explicit_out = false;
  if (auto arrow = eq.find("->"); arrow != std::string::npos) {
    lhs = eq.substr(0, arrow);
    rhs = eq.substr(arrow + 2);
    explicit_out = true;
  }
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ranks.size())
    return ctx.error("equation '{}' has {} operands, node has {} inputs", eq, terms.size(), ranks.size());
  // Splits a term into letters before and after its (optional) ellipsis.
  struct Term {
    std::string head, tail;
    bool ellipsis = false;
  };
  auto split = [&](const std::string& t) -> Expected<Term> {
    Term r;
    size_t e = t.find("...");
    r.ellipsis = e != std::string::npos;
    r.head = r.ellipsis ? t.substr(0, e) : t;
    r.tail = r.ellipsis ? t.substr(e + 3) : "";
    for (char c : r.head + r.tail)
      if (!std::isalpha((unsigned char)c)) return ctx.error("bad character '{}' in equation '{}'", c, eq);
    return r;
  };
  std::vector<Term> parsed;
  int64_t ell_rank = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    WEEC_ASSIGN_OR_RETURN(Term t, split(terms[i]));
    int64_t letters = (int64_t)(t.head.size() + t.tail.size());
    if (t.ellipsis ? letters > ranks[i] : letters != ranks[i])
      return ctx.error("term '{}' does not match input {} of rank {}", terms[i], i, ranks[i]);
    if (t.ellipsis) ell_rank = std::max(ell_rank, ranks[i] - letters);
    parsed.push_back(t);
  }
  EinsumSpec spec;
  std::map<char, int> ids;
  std::map<char, int> uses;
  for (int64_t e = 0; e < ell_rank; ++e) spec.num_labels++;  // ellipsis dims are labels 0..E-1
  auto id_of = [&](char c) {
    auto [it, added] = ids.emplace(c, spec.num_labels);
    if (added) spec.num_labels++;
    return it->second;
  };
  for (size_t i = 0; i < parsed.size(); ++i) {
    std::vector<int> labels;
    for (char c : parsed[i].head) labels.push_back(id_of(c)), uses[c]++;
    int64_t e = ranks[i] - (int64_t)(parsed[i].head.size() + parsed[i].tail.size());
    for (int64_t j = 0; j < e; ++j) labels.push_back((int)(ell_rank - e + j));  // right-aligned
    for (char c : parsed[i].tail) labels.push_back(id_of(c)), uses[c]++;
    spec.in.push_back(labels);
  }
  if (explicit_out) {
    WEEC_ASSIGN_OR_RETURN(Term t, split(rhs));
    for (char c : t.head) {
      if (!ids.count(c)) return ctx.error("output label '{}' is not in any input", c);
      spec.out.push_back(ids[c]);
    }
    if (t.ellipsis)
      for (int64_t e = 0; e < ell_rank; ++e) spec.out.push_back((int)e);
    for (char c : t.tail) {
      if (!ids.count(c)) return ctx.error("output label '{}' is not in any input", c);
      spec.out.push_back(ids[c]);
    }
    std::vector<int> seen(spec.num_labels, 0);
    for (int l : spec.out)
      if (seen[l]++) return ctx.error("output of '{}' repeats a label", eq);
  } else {
    for (int64_t e = 0; e < ell_rank; ++e) spec.out.push_back((int)e);
    for (auto& [c, n] : uses)  // std::map: ASCII order, like numpy
      if (n == 1) spec.out.push_back(ids[c]);
  }
  return spec;
}

// Size of every label from the input dims; a size-1 dim broadcasts.
Expected<std::vector<int64_t>> einsum_sizes(const NodeContext& ctx, const EinsumSpec& spec,
                                            const std::vector<Dims>& dims) {
  std::vector<int64_t> size(spec.num_labels, -1);
  for (size_t i = 0; i < spec.in.size(); ++i)
    for (size_t d = 0; d < spec.in[i].size(); ++d) {
      int64_t& s = size[spec.in[i][d]];
      int64_t v = dims[i][d];
      if (v < 0) continue;
      if (s < 0 || s == 1)
        s = v;
      else if (v != s && v != 1)
        return ctx.error("label sizes disagree: {} vs {} (input {})", s, v, i);
    }
  return size;
}

Status einsum_infer(InferContext& ctx) {
  DType dt = ctx.input_type(0).dtype;
  std::vector<int64_t> ranks;
  std::vector<Dims> dims;
  bool known = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const TensorType& t = ctx.input_type(i);
    if (t.dtype != dt) return ctx.error("input dtypes differ");
    if (!t.shape.rank_known) known = false;
    ranks.push_back(t.shape.rank());
    dims.push_back(nn::known_dims(t.shape));
  }
  if (!known) {
    ctx.outputs[0] = TensorType{dt, Shape::unknown_rank()};
    return Status::ok();
  }
  WEEC_ASSIGN_OR_RETURN(EinsumSpec spec, parse_einsum(ctx, ctx.attrs.s("equation"), ranks));
  WEEC_ASSIGN_OR_RETURN(auto size, einsum_sizes(ctx, spec, dims));
  // A label seen as 1 and as an unknown dim may still broadcast to that dim.
  for (size_t i = 0; i < dims.size(); ++i)
    for (size_t d = 0; d < dims[i].size(); ++d)
      if (dims[i][d] < 0 && size[spec.in[i][d]] == 1) size[spec.in[i][d]] = -1;
  Shape s = Shape::of_rank(spec.out.size());
  for (size_t d = 0; d < spec.out.size(); ++d) s.dims[d] = nn::dim_or_unknown(size[spec.out[d]]);
  ctx.outputs[0] = TensorType{dt, s};
  return Status::ok();
}

template <typename Acc, typename Load>
std::vector<Acc> einsum_loop(const EinsumSpec& spec, const std::vector<int64_t>& size,
                             const std::vector<Dims>& dims, Load&& load, Dims& out_dims) {
  // Loop order: output labels first (outermost), then summed labels.
  std::vector<int> order = spec.out;
  std::vector<bool> in_out(spec.num_labels, false);
  for (int l : spec.out) in_out[l] = true;
  for (int l = 0; l < spec.num_labels; ++l)
    if (!in_out[l]) order.push_back(l);
  const size_t nin = spec.in.size(), nl = order.size();
  // stride[k][j]: element stride of input k along loop position j (diagonals
  // add up; broadcast size-1 dims stay 0).
  std::vector<std::vector<int64_t>> stride(nin, std::vector<int64_t>(nl, 0));
  for (size_t k = 0; k < nin; ++k) {
    Dims st = strides_of(dims[k]);
    for (size_t d = 0; d < spec.in[k].size(); ++d)
      for (size_t j = 0; j < nl; ++j)
        if (order[j] == spec.in[k][d] && dims[k][d] != 1) stride[k][j] += st[d];
  }
  out_dims.clear();
  for (int l : spec.out) out_dims.push_back(size[l]);
  Dims out_st = strides_of(out_dims);
  std::vector<int64_t> ext(nl);
  int64_t total = 1;
  for (size_t j = 0; j < nl; ++j) total *= (ext[j] = size[order[j]]);
  std::vector<Acc> out(numel_of(out_dims), Acc(0));
  if (total == 0) return out;
  std::vector<int64_t> idx(nl, 0), off(nin, 0);
  int64_t o = 0;
  for (int64_t it = 0; it < total; ++it) {
    Acc prod = Acc(1);
    for (size_t k = 0; k < nin; ++k) prod *= load(k, off[k]);
    out[o] += prod;
    for (size_t j = nl; j-- > 0;) {
      for (size_t k = 0; k < nin; ++k) off[k] += stride[k][j];
      if (j < spec.out.size()) o += out_st[j];
      if (++idx[j] < ext[j]) break;
      for (size_t k = 0; k < nin; ++k) off[k] -= stride[k][j] * ext[j];
      if (j < spec.out.size()) o -= out_st[j] * ext[j];
      idx[j] = 0;
    }
  }
  return out;
}

Status einsum_kernel(KernelContext& ctx) {
  const DType dt = ctx.input(0).dtype();
  std::vector<int64_t> ranks;
  std::vector<Dims> dims;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i) || ctx.input(i).dtype() != dt) return ctx.error("inputs must share one dtype");
    ranks.push_back(ctx.input(i).rank());
    dims.push_back(ctx.input(i).dims());
  }
  WEEC_ASSIGN_OR_RETURN(EinsumSpec spec, parse_einsum(ctx, ctx.attrs.s("equation"), ranks));
  WEEC_ASSIGN_OR_RETURN(auto size, einsum_sizes(ctx, spec, dims));
  Dims out_dims;
  if (is_float(dt)) {
    std::vector<std::vector<double>> in;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) in.push_back(nn::to_doubles(ctx.input(i)));
    auto y = einsum_loop<double>(
        spec, size, dims, [&](size_t k, int64_t off) { return in[k][off]; }, out_dims);
    ctx.outputs[0] = nn::from_doubles(dt, out_dims, y);
    return Status::ok();
  }
  if (!is_integer(dt)) return ctx.error("dtype {} is not supported", dtype_name(dt));
  std::vector<std::vector<uint64_t>> in;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) in.push_back(to_u64(ctx.input(i)));
  auto y = einsum_loop<uint64_t>(
      spec, size, dims, [&](size_t k, int64_t off) { return in[k][off]; }, out_dims);
  Tensor out(dt, out_dims);
  WEEC_TRY(visit_numeric(dt, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    for (size_t i = 0; i < y.size(); ++i) out.data<T>()[i] = (T)y[i];
    return Status::ok();
  }));
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// One loop per label (output labels outside, summed ones inside), every
// input indexed by its label strides; sums in double (floats) or uint64
// (integers), as the kernel.
Status einsum_emit_c(CEmitContext& c) {
  const DType dt = c.output_dtype();
  std::vector<int64_t> ranks;
  std::vector<Dims> dims;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    if (!c.has_input(i) || c.input_dtype(i) != dt) return c.error("inputs must share one dtype");
    dims.push_back(c.in_dims(i));
    ranks.push_back((int64_t)dims.back().size());
  }
  WEEC_ASSIGN_OR_RETURN(EinsumSpec spec, parse_einsum(c, c.attrs.s("equation"), ranks));
  WEEC_ASSIGN_OR_RETURN(auto size, einsum_sizes(c, spec, dims));
  for (auto& sz : size)
    if (sz < 0) sz = 1;  // a label of no input dim cannot occur; keep loops valid
  std::vector<bool> in_out(spec.num_labels, false);
  for (int l : spec.out) in_out[l] = true;
  std::vector<int> sum_labels;
  for (int l = 0; l < spec.num_labels; ++l)
    if (!in_out[l]) sum_labels.push_back(l);
  const std::string acc_t = is_float(dt) ? "double" : "uint64_t";
  std::vector<std::string> var(spec.num_labels);
  Dims out_dims;
  for (int l : spec.out) out_dims.push_back(size[l]);
  if (numel_of(out_dims) == 0) return Status::ok();
  for (int l : spec.out) {
    var[l] = c.var("e");
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", var[l], size[l]);
  }
  std::string acc = c.var("acc");
  c.w.line("{} {} = 0;", acc_t, acc);
  for (int l : sum_labels) {
    var[l] = c.var("e");
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", var[l], size[l]);
  }
  std::string prod;
  for (size_t k = 0; k < spec.in.size(); ++k) {
    Dims st = strides_of(dims[k]);
    std::string off;
    for (size_t d = 0; d < spec.in[k].size(); ++d) {
      if (dims[k][d] == 1) continue;  // broadcast
      std::string t = st[d] == 1 ? var[spec.in[k][d]] : fmt::format("{} * {}", var[spec.in[k][d]], st[d]);
      off = off.empty() ? t : off + " + " + t;
    }
    std::string e = fmt::format("({}){}[{}]", acc_t, c.in(k), off.empty() ? "0" : off);
    prod = prod.empty() ? e : prod + " * " + e;
  }
  c.w.line("{} += {};", acc, prod.empty() ? "1" : prod);
  c.close_loops(sum_labels.size());
  std::vector<std::string> ov;
  for (int l : spec.out) ov.push_back(var[l]);
  c.w.line("{}[{}] = ({}){};", c.out(0), CEmitContext::flat_index(out_dims, ov), c_type(dt), acc);
  c.close_loops(spec.out.size());
  return Status::ok();
}

}  // namespace

namespace {

// Gradient (ops/grad.h) for operands of rank >= 2: dA = dY B^T and
// dB = A^T dY, batched as the forward product, then summed over the batch
// axes each operand was broadcast along.
Status matmul_grad(GradContext& c) {
  Value *a = c.x(0), *b = c.x(1), *dy = c.dy(0);
  if (c.dims(a).size() < 2 || c.dims(b).size() < 2)
    return c.error("gradient: 1-D operands are not supported (reshape them to 2-D)");
  if (c.wants(0)) c.set(0, c.unbroadcast(c.op(OpKind::MatMul, {dy, c.transpose_last2(b)}), c.dims(a)));
  if (c.wants(1)) c.set(1, c.unbroadcast(c.op(OpKind::MatMul, {c.transpose_last2(a), dy}), c.dims(b)));
  return Status::ok();
}

}  // namespace

const OpSchema& schema_MatMul() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::MatMul, "MatMul"};
    m.min_inputs = m.max_inputs = 2;
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = matmul_infer;
    m.kernel = matmul_kernel;
    m.macs = nn::matmul_macs;
    m.emit_c = matmul_emit_c;
    m.doc = "numpy matmul: 1-D promotion and batch broadcasting";
    m.grad = matmul_grad;
    return m;
  }();
  return s;
}

const OpSchema& schema_MatMulInteger() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::MatMulInteger, "MatMulInteger"};
    m.since_opset = 10;
    m.min_inputs = 2;
    m.max_inputs = 4;
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = mmi_infer;
    m.kernel = mmi_kernel;
    m.macs = nn::matmul_macs;
    m.emit_c = mmi_emit_c;
    m.doc = "8-bit matmul with zero points, int32 result";
    return m;
  }();
  return s;
}

const OpSchema& schema_Einsum() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Einsum, "Einsum"};
    m.since_opset = 12;
    m.max_inputs = -1;
    m.attrs = {attr_required("equation", Attribute::Kind::String)};
    m.infer = einsum_infer;
    m.kernel = einsum_kernel;
    m.emit_c = einsum_emit_c;
    m.doc = "Einstein summation: explicit/implicit output, ellipsis, diagonals";
    return m;
  }();
  return s;
}

}  // namespace weec
