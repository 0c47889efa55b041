// Gemm: Y = alpha * A' * B' + beta * C, A' = transA ? A^T : A (M x K), B' the
// same (K x N), C optional and unidirectionally broadcast to (M, N). Floats
// accumulate in double and round once; integers accumulate with two's
// complement wrap-around and apply alpha/beta only when they are not 1.
// Opset < 7 had a `broadcast` attribute; numpy broadcasting covers both of its
// settings for valid models, so the import hook drops it.
#include <cstring>

#include "ops/c_emit.h"
#include "ops/conv_util.h"
#include "ops/grad.h"

namespace weec {

namespace {

bool gemm_dtype_ok(DType t) {
  return is_float(t) || t == DType::I32 || t == DType::I64 || t == DType::U32 || t == DType::U64;
}

Status gemm_infer(InferContext& ctx) {
  const TensorType& a = ctx.input_type(0);
  const TensorType& b = ctx.input_type(1);
  if (!gemm_dtype_ok(a.dtype)) return ctx.error("dtype {} is not supported", dtype_name(a.dtype));
  if (b.dtype != a.dtype) return ctx.error("A and B dtypes differ");
  if (ctx.has_input(2) && ctx.input_type(2).dtype != a.dtype) return ctx.error("A and C dtypes differ");
  Shape s = Shape::of_rank(2);
  bool ta = ctx.attrs.i("transA") != 0, tb = ctx.attrs.i("transB") != 0;
  Dim k_a = Dim::unknown(), k_b = Dim::unknown();
  if (a.shape.rank_known) {
    if (a.shape.rank() != 2) return ctx.error("A must be 2-D, got {}", shape_str(a.shape));
    s.dims[0] = a.shape.dims[ta ? 1 : 0];
    k_a = a.shape.dims[ta ? 0 : 1];
  }
  if (b.shape.rank_known) {
    if (b.shape.rank() != 2) return ctx.error("B must be 2-D, got {}", shape_str(b.shape));
    s.dims[1] = b.shape.dims[tb ? 0 : 1];
    k_b = b.shape.dims[tb ? 1 : 0];
  }
  if (k_a.is_known() && k_b.is_known() && k_a.value != k_b.value)
    return ctx.error("inner dims differ: A' has K={}, B' has K={}", k_a.value, k_b.value);
  if (ctx.has_input(2)) {
    const Shape& c = ctx.input_type(2).shape;
    if (c.rank_known) {
      if (c.rank() > 2) return ctx.error("C must have rank <= 2, got {}", shape_str(c));
      for (int64_t i = 0; i < c.rank(); ++i) {
        const Dim& cd = c.dims[i];
        Dim& od = s.dims[2 - c.rank() + i];
        if (cd.is_known() && cd.value != 1) {
          if (od.is_known() && od.value != cd.value)
            return ctx.error("C {} cannot be broadcast to (M, N)", shape_str(c));
          if (!od.is_known() && od.symbol.empty()) od = cd;  // C pins an unknown dim
        }
      }
    }
  }
  ctx.outputs[0] = TensorType{a.dtype, s};
  return Status::ok();
}

template <typename T, typename Acc>
void gemm_loop(const T* a, const T* b, Acc* y, int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
  // i-k-j order keeps the inner loop contiguous in B and Y when B is not transposed.
  for (int64_t i = 0; i < m; ++i) {
    Acc* yr = y + i * n;
    for (int64_t p = 0; p < k; ++p) {
      Acc av = (Acc)(ta ? a[p * m + i] : a[i * k + p]);
      if (tb) {
        for (int64_t j = 0; j < n; ++j) yr[j] += av * (Acc)b[j * k + p];
      } else {
        const T* br = b + p * n;
        for (int64_t j = 0; j < n; ++j) yr[j] += av * (Acc)br[j];
      }
    }
  }
}

Status gemm_kernel(KernelContext& ctx) {
  const Tensor& a0 = ctx.input(0);
  const Tensor& b0 = ctx.input(1);
  const DType dt = a0.dtype();
  if (!gemm_dtype_ok(dt)) return ctx.error("dtype {} is not supported", dtype_name(dt));
  if (b0.dtype() != dt) return ctx.error("A and B dtypes differ");
  if (a0.rank() != 2 || b0.rank() != 2)
    return ctx.error("A and B must be 2-D, got {} and {}", dims_str(a0.dims()), dims_str(b0.dims()));
  bool ta = ctx.attrs.i("transA") != 0, tb = ctx.attrs.i("transB") != 0;
  const int64_t m = a0.dim(ta ? 1 : 0), k = a0.dim(ta ? 0 : 1);
  const int64_t n = b0.dim(tb ? 0 : 1), kb = b0.dim(tb ? 1 : 0);
  if (k != kb) return ctx.error("inner dims differ: A' is {}x{}, B' is {}x{}", m, k, kb, n);
  const double alpha = ctx.attrs.f("alpha"), beta = ctx.attrs.f("beta");
  const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  Dims c_strides;
  if (c) {
    if (c->dtype() != dt) return ctx.error("A and C dtypes differ");
    auto bd = broadcast_dims({c->dims(), {m, n}});
    if (c->rank() > 2 || !bd || *bd != Dims{m, n})
      return ctx.error("C {} cannot be broadcast to ({}, {})", dims_str(c->dims()), m, n);
    c_strides = broadcast_strides(c->dims(), {m, n});
  }
  auto c_index = [&](int64_t i, int64_t j) { return i * c_strides[0] + j * c_strides[1]; };
  Dims out_dims = {m, n};
  if (is_float(dt)) {
    Tensor a = is_half(dt) ? to_f32(a0) : a0, b = is_half(dt) ? to_f32(b0) : b0;
    std::vector<double> y(m * n, 0.0);
    if (a.dtype() == DType::F64)
      gemm_loop<double, double>(a.data<double>(), b.data<double>(), y.data(), m, n, k, ta, tb);
    else
      gemm_loop<float, double>(a.data<float>(), b.data<float>(), y.data(), m, n, k, ta, tb);
    std::vector<double> cv = c ? nn::to_doubles(*c) : std::vector<double>{};
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double v = alpha * y[i * n + j];
        if (c) v += beta * cv[c_index(i, j)];
        y[i * n + j] = v;
      }
    ctx.outputs[0] = nn::from_doubles(dt, out_dims, y);
    return Status::ok();
  }
  Tensor out(dt, out_dims);
  WEEC_TRY(visit_numeric(dt, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      using U = std::make_unsigned_t<T>;  // wrap-around without signed-overflow UB
      std::vector<U> y(m * n, 0);
      gemm_loop<T, U>(a0.data<T>(), b0.data<T>(), y.data(), m, n, k, ta, tb);
      const T* cp = c ? c->data<T>() : nullptr;
      T* o = out.data<T>();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          T v = (T)y[i * n + j];
          if (alpha != 1.0) v = (T)(alpha * (double)v);
          if (cp) {
            T cv = cp[c_index(i, j)];
            v = beta == 1.0 ? (T)((U)v + (U)cv) : (T)((double)v + beta * (double)cv);
          }
          o[i * n + j] = v;
        }
      return Status::ok();
    } else {
      return ctx.error("dtype {} is not supported", dtype_name(dt));
    }
  }));
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

Status gemm_import(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  attrs.erase("broadcast");
  ctx.emit(OpKind::Gemm, ctx.inputs, ctx.outputs, attrs);
  return Status::ok();
}

int64_t gemm_macs(const Node& n) {
  const Value* a = n.input(0);
  const Shape& y = n.outputs[0]->type.shape;
  if (!a || !a->type.shape.is_static() || !y.is_static()) return 0;
  int64_t k = a->type.shape.dims[n.attr("transA") && n.attr("transA")->i ? 0 : 1].value;
  return numel_of(y.static_dims()) * k;
}

// ---- C emission ----

constexpr int64_t kDotLanes = 16;

struct GemmEmit {
  CEmitContext& c;
  int64_t M, K, N;
  bool ta, tb;
  DType t, acc;  // acc: t for floats, the unsigned type of t's width for integers

  std::string a_at(const std::string& m, const std::string& k) const {
    return ta ? fmt::format("{}[{} * {} + {}]", c.in(0), k, M, m)
              : fmt::format("{}[{} * {} + {}]", c.in(0), m, K, k);
  }
  std::string operand(const std::string& raw) const {
    return acc == t ? raw : fmt::format("({}){}", c_type(acc), raw);
  }

  // alpha * acc + beta * C[m, n] with the kernel's rules: floats in t;
  // integers wrap, scaling through double only when alpha/beta are not 1.
  std::string value(const std::string& a, const std::string& m, const std::string& n) const {
    const double alpha = c.attrs.f("alpha"), beta = c.attrs.f("beta");
    const std::string T = c_type(t);
    std::string cv;
    if (c.has_input(2) && beta != 0) {
      Dims cd = c.in_dims(2);
      while (cd.size() < 2) cd.insert(cd.begin(), 1);
      std::string ci;
      if (cd[0] != 1) ci = fmt::format("{} * {}", m, cd[1]);
      if (cd[1] != 1) ci = ci.empty() ? n : ci + " + " + n;
      cv = fmt::format("{}[{}]", c.in(2), ci.empty() ? "0" : ci);
    }
    if (is_float(t)) {
      std::string v = alpha == 1 ? a : fmt::format("{} * {}", c_literal(alpha, t), a);
      if (cv.empty()) return v;
      return fmt::format("{} + {}", v, beta == 1 ? cv : fmt::format("{} * {}", c_literal(beta, t), cv));
    }
    std::string v = fmt::format("(({}){})", T, a);
    if (alpha != 1) v = fmt::format("(({})({} * (double){}))", T, c_literal(alpha, DType::F64), v);
    if (cv.empty()) return v;
    if (beta == 1) return fmt::format("({})(({}){} + ({}){})", T, c_type(acc), v, c_type(acc), cv);
    return fmt::format("({})((double){} + {} * (double){})", T, v, c_literal(beta, DType::F64), cv);
  }

  // B not transposed: a scratch row acc[0..N) += A[m, k] * B[k, 0..N), the
  // inner loop contiguous in B (vectorisable without reassociating a sum).
  void rows() {
    std::string accb = c.scratch(acc, N, "acc");
    std::string m = c.var("m"), n = c.var("n"), k = c.var("k"), av = c.var("av");
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", m, M);
    c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = 0;", n, N, accb);
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", k, K);
    c.w.line("const {} {} = {};", c_type(acc), av, operand(a_at(m, k)));
    c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] += {3} * {4};", n, N, accb, av,
             operand(fmt::format("{}[{} * {} + {}]", c.in(1), k, N, n)));
    c.w.close();
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, N);
    c.store(0, {m, n}, value(fmt::format("{}[{}]", accb, n), m, n));
    c.w.close();
    c.w.close();
  }

  // B transposed (PyTorch's Linear layout): dot products of contiguous rows
  // split over kDotLanes independent partial sums, which gcc vectorises
  // without -ffast-math; the lanes are summed at the end. Each output row
  // goes through a scratch row before the epilogue.
  void dots() {
    std::string m = c.var("m"), n = c.var("n"), k = c.var("k"), l = c.var("l");
    std::string part = c.var("part"), sum = c.var("sum"), br = c.var("br");
    const std::string A = c_type(acc);
    const int64_t lanes = K >= kDotLanes ? kDotLanes : 1, body = lanes > 1 ? K / lanes * lanes : 0;
    const std::string row = c.scratch(acc, N, "row");
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", m, M);
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, N);
    c.w.line("const {}* {} = {} + {} * {};", c_type(t), br, c.in(1), n, K);
    if (lanes > 1) {
      c.w.line("{} {}[{}];", A, part, lanes);
      c.w.line("{} {} = 0;", A, sum);
      c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = 0;", l, lanes, part);
      c.w.open("for (int32_t {0} = 0; {0} < {1}; {0} += {2}) {{", k, body, lanes);
      c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] += {3} * {4};", l, lanes, part,
               operand(a_at(m, k + " + " + l)), operand(fmt::format("{}[{} + {}]", br, k, l)));
      c.w.close();
      c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2} += {3}[{0}];", l, lanes, sum, part);
    } else {
      c.w.line("{} {} = 0;", A, sum);
    }
    if (body < K)
      c.w.line("for (int32_t {0} = {1}; {0} < {2}; ++{0}) {3} += {4} * {5};", k, body, K, sum,
               operand(a_at(m, k)), operand(fmt::format("{}[{}]", br, k)));
    c.w.line("{}[{}] = {};", row, n, sum);
    c.w.close();
    // The epilogue in its own loop over n: contiguous and free of reductions,
    // gcc vectorises it (a fused tanh or sigmoid included).
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, N);
    c.store(0, {m, n}, value(fmt::format("{}[{}]", row, n), m, n));
    c.w.close();
    c.w.close();
  }
};

Status gemm_emit_c(CEmitContext& c) {
  Dims a = c.in_dims(0), b = c.in_dims(1);
  bool ta = c.attrs.i("transA") != 0, tb = c.attrs.i("transB") != 0;
  DType t = c.output_dtype();
  DType acc = is_float(t) ? t : dtype_size(t) == 8 ? DType::U64 : DType::U32;
  GemmEmit e{c, ta ? a[1] : a[0], ta ? a[0] : a[1], tb ? b[0] : b[1], ta, tb, t, acc};
  if (e.M == 0 || e.N == 0) return Status::ok();
  if (tb)
    e.dots();
  else
    e.rows();
  return Status::ok();
}

}  // namespace

namespace {

// Gradient (ops/grad.h). With A' = transA ? A^T : A and B' likewise,
// dA' = alpha dY B'^T and dB' = alpha A'^T dY; each is one Gemm whose
// transposes read A, B and dY as stored. dC = beta dY summed over C's
// broadcast axes.
Status gemm_grad(GradContext& c) {
  const bool ta = c.attrs.i("transA") != 0, tb = c.attrs.i("transB") != 0;
  Value *a = c.x(0), *b = c.x(1), *dy = c.dy(0);
  const float alpha = c.attrs.f("alpha"), beta = c.attrs.f("beta");
  auto gemm = [&](Value* p, Value* q, bool tp, bool tq) {
    return c.op(OpKind::Gemm, {p, q},
                {{"alpha", Attribute::of_float(alpha)},
                 {"transA", Attribute::of_int(tp)},
                 {"transB", Attribute::of_int(tq)}});
  };
  if (c.wants(0)) c.set(0, ta ? gemm(b, dy, tb, true) : gemm(dy, b, false, !tb));
  if (c.wants(1)) c.set(1, tb ? gemm(dy, a, true, ta) : gemm(a, dy, !ta, false));
  if (c.wants(2)) {
    Value* d = beta == 1.f ? dy : c.op(OpKind::Mul, {dy, c.scalar(beta, dy->type.dtype)});
    c.set(2, c.unbroadcast(d, c.dims(c.x(2))));
  }
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Gemm() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Gemm, "Gemm"};
    m.min_inputs = 2;
    m.max_inputs = 3;
    m.attrs = {attr_float("alpha", 1.f), attr_float("beta", 1.f), attr_int("transA", 0),
               attr_int("transB", 0)};
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = gemm_infer;
    m.kernel = gemm_kernel;
    m.macs = gemm_macs;
    m.import = gemm_import;
    m.emit_c = gemm_emit_c;
    m.grad = gemm_grad;
    m.doc = "alpha * op(A) * op(B) + beta * C with optional transposes and C broadcast";
    return m;
  }();
  return s;
}

}  // namespace weec
