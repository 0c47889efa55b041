// Elementwise integer ops of the int8 pipeline (weec-internal), each ending
// with the rescaling of qop_util.h (y_zero_point, multiplier, shift, act_min,
// act_max, out_dtype; mbqm = multiply_by_quantized_multiplier):
//  * QAdd (numpy broadcasting), TFLite's quantised add with the parameters
//    of quant::qadd_params:
//      sa  = mbqm((a - a_zero_point) * 2^left_shift, a_multiplier, a_shift)
//      sb  = mbqm((b - b_zero_point) * 2^left_shift, b_multiplier, b_shift)
//      y   = clamp(y_zp + mbqm(sat32(sa + sb), multiplier, shift))
//  * QMul (broadcasting): y = clamp(y_zp + mbqm((a - a_zp) * (b - b_zp), multiplier, shift))
//    with multiplier ~ sa * sb / sy.
//  * Requantize: y = clamp(y_zp + mbqm(sat32(x - x_zero_point), m0, shift)),
//    per tensor (attributes multiplier/shift, one entry each) or per element
//    of broadcast int32 inputs M0, SHIFT (e.g. [C, 1, 1] for per-channel):
//    scalar C forms see no index, so per-axis parameters come as inputs.
//  * QLookup: y = table[x + 128] (int8 x) or table[x] (uint8 x), 256 entries.
// Every intermediate provably fits int32 (inference checks the zero points
// and left_shift), so the C forms are plain int32 expressions.
#include "ops/qop_util.h"

namespace weec {

namespace {

using qop::Requant;

Status check_input(const NodeContext& ctx, DType t, const char* what, bool any_int) {
  const bool ok = t == DType::I8 || t == DType::U8 || t == DType::I16 ||
                  (any_int && (t == DType::U16 || t == DType::I32));
  if (!ok)
    return ctx.error("{} has dtype {}, expected {}", what, dtype_name(t),
                     any_int ? "an 8/16/32-bit integer" : "int8, uint8 or int16");
  return Status::ok();
}

Status infer_binary(InferContext& ctx) {
  WEEC_TRY(check_input(ctx, ctx.input_type(0).dtype, "A", false));
  WEEC_TRY(check_input(ctx, ctx.input_type(1).dtype, "B", false));
  WEEC_ASSIGN_OR_RETURN(Requant rq, qop::read_requant(ctx, 0));
  WEEC_ASSIGN_OR_RETURN(Shape s, broadcast_shapes({ctx.input_type(0).shape, ctx.input_type(1).shape}));
  ctx.outputs[0] = TensorType{rq.out, s};
  return Status::ok();
}

// ---- QAdd ----

struct AddArgs {
  int32_t az = 0, bz = 0, ls = 20;
  quant::QuantizedMultiplier a, b;
  Requant rq;
};

Expected<quant::QuantizedMultiplier> read_multiplier(const NodeContext& ctx, const char* m, const char* s) {
  const int64_t m0 = ctx.attrs.i(m), sh = ctx.attrs.i(s);
  if (m0 < INT32_MIN || m0 > INT32_MAX) return ctx.error("{} {} does not fit int32", m, m0);
  if (sh < -31 || sh > 30) return ctx.error("{} {} is outside [-31, 30]", s, sh);
  return quant::QuantizedMultiplier{(int32_t)m0, (int)sh};
}

Expected<AddArgs> add_args(const NodeContext& ctx, DType at, DType bt) {
  AddArgs r;
  WEEC_ASSIGN_OR_RETURN(r.az, qop::read_zero_point(ctx, "a_zero_point", at));
  WEEC_ASSIGN_OR_RETURN(r.bz, qop::read_zero_point(ctx, "b_zero_point", bt));
  const int64_t ls = ctx.attrs.i("left_shift");
  if (ls < 0 || ls > 30) return ctx.error("left_shift {} is outside [0, 30]", ls);
  r.ls = (int32_t)ls;
  // (x - zp) * 2^left_shift must fit int32 for every x.
  for (auto [t, zp] : {std::pair{at, r.az}, std::pair{bt, r.bz}})
    if (qop::max_abs_offset(t, zp) << ls > INT32_MAX)
      return ctx.error("left_shift {} overflows int32 for {} inputs with zero point {}", ls, dtype_name(t),
                       zp);
  WEEC_ASSIGN_OR_RETURN(r.a, read_multiplier(ctx, "a_multiplier", "a_shift"));
  WEEC_ASSIGN_OR_RETURN(r.b, read_multiplier(ctx, "b_multiplier", "b_shift"));
  WEEC_ASSIGN_OR_RETURN(r.rq, qop::read_requant(ctx, 0));
  return r;
}

template <typename F>
Status binary_kernel(KernelContext& ctx, DType out, F&& f) {
  const Tensor &a = ctx.input(0), &b = ctx.input(1);
  auto dims = broadcast_dims({a.dims(), b.dims()});
  if (!dims) return ctx.error("{}", dims.status().message());
  Tensor y(out, *dims);
  std::vector<Dims> st = {broadcast_strides(a.dims(), *dims), broadcast_strides(b.dims(), *dims)};
  for_each_broadcast(*dims, st, [&](int64_t o, const int64_t* off) {
    y.set_double(o, f(a.get_int(off[0]), b.get_int(off[1])));
  });
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

Status qadd_infer(InferContext& ctx) {
  WEEC_TRY(infer_binary(ctx));
  return add_args(ctx, ctx.input_type(0).dtype, ctx.input_type(1).dtype).status();
}

Status qadd_kernel(KernelContext& ctx) {
  WEEC_TRY(check_input(ctx, ctx.input(0).dtype(), "A", false));
  WEEC_TRY(check_input(ctx, ctx.input(1).dtype(), "B", false));
  WEEC_ASSIGN_OR_RETURN(AddArgs p, add_args(ctx, ctx.input(0).dtype(), ctx.input(1).dtype()));
  return binary_kernel(ctx, p.rq.out, [&](int64_t a, int64_t b) {
    using quant::multiply_by_quantized_multiplier;
    const int64_t sa = multiply_by_quantized_multiplier((int32_t)((a - p.az) << p.ls), p.a.m0, p.a.shift);
    const int64_t sb = multiply_by_quantized_multiplier((int32_t)((b - p.bz) << p.ls), p.b.m0, p.b.shift);
    return p.rq.apply(qop::sat32(sa + sb), 0);
  });
}

std::string offset_c(const std::string& x, int32_t zp) {
  return zp == 0 ? fmt::format("(int32_t){}", x)
                 : fmt::format("((int32_t){} - {})", x, c_literal_i64(zp, DType::I32));
}

Expected<std::string> qadd_scalar(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(AddArgs p, add_args(c, c.input_dtype(0), c.input_dtype(1)));
  qop::register_c_helpers(c);
  qop::sat32_c(c);
  c.helper("weec_qadd",
           "static int32_t weec_qadd(int32_t a, int32_t b, int32_t ls, int32_t am, int32_t as, int32_t bm,\n"
           "                         int32_t bs) {\n"
           "  return weec_sat32((int64_t)weec_mbqm(a * ((int32_t)1 << ls), am, as) +\n"
           "                    weec_mbqm(b * ((int32_t)1 << ls), bm, bs));\n"
           "}\n");
  std::string sum =
      fmt::format("weec_qadd({}, {}, {}, {}, {}, {}, {})", offset_c(c.in[0], p.az), offset_c(c.in[1], p.bz),
                  p.ls, qop::lit32(p.a.m0), p.a.shift, qop::lit32(p.b.m0), p.b.shift);
  return qop::requant_c(c, p.rq, sum, qop::lit32(p.rq.m0[0]), qop::lit32(p.rq.shift[0]));
}

// ---- QMul ----

Expected<std::pair<int32_t, int32_t>> mul_zero_points(const NodeContext& ctx, DType at, DType bt) {
  WEEC_ASSIGN_OR_RETURN(int32_t az, qop::read_zero_point(ctx, "a_zero_point", at));
  WEEC_ASSIGN_OR_RETURN(int32_t bz, qop::read_zero_point(ctx, "b_zero_point", bt));
  if (qop::max_abs_offset(at, az) * qop::max_abs_offset(bt, bz) > INT32_MAX)
    return ctx.error("(a - {}) * (b - {}) can overflow int32 for {} x {}", az, bz, dtype_name(at),
                     dtype_name(bt));
  return std::pair{az, bz};
}

Status qmul_infer(InferContext& ctx) {
  WEEC_TRY(infer_binary(ctx));
  return mul_zero_points(ctx, ctx.input_type(0).dtype, ctx.input_type(1).dtype).status();
}

Status qmul_kernel(KernelContext& ctx) {
  WEEC_TRY(check_input(ctx, ctx.input(0).dtype(), "A", false));
  WEEC_TRY(check_input(ctx, ctx.input(1).dtype(), "B", false));
  WEEC_ASSIGN_OR_RETURN(auto zp, mul_zero_points(ctx, ctx.input(0).dtype(), ctx.input(1).dtype()));
  WEEC_ASSIGN_OR_RETURN(Requant rq, qop::read_requant(ctx, 0));
  return binary_kernel(ctx, rq.out,
                       [&](int64_t a, int64_t b) { return rq.apply((a - zp.first) * (b - zp.second), 0); });
}

Expected<std::string> qmul_scalar(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(auto zp, mul_zero_points(c, c.input_dtype(0), c.input_dtype(1)));
  WEEC_ASSIGN_OR_RETURN(Requant rq, qop::read_requant(c, 0));
  std::string prod = fmt::format("{} * {}", offset_c(c.in[0], zp.first), offset_c(c.in[1], zp.second));
  return qop::requant_c(c, rq, prod, qop::lit32(rq.m0[0]), qop::lit32(rq.shift[0]));
}

// ---- Requantize ----

struct RequantizeArgs {
  int32_t xz = 0;
  Requant rq;  // m0/shift empty when they come as inputs
  bool from_inputs = false;
};

Expected<RequantizeArgs> requantize_args(const NodeContext& ctx, DType xt, bool m_in, bool s_in) {
  RequantizeArgs r;
  WEEC_TRY(check_input(ctx, xt, "X", true));
  WEEC_ASSIGN_OR_RETURN(r.xz, qop::read_zero_point(ctx, "x_zero_point", xt));
  WEEC_ASSIGN_OR_RETURN(r.rq, qop::read_requant(ctx, 0, true));
  r.from_inputs = m_in || s_in;
  if (r.from_inputs != r.rq.m0.empty() || m_in != s_in)
    return ctx.error("give the multipliers either as attributes multiplier/shift or as inputs M0 and SHIFT");
  return r;
}

Status requantize_infer(InferContext& ctx) {
  const TensorType& xt = ctx.input_type(0);
  WEEC_ASSIGN_OR_RETURN(RequantizeArgs a, requantize_args(ctx, xt.dtype, ctx.has_input(1), ctx.has_input(2)));
  for (size_t i = 1; i <= 2 && a.from_inputs; ++i) {
    if (ctx.input_type(i).dtype != DType::I32) return ctx.error("{} must be int32", ctx.input_desc(i));
    auto s = broadcast_shapes({xt.shape, ctx.input_type(i).shape});
    if (!s || (xt.shape.is_static() && *s != xt.shape))
      return ctx.error("{} does not broadcast to X {}", ctx.input_desc(i), shape_str(xt.shape));
  }
  ctx.outputs[0] = TensorType{a.rq.out, xt.shape};
  return Status::ok();
}

Status requantize_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(RequantizeArgs a,
                        requantize_args(ctx, x.dtype(), ctx.has_input(1), ctx.has_input(2)));
  Tensor y(a.rq.out, x.dims());
  if (!a.from_inputs) {
    for (int64_t i = 0; i < x.numel(); ++i) y.set_double(i, a.rq.apply(qop::sat32(x.get_int(i) - a.xz), 0));
    ctx.outputs[0] = std::move(y);
    return Status::ok();
  }
  const Tensor &m = ctx.input(1), &s = ctx.input(2);
  std::vector<Dims> st;
  for (const Tensor* t : {&m, &s}) {
    auto d = broadcast_dims({x.dims(), t->dims()});
    if (!d || *d != x.dims() || t->dtype() != DType::I32)
      return ctx.error("M0 and SHIFT must be int32 broadcasting to X {}", dims_str(x.dims()));
    st.push_back(broadcast_strides(t->dims(), x.dims()));
  }
  for (int64_t i = 0; i < s.numel(); ++i)
    if (s.data<int32_t>()[i] < -31 || s.data<int32_t>()[i] > 30)
      return ctx.error("SHIFT {} is outside [-31, 30]", s.data<int32_t>()[i]);
  for_each_broadcast(x.dims(), st, [&](int64_t o, const int64_t* off) {
    Requant r = a.rq;
    r.m0 = {m.data<int32_t>()[off[0]]};
    r.shift = {s.data<int32_t>()[off[1]]};
    y.set_double(o, r.apply(qop::sat32(x.get_int(o) - a.xz), 0));
  });
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

Expected<std::string> requantize_scalar(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(RequantizeArgs a,
                        requantize_args(c, c.input_dtype(0), c.has_input(1), c.has_input(2)));
  qop::register_c_helpers(c);
  std::string d = offset_c(c.in[0], a.xz);
  if (c.input_dtype(0) == DType::I32 && a.xz != 0)  // x - x_zp can leave int32
    d = fmt::format("{}((int64_t){} - {})", qop::sat32_c(c), c.in[0], a.xz);
  if (!a.from_inputs) return qop::requant_c(c, a.rq, d, qop::lit32(a.rq.m0[0]), qop::lit32(a.rq.shift[0]));
  // Out-of-range shifts are an error in the kernel; C cannot report one, so
  // the values must be known here.
  const Tensor* s = c.input_constant(2);
  if (!c.input_constant(1) || !s) return c.error("the C backend needs M0 and SHIFT as constants");
  for (int64_t i = 0; i < s->numel(); ++i)
    if (s->data<int32_t>()[i] < -31 || s->data<int32_t>()[i] > 30)
      return c.error("SHIFT {} is outside [-31, 30]", s->data<int32_t>()[i]);
  return qop::requant_c(c, a.rq, d, c.in[1], c.in[2]);
}

// ---- QLookup ----

Expected<DType> lookup_check(const NodeContext& ctx, DType xt) {
  if (!qop::is_q8(xt)) return ctx.error("X must be int8 or uint8, got {}", dtype_name(xt));
  WEEC_ASSIGN_OR_RETURN(DType out, qop::read_out_dtype(ctx));
  const auto& t = ctx.attrs.ints("table");
  if (t.size() != 256) return ctx.error("table must have 256 entries, got {}", t.size());
  const qop::IntRange r = qop::dtype_range(out);
  for (int64_t v : t)
    if (v < r.lo || v > r.hi) return ctx.error("table entry {} does not fit {}", v, dtype_name(out));
  return out;
}

Status lookup_infer(InferContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(DType out, lookup_check(ctx, ctx.input_type(0).dtype));
  ctx.outputs[0] = TensorType{out, ctx.input_type(0).shape};
  return Status::ok();
}

Status lookup_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(DType out, lookup_check(ctx, x.dtype()));
  const auto& t = ctx.attrs.ints("table");
  const int64_t base = x.dtype() == DType::I8 ? 128 : 0;
  Tensor y(out, x.dims());
  for (int64_t i = 0; i < x.numel(); ++i) y.set_double(i, (double)t[x.get_int(i) + base]);
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

Expected<std::string> lookup_scalar(CScalarContext& c) {
  WEEC_ASSIGN_OR_RETURN(DType out, lookup_check(c, c.input_dtype(0)));
  const auto& t = c.attrs.ints("table");
  // One table per distinct content: named by its FNV-1a hash.
  uint64_t h = 1469598103934665603ull ^ (uint64_t)out;
  for (int64_t v : t) h = (h ^ (uint64_t)v) * 1099511628211ull;
  auto text_of = [&](const std::string& name) {
    std::string text = fmt::format("static const {} {}[256] = {{", c_type(out), name);
    for (size_t i = 0; i < t.size(); ++i) text += (i % 16 ? " " : "\n  ") + c_literal_i64(t[i], out) + ",";
    return text + "\n};\n";
  };
  std::string name = fmt::format("weec_lut_{:016x}", h);
  for (int k = 1;; ++k) {  // a hash collision with another table gets a suffix
    auto same = [&](const auto& e) { return e.first == name; };
    auto it = std::find_if(c.needs.helpers.begin(), c.needs.helpers.end(), same);
    if (it == c.needs.helpers.end() || it->second == text_of(name)) break;
    name = fmt::format("weec_lut_{:016x}_{}", h, k);
  }
  c.helper(name, text_of(name));
  if (c.input_dtype(0) == DType::I8) return fmt::format("{}[(int32_t){} + 128]", name, c.in[0]);
  return fmt::format("{}[{}]", name, c.in[0]);
}

}  // namespace

const OpSchema& schema_QAdd() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::QAdd, ""};
    m.min_inputs = m.max_inputs = 2;
    m.attrs = qop::requant_attrs();
    for (AttrSpec a :
         {attr_int("a_zero_point", 0), attr_int("b_zero_point", 0), attr_int("left_shift", 20),
          attr_required("a_multiplier", Attribute::Kind::Int), attr_required("a_shift", Attribute::Kind::Int),
          attr_required("b_multiplier", Attribute::Kind::Int),
          attr_required("b_shift", Attribute::Kind::Int)})
      m.attrs.push_back(a);
    m.fusion = FusionKind::Broadcast;
    m.infer = qadd_infer;
    m.kernel = qadd_kernel;
    m.emit_scalar = qadd_scalar;
    m.doc = "int8 add with rescaling (TFLite's, see qadd_params), broadcasting (weec-internal)";
    return m;
  }();
  return s;
}

const OpSchema& schema_QMul() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::QMul, ""};
    m.min_inputs = m.max_inputs = 2;
    m.attrs = qop::requant_attrs();
    m.attrs.push_back(attr_int("a_zero_point", 0));
    m.attrs.push_back(attr_int("b_zero_point", 0));
    m.fusion = FusionKind::Broadcast;
    m.infer = qmul_infer;
    m.kernel = qmul_kernel;
    m.emit_scalar = qmul_scalar;
    m.doc = "int8 multiply: y = clamp(y_zp + mbqm((a - a_zp) * (b - b_zp))), broadcasting (weec-internal)";
    return m;
  }();
  return s;
}

const OpSchema& schema_Requantize() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Requantize, ""};
    m.min_inputs = 1;
    m.max_inputs = 3;
    m.attrs = qop::requant_attrs();
    for (AttrSpec& a : m.attrs)
      if (a.name == "multiplier" || a.name == "shift") a = attr_optional(a.name, Attribute::Kind::Ints);
    m.attrs.push_back(attr_int("x_zero_point", 0));
    m.fusion = FusionKind::Broadcast;
    m.infer = requantize_infer;
    m.kernel = requantize_kernel;
    m.emit_scalar = requantize_scalar;
    m.doc =
        "integer rescale: y = clamp(y_zp + mbqm(x - x_zp, m0, shift)), m0/shift per tensor or broadcast "
        "inputs (weec-internal)";
    return m;
  }();
  return s;
}

const OpSchema& schema_QLookup() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::QLookup, ""};
    m.attrs = {attr_required("table", Attribute::Kind::Ints), attr_int("out_dtype", 3)};
    m.fusion = FusionKind::Elementwise;
    m.infer = lookup_infer;
    m.kernel = lookup_kernel;
    m.emit_scalar = lookup_scalar;
    m.doc = "8-bit table lookup: y = table[x + 128] (int8) or table[x] (uint8) (weec-internal)";
    return m;
  }();
  return s;
}

}  // namespace weec
