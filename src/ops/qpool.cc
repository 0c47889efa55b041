// Integer average pools of the int8 pipeline (weec-internal). X [N, C, ...]
// int8/uint8 with zero point x_zero_point; per plane and output position
//   acc = sum over the window's taps inside X of (x - x_zero_point)
//   y   = clamp(y_zero_point + mbqm(acc, multiplier, shift), act_min, act_max)
// (qop_util.h; one multiplier). The division by the window size is not done
// here: the lowering folds s_in / (s_out * count) into multiplier/shift,
// which is only right if every window has the same count. So QAveragePool
// (kernel_shape, strides, pads; no dilations, auto_pad or ceil_mode) refuses
// pads unless count_include_pad=1: then padded taps count and add 0 (they
// are x_zero_point in the real domain), and every window counts
// prod(kernel_shape). QGlobalAveragePool's count is the plane size.
#include "ops/qop_util.h"

namespace weec {

namespace {

Expected<int32_t> input_zero_point(const NodeContext& ctx, DType xt) {
  if (!qop::is_q8(xt)) return ctx.error("X must be int8 or uint8, got {}", dtype_name(xt));
  return qop::read_zero_point(ctx, "x_zero_point", xt);
}

// The sum of `count` taps of 8-bit offsets must fit int32.
Status check_count(const NodeContext& ctx, int64_t count) {
  if (count > INT32_MAX / 255)
    return ctx.error("a window of {} elements could overflow the int32 sum", count);
  return Status::ok();
}

Status pool_window(const NodeContext& ctx, const Dims& x, nn::Window& w) {
  if (x.size() < 3) return ctx.error("X must have rank >= 3, got {}", x.size());
  const size_t r = x.size() - 2;
  w.in.assign(x.begin() + 2, x.end());
  w.kernel = ctx.attrs.ints("kernel_shape");
  if (w.kernel.size() != r) return ctx.error("kernel_shape has {} dims, expected {}", w.kernel.size(), r);
  WEEC_TRY(nn::read_window_attrs(ctx, r, w, false));
  bool padded = false;
  for (size_t i = 0; i < r; ++i) padded = padded || w.pad_begin[i] || w.pad_end[i];
  if (padded && ctx.attrs.i("count_include_pad") == 0)
    return ctx.error(
        "QAveragePool needs windows of one size (the multiplier holds 1/count): pads need "
        "count_include_pad=1");
  WEEC_TRY(check_count(ctx, numel_of(w.kernel)));
  return nn::resolve_window(ctx, nn::AutoPad::NotSet, false, w);
}

Status avgpool_infer(InferContext& ctx) {
  const TensorType& xt = ctx.input_type(0);
  WEEC_TRY(input_zero_point(ctx, xt.dtype).status());
  WEEC_ASSIGN_OR_RETURN(qop::Requant rq, qop::read_requant(ctx, 0));
  Shape s = Shape::unknown_rank();
  if (xt.shape.rank_known) {
    nn::Window w;
    WEEC_TRY(pool_window(ctx, nn::known_dims(xt.shape), w));
    s = xt.shape;
    for (size_t i = 0; i < w.rank(); ++i) s.dims[2 + i] = nn::dim_or_unknown(w.out[i]);
  }
  ctx.outputs[0] = TensorType{rq.out, s};
  return Status::ok();
}

Status avgpool_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(int32_t xz, input_zero_point(ctx, x.dtype()));
  WEEC_ASSIGN_OR_RETURN(qop::Requant rq, qop::read_requant(ctx, 0));
  nn::Window w;
  WEEC_TRY(pool_window(ctx, x.dims(), w));
  const size_t r = w.rank();
  Dims out = {x.dim(0), x.dim(1)};
  out.insert(out.end(), w.out.begin(), w.out.end());
  Tensor y(rq.out, out);
  const int64_t planes = x.dim(0) * x.dim(1), in_n = numel_of(w.in), out_n = numel_of(w.out),
                k_n = numel_of(w.kernel);
  const Dims ist = strides_of(w.in), ost = strides_of(w.out), kst = strides_of(w.kernel);
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t o = 0; o < out_n; ++o) {
      int64_t acc = 0;
      for (int64_t k = 0; k < k_n; ++k) {
        int64_t at = 0;
        bool inside = true;
        for (size_t d = 0; d < r; ++d) {
          const int64_t pos =
              (o / ost[d] % w.out[d]) * w.strides[d] - w.pad_begin[d] + k / kst[d] % w.kernel[d];
          inside = inside && pos >= 0 && pos < w.in[d];
          at += pos * ist[d];
        }
        if (inside) acc += x.get_int(pl * in_n + at) - xz;
      }
      y.set_double(pl * out_n + o, rq.apply(acc, 0));
    }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

// Per plane and output position: the taps inside X (per-dim ranges,
// literal where no position reaches the padding), sum x, then subtract
// x_zp once per tap summed.
Status avgpool_emit_c(CEmitContext& c) {
  const Dims xd = c.in_dims(0);
  WEEC_ASSIGN_OR_RETURN(int32_t xz, input_zero_point(c, c.input_dtype(0)));
  WEEC_ASSIGN_OR_RETURN(qop::Requant rq, qop::read_requant(c, 0));
  nn::Window w;
  WEEC_TRY(pool_window(c, xd, w));
  const size_t r = w.rank();
  const int64_t in_n = numel_of(w.in), out_n = numel_of(w.out);
  if (xd[0] * xd[1] * out_n == 0) return Status::ok();
  const Dims ist = strides_of(w.in);
  std::string n = c.var("n"), ch = c.var("c"), xp = c.var("xp"), acc = c.var("acc");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, xd[0]);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", ch, xd[1]);
  c.w.line("const {}* {} = {} + ({} * {} + {}) * {};", c_type(c.input_dtype(0)), xp, c.in(0), n, xd[1], ch,
           in_n);
  std::vector<std::string> o, st, lo, hi, pos;
  std::string count;
  for (size_t i = 0; i < r; ++i) {
    o.push_back(c.var("o"));
    st.push_back(c.var("st"));
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", o[i], w.out[i]);
    c.w.line("const int32_t {} = {} * {} - {};", st[i], o[i], w.strides[i], w.pad_begin[i]);
    const bool inside = w.pad_begin[i] == 0 && (w.out[i] - 1) * w.strides[i] + w.kernel[i] <= w.in[i];
    if (inside) {
      lo.push_back("0");
      hi.push_back(std::to_string(w.kernel[i]));
    } else {  // taps k with 0 <= st + k < IN
      lo.push_back(c.var("lo"));
      hi.push_back(c.var("hi"));
      c.w.line("const int32_t {0} = {1} < 0 ? -{1} : 0;", lo[i], st[i]);
      c.w.line("const int32_t {0} = {1} - {2} < {3} ? {1} - {2} : {3};", hi[i], w.in[i], st[i], w.kernel[i]);
      count += fmt::format("{0}({1} > {2} ? {1} - {2} : 0)", count.empty() ? "" : " * ", hi[i], lo[i]);
    }
  }
  c.w.line("int32_t {} = 0;", acc);
  for (size_t i = 0; i < r; ++i) {
    std::string k = c.var("k");
    c.w.open("for (int32_t {0} = {1}; {0} < {2}; ++{0}) {{", k, lo[i], hi[i]);
    pos.push_back(fmt::format("({} + {})", st[i], k));
  }
  std::string at;
  for (size_t i = 0; i < r; ++i)
    at += (at.empty() ? "" : " + ") + (ist[i] == 1 ? pos[i] : fmt::format("{} * {}", pos[i], ist[i]));
  c.w.line("{} += {}[{}];", acc, xp, at);
  c.close_loops(r);
  if (xz != 0) {
    // Taps summed: the product of the ranges (the literal ones folded in).
    int64_t literal = 1;
    for (size_t i = 0; i < r; ++i)
      if (lo[i] == "0" && hi[i] == std::to_string(w.kernel[i])) literal *= w.kernel[i];
    c.w.line("{} -= {} * {}{};", acc, xz, literal, count.empty() ? "" : " * " + count);
  }
  std::vector<std::string> idx = {n, ch};
  idx.insert(idx.end(), o.begin(), o.end());
  std::string flat =
      fmt::format("({} * {} + {}) * {} + {}", n, xd[1], ch, out_n, CEmitContext::flat_index(w.out, o));
  c.store(0, idx, qop::requant_c(c, rq, acc, qop::lit32(rq.m0[0]), qop::lit32(rq.shift[0])), flat);
  c.close_loops(r + 2);
  return Status::ok();
}

// ---- QGlobalAveragePool ----

Status global_infer(InferContext& ctx) {
  const TensorType& xt = ctx.input_type(0);
  WEEC_TRY(input_zero_point(ctx, xt.dtype).status());
  WEEC_ASSIGN_OR_RETURN(qop::Requant rq, qop::read_requant(ctx, 0));
  Shape s = xt.shape;
  if (s.rank_known) {
    if (s.rank() < 3) return ctx.error("X must have rank >= 3, got {}", s.rank());
    for (int64_t i = 2; i < s.rank(); ++i) s.dims[i] = Dim::known(1);
    int64_t plane = 1;
    for (int64_t i = 2; i < s.rank(); ++i)
      plane = xt.shape.dims[i].is_known() ? plane * xt.shape.dims[i].value : 0;
    WEEC_TRY(check_count(ctx, plane));
  }
  ctx.outputs[0] = TensorType{rq.out, s};
  return Status::ok();
}

Status global_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(int32_t xz, input_zero_point(ctx, x.dtype()));
  WEEC_ASSIGN_OR_RETURN(qop::Requant rq, qop::read_requant(ctx, 0));
  if (x.rank() < 3) return ctx.error("X must have rank >= 3, got {}", x.rank());
  Dims out = x.dims();
  for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
  const int64_t planes = x.dim(0) * x.dim(1), in_n = numel_of(Dims(x.dims().begin() + 2, x.dims().end()));
  WEEC_TRY(check_count(ctx, in_n));
  Tensor y(rq.out, out);
  for (int64_t pl = 0; pl < planes; ++pl) {
    int64_t acc = 0;
    for (int64_t i = 0; i < in_n; ++i) acc += x.get_int(pl * in_n + i) - xz;
    y.set_double(pl, rq.apply(acc, 0));
  }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

Status global_emit_c(CEmitContext& c) {
  const Dims xd = c.in_dims(0);
  WEEC_ASSIGN_OR_RETURN(int32_t xz, input_zero_point(c, c.input_dtype(0)));
  WEEC_ASSIGN_OR_RETURN(qop::Requant rq, qop::read_requant(c, 0));
  if (xd.size() < 3) return c.error("X must have rank >= 3, got {}", xd.size());
  const int64_t in_n = numel_of(Dims(xd.begin() + 2, xd.end()));
  WEEC_TRY(check_count(c, in_n));
  if (xd[0] * xd[1] == 0) return Status::ok();
  std::string n = c.var("n"), ch = c.var("c"), i = c.var("i"), acc = c.var("acc"), xp = c.var("xp");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, xd[0]);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", ch, xd[1]);
  c.w.line("const {}* {} = {} + ({} * {} + {}) * {};", c_type(c.input_dtype(0)), xp, c.in(0), n, xd[1], ch,
           in_n);
  c.w.line("int32_t {} = {};", acc, c_literal_i64(-(int64_t)xz * in_n, DType::I32));
  c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2} += {3}[{0}];", i, in_n, acc, xp);
  std::vector<std::string> idx = {n, ch};
  for (size_t d = 2; d < xd.size(); ++d) idx.push_back("0");
  c.store(0, idx, qop::requant_c(c, rq, acc, qop::lit32(rq.m0[0]), qop::lit32(rq.shift[0])),
          fmt::format("{} * {} + {}", n, xd[1], ch));
  c.close_loops(2);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_QAveragePool() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::QAveragePool, ""};
    m.attrs = qop::requant_attrs();
    for (AttrSpec a :
         {attr_required("kernel_shape", Attribute::Kind::Ints),
          attr_optional("strides", Attribute::Kind::Ints), attr_optional("pads", Attribute::Kind::Ints),
          attr_int("count_include_pad", 0), attr_int("x_zero_point", 0)})
      m.attrs.push_back(a);
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = avgpool_infer;
    m.kernel = avgpool_kernel;
    m.emit_c = avgpool_emit_c;
    m.macs = [](const Node& n) -> int64_t {
      const Shape& s = n.outputs[0]->type.shape;
      const Attribute* k = n.attr("kernel_shape");
      return s.is_static() && k ? numel_of(s.static_dims()) * numel_of(k->ints) : 0;
    };
    m.doc =
        "int8 average pool, 1/count folded into the multiplier; constant-count windows only (weec-internal)";
    return m;
  }();
  return s;
}

const OpSchema& schema_QGlobalAveragePool() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::QGlobalAveragePool, ""};
    m.attrs = qop::requant_attrs();
    m.attrs.push_back(attr_int("x_zero_point", 0));
    m.fusion = FusionKind::OutElementwiseFusable;
    m.infer = global_infer;
    m.kernel = global_kernel;
    m.emit_c = global_emit_c;
    m.macs = [](const Node& n) -> int64_t {
      const Shape& s = n.inputs[0]->type.shape;
      return s.is_static() ? numel_of(s.static_dims()) : 0;
    };
    m.doc = "int8 global average pool, 1/count folded into the multiplier (weec-internal)";
    return m;
  }();
  return s;
}

}  // namespace weec
