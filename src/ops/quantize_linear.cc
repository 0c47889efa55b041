// QuantizeLinear, DequantizeLinear (per tensor, or per `axis` with 1-D
// scale/zero point; u8/i8, zero point optional) and DynamicQuantizeLinear.
// Quantisation divides in f32 (f64 for int32 input, as numpy promotes),
// rounds half to even, adds the zero point and saturates, as ONNX's reference.
// The importer reshapes a per-axis scale/zero point to broadcast numpy-style
// ([C] -> [C, 1, ...]), so the C backend inlines both ops as scalar
// expressions (and fuses them) with its ordinary broadcasting.
#include <cmath>
#include <limits>

#include "ops/nn_emit.h"

namespace weec {

namespace {

bool is_q8(DType t) { return t == DType::U8 || t == DType::I8; }

// Round half to even, add zero point, saturate to the 8-bit range of `to`.
// NaN saturates to 0 (numpy's astype gives an unspecified value).
int64_t saturate_q(double v, int64_t zp, DType to) {
  const double lo = to == DType::U8 ? 0 : -128, hi = to == DType::U8 ? 255 : 127;
  if (std::isnan(v)) return 0;
  double r = round_half_even(v) + (double)zp;
  return (int64_t)std::min(hi, std::max(lo, r));
}

// Which scale/zero-point entry element i uses: all 0 per tensor, its index
// along `axis` for a 1-D parameter, else numpy broadcasting (the imported
// form of a per-axis parameter).
struct QuantIndex {
  int64_t inner = 1, len = 1;  // per-axis: (i / inner) % len
  bool per_axis = false;
  std::vector<int64_t> at;  // broadcast: index of every element
  int64_t operator()(int64_t i) const { return !at.empty() ? at[i] : per_axis ? (i / inner) % len : 0; }
};

Expected<QuantIndex> quant_index(const NodeContext& ctx, const Tensor& x, const Tensor& scale,
                                 const Tensor* zp) {
  if (zp && zp->numel() != scale.numel())
    return ctx.error("scale and zero point sizes differ: {} vs {}", scale.numel(), zp->numel());
  QuantIndex q;
  if (scale.numel() == 1 && scale.rank() <= 1) return q;
  if (scale.rank() > 1 || (zp && zp->dims() != scale.dims())) {
    auto bd = broadcast_dims({scale.dims(), x.dims()});
    if (!bd || *bd != x.dims() || (zp && zp->dims() != scale.dims()))
      return ctx.error("scale {} does not broadcast to x {}", dims_str(scale.dims()), dims_str(x.dims()));
    q.at.resize(x.numel());
    for_each_broadcast(x.dims(), {broadcast_strides(scale.dims(), x.dims())},
                       [&](int64_t i, const int64_t* off) { q.at[i] = off[0]; });
    return q;
  }
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), x.rank()));
  if (x.dim(axis) != scale.numel())
    return ctx.error("scale has {} entries but axis {} of {} has {}", scale.numel(), axis, dims_str(x.dims()),
                     x.dim(axis));
  q.per_axis = true;
  q.len = x.dim(axis);
  for (int64_t i = axis + 1; i < x.rank(); ++i) q.inner *= x.dim(i);
  return q;
}

// A 1-D per-axis scale/zero point (inputs 1, 2) becomes [C, 1, ...] so it
// broadcasts onto x like any numpy operand; needs x's rank at import.
Status quant_import(ImportContext& ctx, OpKind op) {
  std::vector<Value*> ins = ctx.inputs;
  const Value* x = ins[0];
  const Value* scale = ins.size() > 1 ? ins[1] : nullptr;
  if (x && scale && x->type.shape.rank_known && scale->type.shape.rank_known &&
      scale->type.shape.rank() == 1 &&
      !(scale->type.shape.dims[0].is_known() && scale->type.shape.dims[0].value == 1)) {
    const int64_t rank = x->type.shape.rank();
    int64_t axis = ctx.attrs.count("axis") ? ctx.attrs.at("axis").i : 1;
    if (axis < 0) axis += rank;
    const int64_t extra = rank - 1 - axis;
    if (axis >= 0 && extra > 0) {
      for (size_t i = 1; i < ins.size() && i < 3; ++i) {
        if (!ins[i]) continue;
        if (ins[i]->constant) {
          Tensor t = *ins[i]->constant;
          Dims d = t.dims();
          d.resize(d.size() + extra, 1);
          t.reshape(d);
          ins[i] = ctx.constant(i == 1 ? "scale" : "zero_point", std::move(t));
        } else {
          std::vector<int64_t> axes;
          for (int64_t k = 0; k < extra; ++k) axes.push_back(1 + k);
          Value* axes_v = ctx.constant("axes", Tensor::from_vector<int64_t>({extra}, axes));
          Value* v = ctx.temp(i == 1 ? "scale" : "zero_point");
          ctx.emit(OpKind::Unsqueeze, {ins[i], axes_v}, {v}, {});
          ins[i] = v;
        }
      }
    }
  }
  ctx.emit(op, ins, ctx.outputs, ctx.attrs);
  return Status::ok();
}

// A per-axis parameter left 1-D (x's rank unknown at import) only
// broadcasts numpy-style along the last axis.
Status check_scalar_params(CScalarContext& c) {
  const Shape& ss = c.node.inputs[1]->type.shape;
  const int64_t rank = c.node.inputs[0]->type.shape.rank();
  if (!ss.is_static() || ss.rank() != 1 || numel_of(ss.static_dims()) == 1) return Status::ok();
  auto axis = normalize_axis(c, c.attrs.i("axis"), rank);
  if (!axis) return axis.status();
  if (*axis != rank - 1)
    return c.error("a 1-D per-axis scale along axis {} of rank {} is not supported", *axis, rank);
  return Status::ok();
}

// saturate(round_half_even(v) + zp) for f32 v, without branches or libm
// calls, so that a loop of it vectorises (nearbyint is a libm call without
// SSE4.1; GCC does not if-convert float compares, which may trap, so the
// clamp and the NaN test work on v's bits as integers, read through a union). Clamping |v| to 256
// first changes no result (|zp| <= 255, and the output range is 8-bit) and
// keeps it where adding and subtracting 1.5 * 2^23 rounds it to an integer,
// half to even, in IEEE single precision; the assignments drop any excess
// precision (C99). NaN (magnitude bits above infinity's) gives 0, as the
// kernel (v = -zp). -ffast-math could fold the rounding away: nearbyintf
// there.
std::string quantize_f32_helper(CEmitBase& c, DType to) {
  const bool u8 = to == DType::U8;
  const std::string name = u8 ? "weec_quantize_f32_u8" : "weec_quantize_f32_i8";
  const std::string rint = c.math("nearbyint", DType::F32);
  return c.helper(name, fmt::format("static int32_t {0}(float v, int32_t zp) {{\n"
                                    "  float r;\n"
                                    "  int32_t q;\n"
                                    "#if defined(__FAST_MATH__)\n"
                                    "  if (v != v) return 0;\n"
                                    "  r = v > -256.0f ? (v < 256.0f ? {1}(v) : 256.0f) : -256.0f;\n"
                                    "  q = (int32_t)r + zp;\n"
                                    "  return q < {2} ? {2} : q > {3} ? {3} : q;\n"
                                    "#else\n"
                                    "  union {{ float f; uint32_t u; }} t;\n"
                                    "  uint32_t m;\n"
                                    "  t.f = v;\n"
                                    "  m = t.u & 0x7fffffffu;\n"
                                    "  t.u = (t.u & 0x80000000u) | (m < 0x43800000u ? m : 0x43800000u);\n"
                                    "  r = t.f + 12582912.0f;\n"
                                    "  r = r - 12582912.0f;\n"
                                    "  q = (int32_t)r + zp;\n"
                                    "  q = q < {2} ? {2} : q > {3} ? {3} : q;\n"
                                    "  return q & -(int32_t)(m <= 0x7f800000u);\n"
                                    "#endif\n"
                                    "}}\n",
                                    name, rint, u8 ? "0" : "-128", u8 ? "255" : "127"));
}

// round_half_even(x / scale) + zero_point, saturated: division in f32 (f64
// for i32 input), as the kernel.
Expected<std::string> quantize_emit_scalar(CScalarContext& c) {
  WEEC_TRY(check_scalar_params(c));
  const DType out = c.output_dtype();
  if (!is_q8(out)) return c.error("zero point must be u8 or i8");
  if (c.input_dtype(0) == DType::F32) {
    std::string zp = c.in.size() > 2 && !c.in[2].empty() ? fmt::format("(int32_t){}", c.in[2]) : "0";
    return fmt::format("(({}){}((float){} / {}, {}))", c_type(out), quantize_f32_helper(c, out), c.in[0],
                       c.in[1], zp);
  }
  std::string q = c.input_dtype(0) == DType::I32 ? fmt::format("((double){} / (double){})", c.in[0], c.in[1])
                                                 : fmt::format("(double)((float){} / {})", c.in[0], c.in[1]);
  std::string zp = c.in.size() > 2 && !c.in[2].empty() ? fmt::format("(int32_t){}", c.in[2]) : "0";
  return fmt::format("(({}){}({}, {}))", c_type(out), nn::requantize_helper(c, out), q, zp);
}

Expected<std::string> dequantize_emit_scalar(CScalarContext& c) {
  WEEC_TRY(check_scalar_params(c));
  std::string d = c.in.size() > 2 && !c.in[2].empty()
                      ? fmt::format("((int64_t){} - (int64_t){})", c.in[0], c.in[2])
                      : fmt::format("(int64_t){}", c.in[0]);
  return fmt::format("((float){} * {})", d, c.in[1]);
}

Status quantize_infer(InferContext& ctx) {
  DType in = ctx.input_type(0).dtype;
  if (in != DType::F32 && in != DType::I32 && !is_half(in))
    return ctx.error("x must be f32 or i32, got {}", dtype_name(in));
  DType out = ctx.has_input(2) ? ctx.input_type(2).dtype : DType::U8;
  if (!is_q8(out)) return ctx.error("zero point must be u8 or i8, got {}", dtype_name(out));
  ctx.outputs[0] = TensorType{out, ctx.input_type(0).shape};
  return Status::ok();
}

Status quantize_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  DType out_t = zp ? zp->dtype() : DType::U8;
  if (!is_q8(out_t)) return ctx.error("zero point must be u8 or i8, got {}", dtype_name(out_t));
  WEEC_ASSIGN_OR_RETURN(QuantIndex qi, quant_index(ctx, x, scale, zp));
  Tensor y(out_t, x.dims());
  const bool wide = x.dtype() == DType::I32;
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t k = qi(i);
    double s = scale.get_double(k);
    double q = wide ? x.get_double(i) / s : (double)((float)x.get_double(i) / (float)s);
    y.set_double(i, (double)saturate_q(q, zp ? zp->get_int(k) : 0, out_t));
  }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

Status dequantize_infer(InferContext& ctx) {
  DType in = ctx.input_type(0).dtype;
  if (!is_q8(in) && in != DType::I32) return ctx.error("x must be u8, i8 or i32, got {}", dtype_name(in));
  ctx.outputs[0] = TensorType{DType::F32, ctx.input_type(0).shape};
  return Status::ok();
}

Status dequantize_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (zp && zp->dtype() != x.dtype()) return ctx.error("zero point dtype differs from x's");
  WEEC_ASSIGN_OR_RETURN(QuantIndex qi, quant_index(ctx, x, scale, zp));
  Tensor y(DType::F32, x.dims());
  float* o = y.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t k = qi(i);
    int64_t d = x.get_int(i) - (zp ? zp->get_int(k) : 0);
    o[i] = (float)d * (float)scale.get_double(k);
  }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

// scale = (max(0, max x) - min(0, min x)) / 255, zp = saturate(round(-min / scale)),
// computed in f32 like ONNX's reference.
Status dynq_infer(InferContext& ctx) {
  if (ctx.input_type(0).dtype != DType::F32) return ctx.error("x must be f32");
  ctx.outputs[0] = TensorType{DType::U8, ctx.input_type(0).shape};
  if (ctx.outputs.size() > 1) ctx.outputs[1] = static_type(DType::F32, {});
  if (ctx.outputs.size() > 2) ctx.outputs[2] = static_type(DType::U8, {});
  return Status::ok();
}

Status dynq_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::F32) return ctx.error("x must be f32");
  const float* p = x.data<float>();
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
  }
  float scale = (hi - lo) / 255.0f;
  // All-zero input: scale 0 would divide by zero; every value quantises to 0.
  int64_t zp = scale == 0 ? 0 : saturate_q((double)(0.0f - lo / scale), 0, DType::U8);
  Tensor y(DType::U8, x.dims());
  for (int64_t i = 0; i < x.numel(); ++i)
    y.data<uint8_t>()[i] = (uint8_t)(scale == 0 ? 0 : saturate_q((double)(p[i] / scale), zp, DType::U8));
  ctx.outputs[0] = std::move(y);
  if (ctx.outputs.size() > 1) ctx.outputs[1] = Tensor::scalar<float>(scale);
  if (ctx.outputs.size() > 2) ctx.outputs[2] = Tensor::scalar<uint8_t>((uint8_t)zp);
  return Status::ok();
}

// Range pass, then the quantisation pass, in f32 like the kernel.
Status dynq_emit_c(CEmitContext& c) {
  const int64_t n = c.in_count(0);
  const std::string x = c.in(0), rq = nn::requantize_helper(c, DType::U8);
  std::string i = c.var("i"), lo = c.var("lo"), hi = c.var("hi"), scale = c.var("scale"), zp = c.var("zp");
  c.w.line("float {} = 0, {} = 0;", lo, hi);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, n);
  c.w.line("if ({1}[{2}] < {0}) {0} = {1}[{2}];", lo, x, i);
  c.w.line("if ({1}[{2}] > {0}) {0} = {1}[{2}];", hi, x, i);
  c.w.close();
  c.w.line("const float {} = ({} - {}) / 255.0f;", scale, hi, lo);
  // All-zero input: scale 0 would divide by zero; every value quantises to 0.
  c.w.line("const int32_t {} = {} == 0 ? 0 : {}((double)(0.0f - {} / {}), 0);", zp, scale, rq, lo, scale);
  c.w.line(
      "for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = (uint8_t)({3} == 0 ? 0 : {4}((double)({5}[{0}] / "
      "{3}), {6}));",
      i, n, c.out(0), scale, rq, x, zp);
  if (c.node.outputs.size() > 1 && c.node.outputs[1]) c.w.line("{}[0] = {};", c.out(1), scale);
  if (c.node.outputs.size() > 2 && c.node.outputs[2]) c.w.line("{}[0] = (uint8_t){};", c.out(2), zp);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_QuantizeLinear() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::QuantizeLinear, "QuantizeLinear"};
    m.since_opset = 10;
    m.min_inputs = 2;
    m.max_inputs = 3;
    m.attrs = {attr_int("axis", 1)};
    m.fusion = FusionKind::Broadcast;
    m.infer = quantize_infer;
    m.kernel = quantize_kernel;
    m.import = [](ImportContext& c) { return quant_import(c, OpKind::QuantizeLinear); };
    m.emit_scalar = quantize_emit_scalar;
    m.doc = "saturate(round_half_even(x / scale) + zero_point), per tensor or per axis";
    return m;
  }();
  return s;
}

const OpSchema& schema_DequantizeLinear() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::DequantizeLinear, "DequantizeLinear"};
    m.since_opset = 10;
    m.min_inputs = 2;
    m.max_inputs = 3;
    m.attrs = {attr_int("axis", 1)};
    m.fusion = FusionKind::Broadcast;
    m.infer = dequantize_infer;
    m.kernel = dequantize_kernel;
    m.import = [](ImportContext& c) { return quant_import(c, OpKind::DequantizeLinear); };
    m.emit_scalar = dequantize_emit_scalar;
    m.doc = "(x - zero_point) * scale as f32, per tensor or per axis";
    return m;
  }();
  return s;
}

const OpSchema& schema_DynamicQuantizeLinear() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::DynamicQuantizeLinear, "DynamicQuantizeLinear"};
    m.since_opset = 11;
    m.min_outputs = m.max_outputs = 3;
    m.infer = dynq_infer;
    m.kernel = dynq_kernel;
    m.emit_c = dynq_emit_c;
    m.doc = "u8 quantisation with scale and zero point from the data's range";
    return m;
  }();
  return s;
}

}  // namespace weec
