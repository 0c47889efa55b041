// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
// ReduceLogSum, ReduceLogSumExp, ReduceSumSquare.
//
// IR form (one for every opset): inputs (data, axes?) with attributes
// keepdims (default 1) and noop_with_empty_axes (default 0). `axes` is an
// optional integer input; absent or empty means "reduce every axis", unless
// noop_with_empty_axes=1, which reduces none (the per-element part still
// applies: SumSquare squares, L1 takes |x|, LogSum takes log). Before opset
// 18 every op but ReduceSum-13 takes `axes` as an attribute; the import hook
// turns it into a constant input.
//
// Reducing an empty set gives the identity of the reduction: Sum/L1/L2/
// SumSquare 0, Prod 1, Max -inf (lowest integer), Min +inf (highest integer),
// LogSum and LogSumExp -inf, Mean NaN (0/0). Float data accumulates in f64 and
// rounds once; integer Sum/Prod/SumSquare/L1 wrap modulo 2^bits like the C
// types do; integer Mean/L2/LogSum/LogSumExp compute in f64 and truncate, as
// numpy's `.astype` in the ONNX reference does.
#include <limits>

#include "ops/c_emit.h"
#include "ops/grad.h"
#include "ops/op_util.h"

namespace weec {

namespace {

enum class Red { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

// Marks the reduced axes. Duplicates are an error (numpy rejects them too).
Expected<std::vector<bool>> reduced_mask(const NodeContext& ctx, const std::vector<int64_t>& axes,
                                         int64_t rank, bool noop_with_empty_axes) {
  std::vector<bool> mask(rank, axes.empty() && !noop_with_empty_axes);
  for (int64_t a : axes) {
    auto ax = normalize_axis(ctx, a, rank);
    if (!ax) return ax.status();
    if (mask[*ax]) return ctx.error("axis {} is listed twice", a);
    mask[*ax] = true;
  }
  return mask;
}

// Converts f64 to an integer type the way numpy's astype does for in-range
// values (truncation); NaN and out-of-range values saturate instead of being UB.
template <typename T>
T saturate_cast(double v) {
  if (std::isnan(v)) return T(0);
  if (v <= (double)std::numeric_limits<T>::lowest()) return std::numeric_limits<T>::lowest();
  if (v >= (double)std::numeric_limits<T>::max()) return std::numeric_limits<T>::max();
  return (T)v;
}

template <typename T>
bool is_nan_value(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  return false;
}

template <typename T>
class Reducer {
 public:
  Reducer(const Tensor& x, const Dims& kept, Tensor& out)
      : x_(x), px_(x.data<T>()), po_(out.data<T>()), n_out_(out.numel()) {
    strides_ = {broadcast_strides(kept, x.dims())};
  }

  // Calls f(value, output offset) for every input element.
  template <typename F>
  void each(F&& f) const {
    for_each_broadcast(x_.dims(), strides_, [&](int64_t i, const int64_t* off) { f(px_[i], off[0]); });
  }

  void max_min(bool is_max) {
    T init;
    if constexpr (std::is_floating_point_v<T>)
      init = is_max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    else
      init = is_max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
    std::fill(po_, po_ + n_out_, init);
    each([&](T v, int64_t o) {
      T& acc = po_[o];
      if (is_nan_value(acc)) return;  // NaN wins once seen
      if (is_nan_value(v) || (is_max ? v > acc : v < acc)) acc = v;
    });
  }

  // Integer Sum/Prod/SumSquare/L1 in 64-bit unsigned arithmetic: the result
  // truncated to T equals T arithmetic wrapping, without signed-overflow UB.
  void wrapping(Red op) {
    using W = uint64_t;
    std::vector<W> acc(n_out_, op == Red::Prod ? 1 : 0);
    each([&](T v, int64_t o) {
      W w = std::is_signed_v<T> ? (W)(int64_t)v : (W)v;
      switch (op) {
        case Red::Prod:
          acc[o] *= w;
          break;
        case Red::SumSquare:
          acc[o] += w * w;
          break;
        case Red::L1:
          acc[o] += (std::is_signed_v<T> && v < 0) ? W(0) - w : w;
          break;
        default:
          acc[o] += w;
          break;
      }
    });
    for (int64_t o = 0; o < n_out_; ++o) po_[o] = (T)acc[o];
  }

  // Every other case: accumulate in f64, finish, round once.
  void in_double(Red op, int64_t count) {
    std::vector<double> acc(n_out_, op == Red::Prod ? 1.0 : 0.0);
    std::vector<double> mx;
    if (op == Red::LogSumExp) {  // subtract the max so exp cannot overflow
      mx.assign(n_out_, -std::numeric_limits<double>::infinity());
      each([&](T v, int64_t o) {
        double d = (double)v;
        if (!std::isnan(mx[o]) && (std::isnan(d) || d > mx[o])) mx[o] = d;
      });
    }
    each([&](T v, int64_t o) {
      double d = (double)v;
      switch (op) {
        case Red::SumSquare:
        case Red::L2:
          acc[o] += d * d;
          break;
        case Red::L1:
          acc[o] += std::fabs(d);
          break;
        case Red::Prod:
          acc[o] *= d;
          break;
        case Red::LogSumExp:
          if (std::isfinite(mx[o])) acc[o] += std::exp(d - mx[o]);
          break;
        default:
          acc[o] += d;
          break;  // Sum, Mean, LogSum
      }
    });
    for (int64_t o = 0; o < n_out_; ++o) {
      double r = acc[o];
      switch (op) {
        case Red::Mean:
          r = r / (double)count;
          break;
        case Red::L2:
          r = std::sqrt(r);
          break;
        case Red::LogSum:
          r = std::log(r);
          break;
        case Red::LogSumExp:
          r = std::isfinite(mx[o]) ? mx[o] + std::log(r) : mx[o];
          break;
        default:
          break;
      }
      if constexpr (std::is_floating_point_v<T>)
        po_[o] = (T)r;
      else
        po_[o] = saturate_cast<T>(r);
    }
  }

 private:
  const Tensor& x_;
  const T* px_;
  T* po_;
  int64_t n_out_;
  std::vector<Dims> strides_;
};

Status reduce_kernel(KernelContext& ctx, Red op) {
  const Tensor& x0 = ctx.input(0);
  std::vector<int64_t> axes;
  if (ctx.has_input(1)) {
    if (!is_integer(ctx.input(1).dtype())) return ctx.error("axes must be integers");
    axes = ctx.input(1).to_int_vector();
  }
  WEEC_ASSIGN_OR_RETURN(std::vector<bool> mask,
                        reduced_mask(ctx, axes, x0.rank(), ctx.attrs.i("noop_with_empty_axes") != 0));
  bool keep = ctx.attrs.i("keepdims") != 0;
  Dims kept, out_dims;
  int64_t count = 1;
  for (int64_t i = 0; i < x0.rank(); ++i) {
    kept.push_back(mask[i] ? 1 : x0.dim(i));
    if (mask[i]) count *= x0.dim(i);
    if (!mask[i] || keep) out_dims.push_back(kept.back());
  }
  bool half = is_half(x0.dtype());
  Tensor x = half ? to_f32(x0) : x0;
  return visit_numeric(x.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return ctx.error("bool data is not supported");
    } else {
      Tensor out(x.dtype(), kept);
      Reducer<T> r(x, kept, out);
      if (op == Red::Max || op == Red::Min)
        r.max_min(op == Red::Max);
      else if (std::is_integral_v<T> &&
               (op == Red::Sum || op == Red::Prod || op == Red::SumSquare || op == Red::L1))
        r.wrapping(op);
      else
        r.in_double(op, count);
      out.reshape(out_dims);
      ctx.outputs[0] = half ? from_f32(out, x0.dtype()) : std::move(out);
      return Status::ok();
    }
  });
}

Status infer_reduce(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  if (in.dtype == DType::Bool || in.dtype == DType::String)
    return ctx.error("{} data is not supported", dtype_name(in.dtype));
  TensorType out{in.dtype, Shape::unknown_rank()};
  ctx.outputs[0] = out;
  if (ctx.has_input(1) && !is_integer(ctx.input_type(1).dtype)) return ctx.error("axes must be integers");
  if (!in.shape.rank_known) return Status::ok();
  const int64_t rank = in.shape.rank();
  bool keep = ctx.attrs.i("keepdims") != 0;
  std::vector<int64_t> axes;
  if (const Tensor* c = ctx.input_constant(1)) {
    axes = c->to_int_vector();
  } else if (ctx.has_input(1)) {
    const Shape& as = ctx.input_type(1).shape;
    bool len_known = as.rank_known && as.rank() == 1 && as.dims[0].is_known();
    if (!len_known || as.dims[0].value != 0) {
      // Which axes go is a run-time matter: only the rank can be known.
      if (keep) {
        out.shape = in.shape;
        for (Dim& d : out.shape.dims)
          if (!(d.is_known() && d.value == 1)) d = Dim::unknown();
      } else if (len_known) {
        int64_t k = as.dims[0].value;
        if (k > rank) return ctx.error("{} axes given for rank {}", k, rank);
        out.shape = Shape::of_rank(rank - k);
      }
      ctx.outputs[0] = out;
      return Status::ok();
    }
    // A statically empty axes tensor: same as no axes.
  }
  WEEC_ASSIGN_OR_RETURN(std::vector<bool> mask,
                        reduced_mask(ctx, axes, rank, ctx.attrs.i("noop_with_empty_axes") != 0));
  out.shape = Shape::of_rank(0);
  for (int64_t i = 0; i < rank; ++i) {
    if (!mask[i])
      out.shape.dims.push_back(in.shape.dims[i]);
    else if (keep)
      out.shape.dims.push_back(Dim::known(1));
  }
  ctx.outputs[0] = out;
  return Status::ok();
}

// The `axes` attribute (every op before opset 18, except ReduceSum from 13)
// becomes a constant input. An empty or absent list means "all axes", which
// is what an absent input means too.
Status import_reduce(ImportContext& ctx, OpKind kind) {
  AttrMap attrs = ctx.attrs;
  std::vector<Value*> ins = ctx.inputs;
  auto it = attrs.find("axes");
  if (it != attrs.end()) {
    if (it->second.kind != Attribute::Kind::Ints) return ctx.error("attribute 'axes' must be a list of ints");
    std::vector<int64_t> axes = it->second.ints;
    attrs.erase(it);
    if (ins.size() > 1 && ins[1]) return ctx.error("axes given both as attribute and as input");
    ins.resize(1);
    if (!axes.empty())
      ins.push_back(ctx.constant("axes", Tensor::from_vector<int64_t>({(int64_t)axes.size()}, axes)));
  }
  while (ins.size() > 1 && !ins.back()) ins.pop_back();
  ctx.emit(kind, ins, ctx.outputs, attrs);
  return Status::ok();
}

// ---- C emission ----
// Mirrors the kernel: floats accumulate in double, integer Sum/Prod/
// SumSquare/L1 in uint64_t (wrap-around), integer Mean/L2/LogSum/LogSumExp in
// double with a saturating conversion, Max/Min in the element type with NaN
// winning once seen. Input 0 is read only through load() so a fused
// elementwise prologue inlines there.
class ReduceEmitter {
 public:
  ReduceEmitter(CEmitContext& c, Red op, int64_t count)
      : c_(c), op_(op), t_(c.input_dtype(0)), T_(c_type(t_)), count_(count) {
    if (op == Red::Max || op == Red::Min)
      acc_dtype_ = t_;
    else if (!is_float(t_) && (op == Red::Sum || op == Red::Prod || op == Red::SumSquare || op == Red::L1))
      acc_dtype_ = DType::U64;
    else
      acc_dtype_ = DType::F64;
  }

  DType acc_dtype() const { return acc_dtype_; }
  std::string acc_type() const { return c_type(acc_dtype_); }
  bool two_pass() const { return op_ == Red::LogSumExp; }

  std::string init() {
    if (op_ == Red::Max) return is_float(t_) ? c_.infinity(t_, true) : c_lowest(t_);
    if (op_ == Red::Min) return is_float(t_) ? c_.infinity(t_) : c_highest(t_);
    if (op_ == Red::Prod) return acc_dtype_ == DType::U64 ? "1ULL" : "1.0";
    return acc_dtype_ == DType::U64 ? "0ULL" : "0.0";
  }
  std::string max_init() { return c_.infinity(DType::F64, true); }

  // Statement folding element `v` (a local of the input type) into `a`.
  std::string update(const std::string& a, const std::string& v) {
    if (op_ == Red::Max || op_ == Red::Min) {
      const char* cmp = op_ == Red::Max ? ">" : "<";
      if (!is_float(t_)) return fmt::format("if ({1} {2} {0}) {0} = {1};", a, v, cmp);
      return fmt::format("if ({0} == {0} && ({1} != {1} || {1} {2} {0})) {0} = {1};", a, v, cmp);
    }
    if (acc_dtype_ == DType::U64) {
      bool sgn = is_signed(t_);
      std::string w = sgn ? fmt::format("(uint64_t)(int64_t){}", v) : fmt::format("(uint64_t){}", v);
      switch (op_) {
        case Red::Prod:
          return fmt::format("{} *= {};", a, w);
        case Red::SumSquare:
          return fmt::format("{} += {} * {};", a, w, w);
        case Red::L1:
          if (sgn) return fmt::format("{0} += {1} < 0 ? (uint64_t)0 - {2} : {2};", a, v, w);
          return fmt::format("{} += {};", a, w);
        default:
          return fmt::format("{} += {};", a, w);
      }
    }
    std::string d = fmt::format("(double){}", v);
    switch (op_) {
      case Red::SumSquare:
      case Red::L2:
        return fmt::format("{0} += {1} * {1};", a, d);
      case Red::L1:
        return fmt::format("{} += {}({});", a, c_.math("fabs", DType::F64), d);
      case Red::Prod:
        return fmt::format("{} *= {};", a, d);
      default:
        return fmt::format("{} += {};", a, d);
    }
  }
  // LogSumExp, first pass: the running max `m` (double, NaN wins).
  std::string max_update(const std::string& m, const std::string& v) {
    return fmt::format(
        "if ({0} == {0} && ((double){1} != (double){1} || (double){1} > {0})) {0} = (double){1};", m, v);
  }
  // LogSumExp, second pass (only when the max is finite).
  std::string exp_update(const std::string& a, const std::string& m, const std::string& v) {
    return fmt::format("{} += {}((double){} - {});", a, c_.math("exp", DType::F64), v, m);
  }
  std::string finite(const std::string& m) {
    std::string inf = c_.infinity(DType::F64);
    return fmt::format("({0} > -{1} && {0} < {1})", m, inf);
  }

  // The output value from accumulator `a` (and max `m` for LogSumExp).
  std::string finish(const std::string& a, const std::string& m) {
    if (op_ == Red::Max || op_ == Red::Min) return a;
    if (acc_dtype_ == DType::U64) return fmt::format("({}){}", T_, a);
    std::string r;
    switch (op_) {
      case Red::Mean:
        r = count_ == 0 ? c_.nan(DType::F64) : fmt::format("{} / {}", a, c_literal_i64(count_, DType::F64));
        break;
      case Red::L2:
        r = fmt::format("{}({})", c_.math("sqrt", DType::F64), a);
        break;
      case Red::LogSum:
        r = fmt::format("{}({})", c_.math("log", DType::F64), a);
        break;
      case Red::LogSumExp:
        r = fmt::format("({} ? {} + {}({}) : {})", finite(m), m, c_.math("log", DType::F64), a, m);
        break;
      default:
        r = a;
        break;
    }
    if (is_float(t_)) return fmt::format("({})({})", T_, r);
    return fmt::format("{}({})", saturate_helper(), r);
  }

 private:
  // numpy-style astype for in-range values, saturating otherwise (as saturate_cast).
  std::string saturate_helper() {
    std::string name = "weec_sat_" + T_;
    return c_.helper(name, fmt::format("static {0} {1}(double v) {{\n"
                                       "  if (v != v) return 0;\n"
                                       "  if (v <= (double){2}) return {2};\n"
                                       "  if (v >= (double){3}) return {3};\n"
                                       "  return ({0})v;\n"
                                       "}}\n",
                                       T_, name, c_lowest(t_), c_highest(t_)));
  }

  CEmitContext& c_;
  Red op_;
  DType t_;
  std::string T_;
  int64_t count_;
  DType acc_dtype_;
};

// The input viewed as alternating runs of kept and reduced dims (size-1 dims
// dropped): each run is one loop.
struct ReduceRun {
  int64_t size;
  bool reduced;
};

// One accumulator per output, reduced run last: loop over outputs, then over
// the contiguous reduced block (kept in a local).
void emit_reduce_trailing(CEmitContext& c, ReduceEmitter& r, int64_t n_out, int64_t block) {
  std::string T = c_type(c.input_dtype(0));
  std::string o = c.var("o"), a = c.var("acc"), m = c.var("mx");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", o, n_out);
  if (block == 0) {  // empty reduction: the identity, no accumulator
    c.store(0, {}, r.finish(r.two_pass() ? "0.0" : r.init(), r.max_init()), o);
    c.w.close();
    return;
  }
  auto flat_of = [&](const std::string& j) {
    if (block == 1) return o;
    if (n_out == 1) return j;
    return fmt::format("{} * {} + {}", o, block, j);
  };
  auto elem_loop = [&](auto&& body) {
    std::string j = c.var("r"), v = c.var("v");
    if (block != 1) c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", j, block);
    if (block == 1) c.w.open("{{");
    c.w.line("const {} {} = {};", T, v, c.load(0, flat_of(j)));
    c.w.line("{}", body(v));
    c.w.close();
  };
  if (r.two_pass()) {
    c.w.line("double {} = {};", m, r.max_init());
    elem_loop([&](const std::string& v) { return r.max_update(m, v); });
    c.w.line("double {} = 0.0;", a);
    c.w.open("if ({}) {{", r.finite(m));
    elem_loop([&](const std::string& v) { return r.exp_update(a, m, v); });
    c.w.close();
  } else {
    c.w.line("{} {} = {};", r.acc_type(), a, r.init());
    elem_loop([&](const std::string& v) { return r.update(a, v); });
  }
  c.store(0, {}, r.finish(a, m), o);
  c.w.close();
}

// General layout: accumulators in scratch, one pass over the input in
// row-major order (contiguous reads), then one store per output.
void emit_reduce_scattered(CEmitContext& c, ReduceEmitter& r, const std::vector<ReduceRun>& runs,
                           int64_t n_out) {
  std::string T = c_type(c.input_dtype(0));
  Dims in_sizes, out_sizes;
  for (const ReduceRun& run : runs) {
    in_sizes.push_back(run.size);
    if (!run.reduced) out_sizes.push_back(run.size);
  }
  auto over_input = [&](auto&& body) {
    std::vector<std::string> vars = c.open_loops(in_sizes, "j"), out_vars;
    for (size_t k = 0; k < runs.size(); ++k)
      if (!runs[k].reduced) out_vars.push_back(vars[k]);
    std::string v = c.var("v"), of = c.var("of");
    c.w.line("const {} {} = {};", T, v, c.load(0, CEmitContext::flat_index(in_sizes, vars)));
    c.w.line("const int32_t {} = {};", of, CEmitContext::flat_index(out_sizes, out_vars));
    body(v, of);
    c.close_loops(vars.size());
  };
  std::string acc = c.scratch(r.acc_dtype(), n_out, "acc"), mx, o = c.var("o");
  if (r.two_pass()) {
    mx = c.scratch(DType::F64, n_out, "mx");
    c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = {3};", o, n_out, mx, r.max_init());
    over_input([&](const std::string& v, const std::string& of) {
      c.w.line("{}", r.max_update(fmt::format("{}[{}]", mx, of), v));
    });
  }
  c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = {3};", o, n_out, acc,
           r.two_pass() ? "0.0" : r.init());
  over_input([&](const std::string& v, const std::string& of) {
    std::string a = fmt::format("{}[{}]", acc, of);
    if (r.two_pass()) {
      std::string m = fmt::format("{}[{}]", mx, of);
      c.w.line("if ({}) {}", r.finite(m), r.exp_update(a, m, v));
    } else {
      c.w.line("{}", r.update(a, v));
    }
  });
  std::string o2 = c.var("o");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", o2, n_out);
  c.store(0, {}, r.finish(fmt::format("{}[{}]", acc, o2), mx.empty() ? "" : fmt::format("{}[{}]", mx, o2)),
          o2);
  c.w.close();
}

Status reduce_emit_c(CEmitContext& c, Red op) {
  DType t = c.input_dtype(0);
  if (t == DType::Bool) return c.error("bool data is not supported");
  std::vector<int64_t> axes;
  if (c.has_input(1)) {
    const Tensor* a = c.input_constant(1);
    if (!a) return c.error("axes must be a constant for the C backend");
    axes = a->to_int_vector();
  }
  Dims in = c.in_dims(0);
  WEEC_ASSIGN_OR_RETURN(std::vector<bool> mask,
                        reduced_mask(c, axes, (int64_t)in.size(), c.attrs.i("noop_with_empty_axes") != 0));
  const int64_t n_out = c.out_count(0);
  if (n_out == 0) return Status::ok();
  int64_t count = 1;
  std::vector<ReduceRun> runs;
  for (size_t d = 0; d < in.size(); ++d) {
    if (mask[d]) count *= in[d];
    if (in[d] == 1) continue;
    if (!runs.empty() && runs.back().reduced == mask[d])
      runs.back().size *= in[d];
    else
      runs.push_back({in[d], (bool)mask[d]});
  }
  ReduceEmitter r(c, op, count);
  int reduced_runs = 0;
  for (const ReduceRun& run : runs) reduced_runs += run.reduced;
  if (reduced_runs == 0 || (reduced_runs == 1 && runs.back().reduced) || count == 0)
    emit_reduce_trailing(c, r, n_out, count);
  else
    emit_reduce_scattered(c, r, runs, n_out);
  return Status::ok();
}

// Gradient of ReduceSum and ReduceMean (ops/grad.h): dY with the reduced
// axes put back as 1s, expanded to X's dims (and divided by the count).
Status reduce_grad(GradContext& c) {
  const Dims xd = c.dims(c.x(0));
  std::vector<int64_t> axes;
  if (c.node.has_input(1)) {
    const Tensor* t = c.node.inputs[1]->constant.get();
    if (!t) return c.error("gradient: the axes must be a constant");
    axes = t->to_int_vector();
  }
  auto mask = reduced_mask(c, axes, (int64_t)xd.size(), c.attrs.i("noop_with_empty_axes") != 0);
  if (!mask) return mask.status();
  Dims kept = xd;
  int64_t count = 1;
  for (size_t a = 0; a < xd.size(); ++a)
    if ((*mask)[a]) count *= xd[a], kept[a] = 1;
  Value* g = c.op(OpKind::Reshape, {c.dy(0), c.ints(kept)});
  if (c.node.op == OpKind::ReduceMean) g = c.op(OpKind::Div, {g, c.scalar((double)count, g->type.dtype)});
  c.set(0, c.op(OpKind::Expand, {g, c.ints(xd)}));
  return Status::ok();
}

OpSchema reduce_schema(OpKind kind, std::string_view onnx, KernelFn kernel, ImportFn import, EmitCFn emit_c,
                       std::string_view doc) {
  OpSchema s{kind, onnx};
  s.min_inputs = 1;
  s.max_inputs = 2;
  s.attrs = {attr_int("keepdims", 1), attr_int("noop_with_empty_axes", 0)};
  s.fusion = FusionKind::Reduce;
  s.infer = infer_reduce;
  s.kernel = kernel;
  s.import = import;
  s.emit_c = emit_c;
  if (kind == OpKind::ReduceSum || kind == OpKind::ReduceMean) s.grad = reduce_grad;
  s.doc = doc;
  return s;
}

}  // namespace

#define WEEC_REDUCE_OP(Name, R, doc)                                                    \
  const OpSchema& schema_##Name() {                                                     \
    static const OpSchema s = reduce_schema(                                            \
        OpKind::Name, #Name, [](KernelContext& c) { return reduce_kernel(c, Red::R); }, \
        [](ImportContext& c) { return import_reduce(c, OpKind::Name); },                \
        [](CEmitContext& c) { return reduce_emit_c(c, Red::R); }, doc);                 \
    return s;                                                                           \
  }
WEEC_REDUCE_OP(ReduceSum, Sum, "sum over axes (input); empty set gives 0")
WEEC_REDUCE_OP(ReduceMean, Mean, "mean over axes")
WEEC_REDUCE_OP(ReduceMax, Max, "maximum over axes; NaN propagates; empty set gives -inf")
WEEC_REDUCE_OP(ReduceMin, Min, "minimum over axes; NaN propagates; empty set gives +inf")
WEEC_REDUCE_OP(ReduceProd, Prod, "product over axes; empty set gives 1")
WEEC_REDUCE_OP(ReduceL1, L1, "sum of |x| over axes")
WEEC_REDUCE_OP(ReduceL2, L2, "sqrt of the sum of squares over axes")
WEEC_REDUCE_OP(ReduceLogSum, LogSum, "log of the sum over axes")
WEEC_REDUCE_OP(ReduceLogSumExp, LogSumExp, "log(sum(exp(x))) over axes, computed stably")
WEEC_REDUCE_OP(ReduceSumSquare, SumSquare, "sum of squares over axes")
#undef WEEC_REDUCE_OP

}  // namespace weec
