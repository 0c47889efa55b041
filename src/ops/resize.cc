// Resize (opsets 10-17): nearest, linear and cubic interpolation, each output
// coordinate mapped back to the input by coordinate_transformation_mode. N-D
// linear and cubic are separable: one 1-D pass per resized axis, last axis
// first, which is also the order the ONNX reference evaluates them in (it
// matters for tf_crop_and_resize's extrapolation). Canonical form has the
// inputs X, roi, scales, sizes (any of the last three may be absent or empty).
// Opset 10 (X, scales; no coordinate attributes) is rewritten on import to
// asymmetric coordinates and the weec-internal nearest_mode "simple" (ceil when
// downsampling, truncate otherwise), which is ONNX Runtime's opset-10 rule.
#include <algorithm>
#include <cmath>

#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

enum class Mode { Nearest, Linear, Cubic };
enum class Coord { HalfPixel, PytorchHalfPixel, AlignCorners, Asymmetric, TfHalfPixelForNn, TfCropAndResize };
enum class Round { PreferFloor, PreferCeil, Floor, Ceil, Simple };

struct Params {
  Mode mode;
  Coord coord;
  Round round;
  double cubic_a;
  bool exclude_outside;
  double extrapolation;
};

// Looks an attribute's string value up in `table`.
template <typename E>
Expected<E> parse_enum(const NodeContext& ctx, const std::string& attr,
                       std::initializer_list<std::pair<std::string_view, E>> table) {
  const std::string& v = ctx.attrs.s(attr);
  for (auto& [name, e] : table)
    if (name == v) return e;
  return ctx.error("{} '{}' is not supported", attr, v);
}

Expected<Params> params_of(const NodeContext& ctx) {
  Params p{};
  WEEC_ASSIGN_OR_RETURN(
      p.mode,
      parse_enum<Mode>(ctx, "mode",
                       {{"nearest", Mode::Nearest}, {"linear", Mode::Linear}, {"cubic", Mode::Cubic}}));
  WEEC_ASSIGN_OR_RETURN(p.coord, parse_enum<Coord>(ctx, "coordinate_transformation_mode",
                                                   {{"half_pixel", Coord::HalfPixel},
                                                    {"pytorch_half_pixel", Coord::PytorchHalfPixel},
                                                    {"align_corners", Coord::AlignCorners},
                                                    {"asymmetric", Coord::Asymmetric},
                                                    {"tf_half_pixel_for_nn", Coord::TfHalfPixelForNn},
                                                    {"tf_crop_and_resize", Coord::TfCropAndResize}}));
  WEEC_ASSIGN_OR_RETURN(p.round, parse_enum<Round>(ctx, "nearest_mode",
                                                   {{"round_prefer_floor", Round::PreferFloor},
                                                    {"round_prefer_ceil", Round::PreferCeil},
                                                    {"floor", Round::Floor},
                                                    {"ceil", Round::Ceil},
                                                    {"simple", Round::Simple}}));
  p.cubic_a = ctx.attrs.f("cubic_coeff_a");
  p.exclude_outside = ctx.attrs.i("exclude_outside") != 0;
  p.extrapolation = ctx.attrs.f("extrapolation_value");
  return p;
}

// Per-axis sizing: output length, the scale used by the coordinate transform,
// the (fractional) resized length and the roi.
struct Axis {
  int64_t in = 0, out = 0;
  double scale = 1, length = 0, roi_start = 0, roi_end = 1;
};

// Output sizes and scales from roi/scales/sizes (whichever is given). `in`
// dims may contain -1 (unknown) during inference: those outputs come back -1.
Expected<std::vector<Axis>> plan_axes(const NodeContext& ctx, const Params& p, const Dims& in,
                                      const Tensor* roi, const Tensor* scales, const Tensor* sizes) {
  const int64_t rank = (int64_t)in.size();
  std::vector<Axis> axes(rank);
  if (roi && roi->numel() > 0 && p.coord == Coord::TfCropAndResize) {
    if (roi->numel() != 2 * rank) return ctx.error("roi has {} values for rank {}", roi->numel(), rank);
    for (int64_t d = 0; d < rank; ++d) {
      axes[d].roi_start = roi->get_double(d);
      axes[d].roi_end = roi->get_double(d + rank);
    }
  }
  bool has_scales = scales && scales->numel() > 0, has_sizes = sizes && sizes->numel() > 0;
  if (has_scales == has_sizes) return ctx.error("exactly one of scales and sizes must be given");
  const Tensor& t = has_scales ? *scales : *sizes;
  if (t.numel() != rank)
    return ctx.error("{} has {} values for rank {}", has_scales ? "scales" : "sizes", t.numel(), rank);
  for (int64_t d = 0; d < rank; ++d) {
    Axis& a = axes[d];
    a.in = in[d];
    if (has_sizes) {
      a.out = t.get_int(d);
      if (a.out < 0) return ctx.error("sizes[{}] = {} is negative", d, a.out);
      a.length = (double)a.out;
      if (a.in > 0) a.scale = (double)a.out / (double)a.in;
    } else {
      a.scale = t.get_double(d);
      if (!(a.scale > 0)) return ctx.error("scales[{}] = {} must be positive", d, a.scale);
      double roi_len = p.coord == Coord::TfCropAndResize ? a.roi_end - a.roi_start : 1.0;
      a.length = a.in < 0 ? -1 : a.scale * (double)a.in * roi_len;
      a.out = a.in < 0 ? -1 : (int64_t)std::floor(a.length);
      if (a.out < 0 && a.in >= 0) a.out = 0;
    }
  }
  return axes;
}

double source_coord(const Params& p, const Axis& a, int64_t x_int) {
  double x = (double)x_int, in = (double)a.in;
  switch (p.coord) {
    case Coord::HalfPixel:
      return (x + 0.5) / a.scale - 0.5;
    case Coord::PytorchHalfPixel:
      return a.length > 1 ? (x + 0.5) / a.scale - 0.5 : 0.0;
    case Coord::AlignCorners:
      return a.length == 1 ? 0.0 : x * (in - 1) / (a.length - 1);
    case Coord::Asymmetric:
      return x / a.scale;
    case Coord::TfHalfPixelForNn:
      return (x + 0.5) / a.scale;
    case Coord::TfCropAndResize:
      return a.length > 1 ? a.roi_start * (in - 1) + x * (a.roi_end - a.roi_start) * (in - 1) / (a.length - 1)
                          : 0.5 * (a.roi_start + a.roi_end) * (in - 1);
  }
  return x;
}

int64_t nearest_index(Round r, double x, double scale) {
  double f = std::floor(x), frac = x - f;
  switch (r) {
    case Round::PreferFloor:
      return (int64_t)(frac <= 0.5 ? f : f + 1);
    case Round::PreferCeil:
      return (int64_t)(frac < 0.5 ? f : f + 1);
    case Round::Floor:
      return (int64_t)f;
    case Round::Ceil:
      return (int64_t)std::ceil(x);
    case Round::Simple:
      return scale < 1 ? (int64_t)std::ceil(x) : (int64_t)x;
  }
  return (int64_t)f;
}

// One output coordinate's taps on the input axis; empty = extrapolation value.
using Taps = std::vector<std::pair<int64_t, double>>;

Taps taps_for(const Params& p, const Axis& a, int64_t x) {
  double src = source_coord(p, a, x);
  const int64_t n = a.in;
  if (p.coord == Coord::TfCropAndResize && (src < 0 || src > (double)(n - 1))) return {};
  auto clamp = [n](int64_t i) { return std::clamp<int64_t>(i, 0, n - 1); };
  if (p.mode == Mode::Nearest) return {{clamp(nearest_index(p.round, src, a.scale)), 1.0}};
  double f = std::floor(src), t = src - f;
  int64_t base = (int64_t)f;
  Taps taps;
  if (p.mode == Mode::Linear) {
    taps = {{base, 1 - t}, {base + 1, t}};
  } else {
    const double A = p.cubic_a;
    auto far = [A](double d) { return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A; };  // 1 < d < 2
    auto near = [A](double d) { return ((A + 2) * d - (A + 3)) * d * d + 1; };       // d <= 1
    taps = {{base - 1, far(t + 1)}, {base, near(t)}, {base + 1, near(1 - t)}, {base + 2, far(2 - t)}};
    if (p.exclude_outside) {
      double sum = 0;
      for (auto& [i, w] : taps) {
        if (i < 0 || i >= n) w = 0;
        sum += w;
      }
      if (sum != 0)
        for (auto& tw : taps) tw.second /= sum;
    }
  }
  Taps out;
  for (auto& [i, w] : taps)
    if (w != 0) out.push_back({clamp(i), w});  // edge padding outside the axis
  return out;
}

// Values at integer coordinates map exactly onto the input: the pass can be skipped.
bool is_identity(const Params& p, const Axis& a) {
  if (a.in != a.out || p.coord == Coord::TfCropAndResize) return false;
  for (int64_t x = 0; x < a.out; ++x)
    if (source_coord(p, a, x) != (double)x) return false;
  return true;
}

// One 1-D interpolation pass along `axis` over a double buffer.
std::vector<double> resize_pass(const Params& p, const std::vector<double>& in, Dims& dims, int64_t axis,
                                const Axis& a) {
  int64_t outer = numel_of(Dims(dims.begin(), dims.begin() + axis));
  int64_t inner = numel_of(Dims(dims.begin() + axis + 1, dims.end()));
  std::vector<double> out(outer * a.out * inner);
  std::vector<Taps> taps(a.out);
  for (int64_t x = 0; x < a.out; ++x) taps[x] = taps_for(p, a, x);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t x = 0; x < a.out; ++x) {
      double* dst = &out[(o * a.out + x) * inner];
      if (taps[x].empty()) {
        std::fill(dst, dst + inner, p.extrapolation);
        continue;
      }
      for (int64_t i = 0; i < inner; ++i) {
        double v = 0;
        for (auto& [k, w] : taps[x]) v += w * in[(o * a.in + k) * inner + i];
        dst[i] = v;
      }
    }
  dims[axis] = a.out;
  return out;
}

// Stores a computed value; integer types round to nearest and saturate.
void store(Tensor& t, int64_t i, double v) {
  DType dt = t.dtype();
  if (is_integer(dt)) {
    double lo = 0, hi = 0;
    switch (dt) {
      case DType::I8:
        lo = -128, hi = 127;
        break;
      case DType::U8:
        lo = 0, hi = 255;
        break;
      case DType::I16:
        lo = -32768, hi = 32767;
        break;
      case DType::U16:
        lo = 0, hi = 65535;
        break;
      case DType::I32:
        lo = -2147483648.0, hi = 2147483647.0;
        break;
      case DType::U32:
        lo = 0, hi = 4294967295.0;
        break;
      case DType::I64:
        lo = -9223372036854775808.0, hi = 9223372036854774784.0;
        break;
      default:
        lo = 0, hi = 18446744073709549568.0;
        break;
    }
    v = std::isnan(v) ? 0 : std::clamp(std::round(v), lo, hi);
  }
  t.set_double(i, v);
}

Status kernel_resize(KernelContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(Params p, params_of(ctx));
  const Tensor& x = ctx.input(0);
  if (x.dtype() == DType::String || x.dtype() == DType::Bool)
    return ctx.error("dtype {} is not supported", dtype_name(x.dtype()));
  auto in = [&](size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; };
  WEEC_ASSIGN_OR_RETURN(auto axes, plan_axes(ctx, p, x.dims(), in(1), in(2), in(3)));
  const int64_t rank = x.rank();
  Dims out_dims(rank);
  for (int64_t d = 0; d < rank; ++d) {
    out_dims[d] = axes[d].out;
    if (axes[d].in == 0 && axes[d].out > 0) return ctx.error("cannot resize the empty axis {}", d);
  }
  Tensor out(x.dtype(), out_dims);
  if (out.numel() == 0) {
    ctx.outputs[0] = std::move(out);
    return Status::ok();
  }
  if (p.mode == Mode::Nearest) {
    // A gather: exact for every dtype, no arithmetic.
    std::vector<std::vector<Taps>> maps(rank);
    for (int64_t d = 0; d < rank; ++d)
      for (int64_t o = 0; o < out_dims[d]; ++o) maps[d].push_back(taps_for(p, axes[d], o));
    Tensor fill(x.dtype(), {1});
    fill.set_double(0, p.extrapolation);
    ElemCopy copy(x, out), put_fill(fill, out);
    Dims strides = strides_of(x.dims());
    std::vector<int64_t> idx(rank, 0);
    for (int64_t o = 0; o < out.numel(); ++o) {
      int64_t src = 0;
      bool inside = true;
      for (int64_t d = 0; d < rank && inside; ++d) {
        const Taps& t = maps[d][idx[d]];
        inside = !t.empty();
        if (inside) src += t[0].first * strides[d];
      }
      if (inside)
        copy(o, src);
      else
        put_fill(o, 0);
      next_index(idx, out_dims);
    }
    ctx.outputs[0] = std::move(out);
    return Status::ok();
  }
  std::vector<double> buf(x.numel());
  for (int64_t i = 0; i < x.numel(); ++i) buf[i] = x.get_double(i);
  Dims dims = x.dims();
  for (int64_t d = rank - 1; d >= 0; --d) {
    if (is_identity(p, axes[d])) continue;
    buf = resize_pass(p, buf, dims, d, axes[d]);
  }
  for (int64_t i = 0; i < out.numel(); ++i) store(out, i, buf[i]);
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- C emission ----
// roi/scales/sizes are constants, so every tap (input index and weight) is
// known at compile time: nearest is a gather through per-axis index tables;
// linear and cubic are the kernel's separable passes over double buffers,
// with the taps of each output coordinate in static tables (CSR layout: taps
// [start[x], start[x + 1]); none = extrapolation), then one conversion pass.

// Converts a double to dtype t as the kernel's store() does.
std::string resize_convert(CEmitContext& c, DType t, const std::string& v) {
  if (!is_integer(t)) return fmt::format("({})({})", c_type(t), v);
  std::string name = "weec_resize_to_" + c_type(t);
  std::string lo = t == DType::I64 ? "-9223372036854775808.0" : c_literal(0, DType::F64);
  std::string hi;
  switch (t) {
    case DType::I8:
      lo = "-128.0", hi = "127.0";
      break;
    case DType::U8:
      hi = "255.0";
      break;
    case DType::I16:
      lo = "-32768.0", hi = "32767.0";
      break;
    case DType::U16:
      hi = "65535.0";
      break;
    case DType::I32:
      lo = "-2147483648.0", hi = "2147483647.0";
      break;
    case DType::U32:
      hi = "4294967295.0";
      break;
    case DType::I64:
      hi = "9223372036854774784.0";
      break;
    default:
      hi = "18446744073709549568.0";
      break;
  }
  std::string round = c.math("round", DType::F64);
  c.helper(name, fmt::format("static {0} {1}(double v) {{\n  if (v != v) return 0;\n  v = {2}(v);\n"
                             "  if (v < {3}) v = {3};\n  if (v > {4}) v = {4};\n  return ({0})v;\n}}\n",
                             c_type(t), name, round, lo, hi));
  return fmt::format("{}({})", name, v);
}

Status emit_resize_nearest(CEmitContext& c, const Params& p, const std::vector<Axis>& axes) {
  const Dims in = c.in_dims(0), out = c.out_dims(0);
  const int64_t rank = (int64_t)in.size();
  std::vector<std::string> tables(rank);
  bool extrapolates = false;
  for (int64_t d = 0; d < rank; ++d) {
    std::vector<int64_t> map;
    bool identity = in[d] == out[d];
    for (int64_t o = 0; o < out[d]; ++o) {
      Taps t = taps_for(p, axes[d], o);
      map.push_back(t.empty() ? -1 : t[0].first);
      identity &= map.back() == o;
      extrapolates |= t.empty();
    }
    if (!identity) tables[d] = emit_index_table(c, "rz_map", map);
  }
  std::vector<std::string> v = c.open_loops(out);
  Dims strides = strides_of(in);
  std::string src, cond;
  for (int64_t d = 0; d < rank; ++d) {
    if (strides[d] == 0 || in[d] == 1) continue;
    std::string coord = tables[d].empty() ? v[d] : fmt::format("{}[{}]", tables[d], v[d]);
    src += (src.empty() ? "" : " + ") + (strides[d] == 1 ? coord : fmt::format("{} * {}", coord, strides[d]));
  }
  for (int64_t d = 0; d < rank && extrapolates; ++d)
    if (!tables[d].empty()) cond += fmt::format("{}{}[{}] >= 0", cond.empty() ? "" : " && ", tables[d], v[d]);
  std::string value = c.load(0, src.empty() ? "0" : src);
  if (extrapolates) {
    Tensor fill(c.input_dtype(0), {1});
    fill.set_double(0, p.extrapolation);
    value = fmt::format("({}) ? {} : {}", cond, value, element_literal(fill, 0));
  }
  c.store(0, v, value);
  c.close_loops(v.size());
  return Status::ok();
}

// One interpolation pass along `axis`: dst (double) from src (double, or the
// input itself when src_is_input).
void emit_resize_pass(CEmitContext& c, const Params& p, const Axis& a, const Dims& dims, int64_t axis,
                      const std::string& src, bool src_is_input, const std::string& dst) {
  int64_t outer = numel_of(Dims(dims.begin(), dims.begin() + axis));
  int64_t inner = numel_of(Dims(dims.begin() + axis + 1, dims.end()));
  std::vector<int64_t> start{0}, index;
  std::vector<double> weight;
  for (int64_t x = 0; x < a.out; ++x) {
    for (auto& [k, w] : taps_for(p, a, x)) {
      index.push_back(k);
      weight.push_back(w);
    }
    start.push_back((int64_t)index.size());
  }
  std::string st = emit_index_table(c, "rz_start", start);
  std::string ix, wt;
  if (!index.empty()) {
    ix = emit_index_table(c, "rz_tap", index);
    wt = c.var("rz_w");
    std::string body;
    for (size_t i = 0; i < weight.size(); ++i) body += (i ? ", " : "") + c_literal(weight[i], DType::F64);
    c.w.line("static const double {}[{}] = {{{}}};", wt, weight.size(), body);
  }
  bool some_empty = false;
  for (int64_t x = 0; x < a.out; ++x) some_empty |= start[x] == start[x + 1];
  std::vector<std::string> ox = c.open_loops({outer, a.out});
  std::string row = c.var("row");
  c.w.line("double* {} = {} + ({} * {} + {}) * {};", row, dst, ox[0], a.out, ox[1], inner);
  // The kernel's v = 0; v += w * x for each tap; no taps: the extrapolation value.
  std::string init = c_literal(0.0, DType::F64);
  if (some_empty)
    init = fmt::format("{0}[{1}] == {0}[{1} + 1] ? {2} : {3}", st, ox[1],
                       c_literal(p.extrapolation, DType::F64), init);
  std::vector<std::string> i = c.open_loops({inner});
  c.w.line("{}[{}] = {};", row, i[0], init);
  c.close_loops(1);
  if (!index.empty()) {
    std::string t = c.var("t");
    c.w.open("for (int32_t {0} = {1}[{2}]; {0} < {1}[{2} + 1]; ++{0}) {{", t, st, ox[1]);
    std::string from = fmt::format("({} * {} + {}[{}]) * {}", ox[0], a.in, ix, t, inner);
    i = c.open_loops({inner});
    std::string elem = fmt::format("{}[{} + {}]", src, from, i[0]);
    c.w.line("{}[{}] += {}[{}] * {};", row, i[0], wt, t, src_is_input ? "(double)" + elem : elem);
    c.close_loops(2);
  }
  c.close_loops(2);
}

Status emit_resize(CEmitContext& c) {
  WEEC_ASSIGN_OR_RETURN(Params p, params_of(c));
  DType t = c.input_dtype(0);
  if (t == DType::Bool) return c.error("dtype bool is not supported");
  const Tensor *roi = c.input_constant(1), *scales = c.input_constant(2), *sizes = c.input_constant(3);
  if ((c.has_input(1) && !roi && p.coord == Coord::TfCropAndResize) || (c.has_input(2) && !scales) ||
      (c.has_input(3) && !sizes))
    return c.error("roi, scales and sizes must be constants for the C backend");
  const Dims in = c.in_dims(0), out = c.out_dims(0);
  WEEC_ASSIGN_OR_RETURN(auto axes, plan_axes(c, p, in, roi, scales, sizes));
  for (size_t d = 0; d < in.size(); ++d) {
    if (axes[d].out != out[d]) return c.error("resized dims do not match the output type");
    if (axes[d].in == 0 && axes[d].out > 0) return c.error("cannot resize the empty axis {}", d);
  }
  if (c.out_count(0) == 0) return Status::ok();
  if (p.mode == Mode::Nearest) return emit_resize_nearest(c, p, axes);
  Dims dims = in;
  std::string cur;  // "" = still the input
  for (int64_t d = (int64_t)in.size() - 1; d >= 0; --d) {
    if (is_identity(p, axes[d])) continue;
    Dims next = dims;
    next[d] = axes[d].out;
    std::string buf = c.scratch(DType::F64, std::max<int64_t>(numel_of(next), 1), "rz_buf");
    emit_resize_pass(c, p, axes[d], dims, d, cur.empty() ? c.in(0) : cur, cur.empty(), buf);
    cur = buf;
    dims = next;
  }
  std::vector<std::string> i = c.open_loops({c.out_count(0)});
  std::string v =
      cur.empty() ? fmt::format("(double){}[{}]", c.in(0), i[0]) : fmt::format("{}[{}]", cur, i[0]);
  c.store(0, {}, resize_convert(c, t, v), i[0]);
  c.close_loops(1);
  return Status::ok();
}

Status infer_resize(InferContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(Params p, params_of(ctx));
  const TensorType& x = ctx.input_type(0);
  ctx.outputs[0] = TensorType{x.dtype, x.shape.rank_known ? Shape::of_rank(x.shape.rank()) : x.shape};
  if (!x.shape.rank_known) return Status::ok();
  const Tensor *roi = ctx.input_constant(1), *scales = ctx.input_constant(2), *sizes = ctx.input_constant(3);
  bool roi_ok = !ctx.has_input(1) || roi || p.coord != Coord::TfCropAndResize;
  bool scales_ok = !ctx.has_input(2) || scales, sizes_ok = !ctx.has_input(3) || sizes;
  if (!roi_ok || !scales_ok || !sizes_ok) return Status::ok();
  Dims in(x.shape.rank());
  for (int64_t d = 0; d < x.shape.rank(); ++d)
    in[d] = x.shape.dims[d].is_known() ? x.shape.dims[d].value : -1;
  WEEC_ASSIGN_OR_RETURN(auto axes, plan_axes(ctx, p, in, roi, scales, sizes));
  for (int64_t d = 0; d < x.shape.rank(); ++d)
    if (axes[d].out >= 0) ctx.outputs[0].shape.dims[d] = Dim::known(axes[d].out);
  return Status::ok();
}

// Opset 10: Resize(X, scales) with only `mode`; see the file comment.
Status import_resize(ImportContext& ctx) {
  if (ctx.opset >= 11) {
    ctx.emit(OpKind::Resize, ctx.inputs, ctx.outputs, ctx.attrs);
    return Status::ok();
  }
  if (ctx.inputs.size() != 2) return ctx.error("Resize-10 takes X and scales");
  AttrMap attrs = ctx.attrs;
  attrs["coordinate_transformation_mode"] = Attribute::of_string("asymmetric");
  attrs["nearest_mode"] = Attribute::of_string("simple");
  ctx.emit(OpKind::Resize, {ctx.inputs[0], nullptr, ctx.inputs[1]}, ctx.outputs, attrs);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Resize() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Resize, "Resize"};
    m.since_opset = 10;
    m.min_inputs = 1;
    m.max_inputs = 4;
    m.attrs = {
        attr_string("mode", "nearest"),         attr_string("coordinate_transformation_mode", "half_pixel"),
        attr_float("cubic_coeff_a", -0.75f),    attr_int("exclude_outside", 0),
        attr_float("extrapolation_value", 0.f), attr_string("nearest_mode", "round_prefer_floor")};
    m.fusion = FusionKind::Injective;
    m.infer = infer_resize;
    m.kernel = kernel_resize;
    m.emit_c = emit_resize;
    m.import = import_resize;
    m.doc = "nearest/linear/cubic resampling to scales or sizes";
    return m;
  }();
  return s;
}

}  // namespace weec
