// Gemm: Y = alpha * A' * B' + beta * C, A' = transA ? A^T : A (M x K), B' the
// same (K x N), C optional and unidirectionally broadcast to (M, N). Floats
// accumulate in double and round once; integers accumulate with two's
// complement wrap-around and apply alpha/beta only when they are not 1.
// Opset < 7 had a `broadcast` attribute; numpy broadcasting covers both of its
// settings for valid models, so the import hook drops it.
#include <cstring>

#include "ops/conv_util.h"

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
    m.doc = "alpha * op(A) * op(B) + beta * C with optional transposes and C broadcast";
    return m;
  }();
  return s;
}

}  // namespace weec
