// TopK: the K largest (largest=1) or smallest elements along `axis`, with
// their int64 indices. IR form: inputs (X, K) with K an int64 [1] tensor and
// attributes axis (-1), largest (1), sorted (1). Opset 1 had K as the
// attribute `k`; the import hook turns it into a constant input.
//
// Order: by value, then by index (lower index first on ties, as ONNX
// specifies). The result is always sorted, which sorted=0 ("any order")
// permits. NaN ranks above every number, as in numpy's sort.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "ops/c_emit.h"
#include "ops/op_util.h"

namespace weec {

namespace {

template <typename T>
bool above(T a, T b) {  // a ranks strictly higher than b
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

// Fills idx (outer*k*inner) with the selected positions along the axis.
template <typename T>
void select(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest, int64_t* idx) {
  std::vector<int64_t> order(n);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * n * inner + i;
      std::iota(order.begin(), order.end(), 0);
      auto before = [&](int64_t a, int64_t b) {
        T va = p[a * inner], vb = p[b * inner];
        if (largest ? above(va, vb) : above(vb, va)) return true;
        if (largest ? above(vb, va) : above(va, vb)) return false;
        return a < b;
      };
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (int64_t j = 0; j < k; ++j) idx[(o * k + j) * inner + i] = order[j];
    }
  }
}

Status topk_kernel(KernelContext& ctx) {
  const Tensor& x0 = ctx.input(0);
  const Tensor& kt = ctx.input(1);
  if (!is_integer(kt.dtype()) || kt.numel() != 1) return ctx.error("K must be one integer");
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), x0.rank()));
  const int64_t k = kt.get_int(0), n = x0.dim(axis);
  if (k < 0 || k > n) return ctx.error("K = {} is out of range for axis {} of size {}", k, axis, n);
  bool largest = ctx.attrs.i("largest") != 0;
  int64_t outer = 1, inner = 1;
  Dims out_dims = x0.dims();
  out_dims[axis] = k;
  for (int64_t i = 0; i < x0.rank(); ++i) {
    if (i < axis) outer *= x0.dim(i);
    if (i > axis) inner *= x0.dim(i);
  }
  Tensor indices(DType::I64, out_dims);
  int64_t* idx = indices.data<int64_t>();
  Tensor keys = is_half(x0.dtype()) ? to_f32(x0) : x0;
  WEEC_TRY(visit_numeric(keys.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return ctx.error("bool data is not supported");
    } else {
      select<T>(keys.data<T>(), outer, n, inner, k, largest, idx);
      return Status::ok();
    }
  }));
  // Gather the values bytewise from the original tensor: exact for every dtype.
  Tensor values(x0.dtype(), out_dims);
  const size_t es = dtype_size(x0.dtype());
  const auto* src = static_cast<const uint8_t*>(x0.raw());
  auto* dst = static_cast<uint8_t*>(values.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t out = (o * k + j) * inner + i;
        std::memcpy(dst + out * es, src + ((o * n + idx[out]) * inner + i) * es, es);
      }
  ctx.outputs[0] = std::move(values);
  ctx.outputs[1] = std::move(indices);
  return Status::ok();
}

Status infer_topk(InferContext& ctx) {
  const TensorType& x = ctx.input_type(0);
  if (x.dtype == DType::Bool || x.dtype == DType::String)
    return ctx.error("{} data is not supported", dtype_name(x.dtype));
  if (!is_integer(ctx.input_type(1).dtype)) return ctx.error("K must be an integer");
  Shape s = Shape::unknown_rank();
  if (x.shape.rank_known) {
    WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), x.shape.rank()));
    s = x.shape;
    s.dims[axis] = Dim::unknown();
    if (const Tensor* kt = ctx.input_constant(1)) {
      if (kt->numel() != 1) return ctx.error("K must be one integer");
      int64_t k = kt->get_int(0);
      const Dim& n = x.shape.dims[axis];
      if (k < 0 || (n.is_known() && k > n.value))
        return ctx.error("K = {} is out of range for axis {} of size {}", k, axis,
                         n.is_known() ? n.value : -1);
      s.dims[axis] = Dim::known(k);
    }
  }
  ctx.outputs[0] = TensorType{x.dtype, s};
  ctx.outputs[1] = TensorType{DType::I64, s};
  return Status::ok();
}

// Opset 1: K was the attribute `k`.
Status import_topk(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  std::vector<Value*> ins = ctx.inputs;
  auto it = attrs.find("k");
  if (it != attrs.end()) {
    if (it->second.kind != Attribute::Kind::Int) return ctx.error("attribute 'k' must be an int");
    if (ins.size() > 1 && ins[1]) return ctx.error("K given both as attribute and as input");
    ins.resize(1);
    ins.push_back(ctx.constant("k", Tensor::from_vector<int64_t>({1}, {it->second.i})));
    attrs.erase(it);
  }
  if (ins.size() < 2 || !ins[1]) return ctx.error("K is missing");
  ctx.emit(OpKind::TopK, ins, ctx.outputs, attrs);
  return Status::ok();
}

// C: per row, an insertion into the output rows kept sorted by the kernel's
// order (value, then lower index first): elements arrive in index order and
// go after equal ones, so ties keep the lower index first. O(n * K) per row.
Status topk_emit_c(CEmitContext& c) {
  const Tensor* kt = c.input_constant(1);
  if (!kt) return c.error("K must be a constant for the C backend");
  if (!is_integer(kt->dtype()) || kt->numel() != 1) return c.error("K must be one integer");
  Dims in = c.in_dims(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), (int64_t)in.size()));
  const int64_t K = kt->get_int(0), n = in[axis];
  if (K < 0 || K > n) return c.error("K = {} is out of range for axis {} of size {}", K, axis, n);
  const DType t = c.input_dtype(0);
  if (t == DType::Bool) return c.error("bool data is not supported");
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < (int64_t)in.size(); ++i) {
    if (i < axis) outer *= in[i];
    if (i > axis) inner *= in[i];
  }
  if (outer * inner * K == 0) return Status::ok();
  const bool largest = c.attrs.i("largest") != 0;
  // a ranks strictly above b; NaN above every number (numpy sort order).
  auto above = [&](const std::string& a, const std::string& b) {
    if (!is_float(t)) return fmt::format("{} > {}", a, b);
    return fmt::format("({1} != {1} ? {0} == {0} : ({0} == {0} && {1} > {0}))", b, a);
  };
  const std::string T = c_type(t);
  std::string o = c.var("o"), i = c.var("i"), j = c.var("j"), m = c.var("m"), p = c.var("p"), q = c.var("q"),
              v = c.var("v");
  // Element r of the output rows (o, i) and element j of the input row.
  auto row = [&](const std::string& base, int64_t len, const std::string& r) {
    return inner == 1 ? fmt::format("{}[{} * {} + {}]", base, o, len, r)
                      : fmt::format("{}[({} * {} + {}) * {} + {}]", base, o, len, r, inner, i);
  };
  auto vals = [&](const std::string& r) { return row(c.out(0), K, r); };
  auto idxs = [&](const std::string& r) { return row(c.out(1), K, r); };
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", o, outer);
  if (inner != 1) c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, inner);
  c.w.line("int32_t {} = 0;", m);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", j, n);
  c.w.line("const {} {} = {};", T, v, row(c.in(0), n, j));
  c.w.line("int32_t {} = {};", p, m);
  c.w.open("while ({} > 0) {{", p);  // find v's place among the kept values
  c.w.line("const {} u = {};", T, vals(p + " - 1"));
  c.w.line("if (!({})) break;", largest ? above(v, "u") : above("u", v));
  c.w.line("--{};", p);
  c.w.close();
  c.w.open("if ({} < {}) {{", p, K);
  c.w.open("for (int32_t {0} = {1} < {2} ? {1} : {3}; {0} > {4}; --{0}) {{", q, m, K, K - 1, p);
  c.w.line("{} = {};", vals(q), vals(q + " - 1"));
  c.w.line("{} = {};", idxs(q), idxs(q + " - 1"));
  c.w.close();
  c.w.line("{} = {};", vals(p), v);
  c.w.line("{} = {};", idxs(p), j);
  c.w.line("if ({} < {}) ++{};", m, K, m);
  c.w.close();
  c.w.close();
  if (inner != 1) c.w.close();
  c.w.close();
  return Status::ok();
}

}  // namespace

const OpSchema& schema_TopK() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::TopK, "TopK"};
    m.min_inputs = m.max_inputs = 2;
    m.min_outputs = m.max_outputs = 2;
    m.attrs = {attr_int("axis", -1), attr_int("largest", 1), attr_int("sorted", 1)};
    m.fusion = FusionKind::Opaque;
    m.infer = infer_topk;
    m.kernel = topk_kernel;
    m.emit_c = topk_emit_c;
    m.import = import_topk;
    m.doc = "K largest/smallest values along axis and their int64 indices; ties by lower index";
    return m;
  }();
  return s;
}

}  // namespace weec
