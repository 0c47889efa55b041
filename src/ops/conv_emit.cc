// The convolution loop nest of the C backend (see nn_emit.h). Per (n, oc) the
// output plane accumulates in a scratch buffer; per input channel of the
// group and kernel tap, one loop nest over exactly the output positions whose
// tap lands inside X, so the innermost loop has no bounds test and, with
// stride 1, is contiguous in both X and the accumulator. Small kernels unroll
// their taps at emit time (every trip count a literal); large ones loop over
// the taps and compute each dim's valid range at run time.
#include "ops/nn_emit.h"

namespace weec::nn {

namespace {

constexpr int64_t kMaxUnrolledTaps = 64;

// One loop of a tap's range: i in [lo, hi) over the iterated buffer (Y for
// a conv, X for a transposed conv) at offset i * iter_stride, reaching the
// other ("target") buffer at i * tgt_stride.
struct LoopDim {
  int64_t lo, hi, iter_stride, tgt_stride;
};

std::string signed_term(int64_t v) { return v < 0 ? fmt::format(" - {}", -v) : fmt::format(" + {}", v); }

// "a * s + b * t + off" with unit strides and zero offsets left out.
std::string linear_expr(const std::vector<std::string>& vars, const std::vector<int64_t>& strides,
                        int64_t off) {
  std::string s;
  for (size_t i = 0; i < vars.size(); ++i) {
    if (strides[i] == 0) continue;
    std::string t = strides[i] == 1 ? vars[i] : fmt::format("{} * {}", vars[i], strides[i]);
    s = s.empty() ? t : s + " + " + t;
  }
  if (s.empty()) return fmt::format("{}", off);
  return off ? s + signed_term(off) : s;
}

// Extents of the iterated and target buffers' spatial dims: a conv iterates
// over Y and reads X at o * s + k * d - pad; a transposed conv iterates
// over X and scatters to Y at the same expression.
const Dims& iter_dims(const Window& w, bool transposed) { return transposed ? w.in : w.out; }
const Dims& target_dims(const Window& w, bool transposed) { return transposed ? w.out : w.in; }

// The range of kernel position `kpos` along every spatial dim (false if it
// is empty) and the target's offset at i = 0; consecutive dims that form one
// linear run (inner dim full, strides nested) merge into one loop.
bool tap_loops(const Window& w, bool transposed, const Dims& kpos, std::vector<LoopDim>& loops,
               int64_t& tgt_off) {
  const Dims& it = iter_dims(w, transposed);
  const Dims& tg = target_dims(w, transposed);
  const Dims is = strides_of(it), ts = strides_of(tg);
  loops.clear();
  tgt_off = 0;
  for (size_t i = 0; i < w.rank(); ++i) {
    const int64_t shift = kpos[i] * w.dilations[i] - w.pad_begin[i];
    const int64_t lo = std::max<int64_t>(0, ceil_div(-shift, w.strides[i]));
    const int64_t hi = std::min<int64_t>(it[i], floor_div(tg[i] - 1 - shift, w.strides[i]) + 1);
    if (lo >= hi) return false;
    tgt_off += shift * ts[i];
    LoopDim d{lo, hi, is[i], w.strides[i] * ts[i]};
    if (!loops.empty()) {
      LoopDim& o = loops.back();
      if (d.lo == 0 && o.iter_stride == d.hi * d.iter_stride && o.tgt_stride == d.hi * d.tgt_stride) {
        o = {o.lo * d.hi, o.hi * d.hi, d.iter_stride, d.tgt_stride};
        continue;
      }
    }
    loops.push_back(d);
  }
  return true;
}

class ConvWriter {
 public:
  ConvWriter(CEmitContext& c, const ConvEmitSpec& s) : c_(c), s_(s), w_(s.p.w) {}

  Status run() {
    const ConvProblem& p = s_.p;
    const int64_t out_n = numel_of(w_.out), in_n = numel_of(w_.in), k_n = numel_of(w_.kernel);
    const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group;
    if (p.batch == 0 || p.c_out == 0 || out_n == 0) return Status::ok();
    acc_t_ = c_type(s_.acc);
    acc_ = c_.scratch(s_.acc, out_n, "acc");
    const std::string xt = c_type(c_.input_dtype(s_.x_in)), wt = c_type(c_.input_dtype(s_.w_in));
    std::string n = c_.var("n"), oc = c_.var("oc");
    c_.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", n, p.batch);
    c_.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", oc, p.c_out);
    if (s_.per_channel) s_.per_channel(oc);
    std::string init = s_.init ? s_.init(oc) : "";
    std::string p0 = c_.var("p");
    c_.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = {3};", p0, out_n, acc_,
              init.empty() ? "0" : init);
    std::string ic = "0";
    if (cin_g > 1) {
      ic = c_.var("ic");
      c_.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", ic, cin_g);
    }
    // The input channel: oc's group times cin_g, plus ic.
    std::string chan = p.group == 1 ? ic : fmt::format("{} / {} * {} + {}", oc, cout_g, cin_g, ic);
    xp_ = c_.var("xp");
    wp_ = c_.var("wp");
    c_.w.line("const {}* {} = {} + (({}) * {} + {}) * {};", xt, xp_, c_.in(s_.x_in), n, p.c_in, chan, in_n);
    if (s_.transposed)  // W is (C_in, C_out/group, kernel...)
      c_.w.line("const {}* {} = {} + (({}) * {} + {} % {}) * {};", wt, wp_, c_.in(s_.w_in), chan, cout_g, oc,
                cout_g, k_n);
    else
      c_.w.line("const {}* {} = {} + ({} * {} + {}) * {};", wt, wp_, c_.in(s_.w_in), oc, cin_g, ic, k_n);
    if (k_n <= kMaxUnrolledTaps)
      unrolled_taps();
    else
      looped_taps();
    if (cin_g > 1) c_.w.close();
    store_plane(n, oc);
    c_.w.close();
    c_.w.close();
    return Status::ok();
  }

 private:
  std::string x_value(const std::string& raw) const {
    if (s_.x_value) return s_.x_value(raw);
    return c_.input_dtype(s_.x_in) == s_.acc ? raw : fmt::format("({}){}", acc_t_, raw);
  }
  std::string w_value(const std::string& raw) const {
    if (s_.w_value) return s_.w_value(raw);
    return c_.input_dtype(s_.w_in) == s_.acc ? raw : fmt::format("({}){}", acc_t_, raw);
  }

  void unrolled_taps() {
    const size_t r = w_.rank();
    Dims kpos(r, 0);
    std::vector<LoopDim> loops;
    bool any = false;
    for (int64_t k = 0; k < numel_of(w_.kernel); ++k) {
      int64_t tgt_off = 0;
      if (tap_loops(w_, s_.transposed, kpos, loops, tgt_off)) {
        any = true;
        c_.w.open("{{");
        std::string wv = c_.var("wv");
        c_.w.line("const {} {} = {};", acc_t_, wv, w_value(fmt::format("{}[{}]", wp_, k)));
        std::vector<std::string> vars;
        std::vector<int64_t> is, ts;
        for (const LoopDim& d : loops) {
          std::string o = c_.var("o");
          c_.w.open("for (int32_t {0} = {1}; {0} < {2}; ++{0}) {{", o, d.lo, d.hi);
          vars.push_back(o);
          is.push_back(d.iter_stride);
          ts.push_back(d.tgt_stride);
        }
        accumulate(wv, linear_expr(vars, is, 0), linear_expr(vars, ts, tgt_off));
        c_.close_loops(loops.size());
        c_.w.close();
      }
      for (size_t i = r; i-- > 0;) {
        if (++kpos[i] < w_.kernel[i]) break;
        kpos[i] = 0;
      }
    }
    // No tap reaches the input (all padding, e.g. a ConvTranspose whose every
    // tap is cropped): the output is the bias alone, and xp/wp must not trip -Werror.
    if (!any) {
      c_.w.line("(void){};", xp_);
      c_.w.line("(void){};", wp_);
    }
  }

  // Whether every kernel position of dim i covers all of the output range.
  bool dim_always_full(size_t i) const {
    const int64_t it = iter_dims(w_, s_.transposed)[i], tg = target_dims(w_, s_.transposed)[i];
    for (int64_t k = 0; k < w_.kernel[i]; ++k) {
      const int64_t shift = k * w_.dilations[i] - w_.pad_begin[i];
      if (shift < 0 || (it - 1) * w_.strides[i] + shift > tg - 1) return false;
    }
    return true;
  }

  // acc[...] += wv * x[...], given the iterated and target offsets.
  void accumulate(const std::string& wv, const std::string& iter, const std::string& tgt) {
    const std::string& a = s_.transposed ? tgt : iter;
    const std::string& x = s_.transposed ? iter : tgt;
    c_.w.line("{}[{}] += {} * {};", acc_, a, wv, x_value(fmt::format("{}[{}]", xp_, x)));
  }

  void looped_taps() {
    const size_t r = w_.rank();
    const Dims& it = iter_dims(w_, s_.transposed);
    const Dims& tg = target_dims(w_, s_.transposed);
    const Dims is = strides_of(it), ts = strides_of(tg), ks = strides_of(w_.kernel);
    std::vector<std::string> kv, shift, lo, hi;
    for (size_t i = 0; i < r; ++i) {
      std::string k = c_.var("k"), sh = c_.var("sh");
      c_.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", k, w_.kernel[i]);
      c_.w.line("const int32_t {} = {} * {} - {};", sh, k, w_.dilations[i], w_.pad_begin[i]);
      kv.push_back(k);
      shift.push_back(sh);
      if (dim_always_full(i)) {
        lo.push_back("0");
        hi.push_back(fmt::format("{}", it[i]));
        continue;
      }
      // o * s + sh in [0, tg): lo = ceil(-sh / s) clamped at 0, hi = floor((tg - 1 - sh) / s) + 1 clamped.
      std::string l = c_.var("lo"), h = c_.var("hi");
      const int64_t s = w_.strides[i], in = tg[i], out = it[i];
      c_.w.line("const int32_t {} = {} >= 0 ? 0 : (-{} + {}) / {};", l, sh, sh, s - 1, s);
      c_.w.line(
          "const int32_t {0} = {1} > {2} ? 0 : (({2} - {1}) / {3} + 1 < {4} ? ({2} - {1}) / {3} + 1 : {4});",
          h, sh, in - 1, s, out);
      lo.push_back(l);
      hi.push_back(h);
    }
    std::string wv = c_.var("wv");
    c_.w.line("const {} {} = {};", acc_t_, wv, w_value(fmt::format("{}[{}]", wp_, linear_expr(kv, ks, 0))));
    std::vector<std::string> ov, terms;
    for (size_t i = 0; i < r; ++i) {
      std::string o = c_.var("o");
      c_.w.open("for (int32_t {0} = {1}; {0} < {2}; ++{0}) {{", o, lo[i], hi[i]);
      ov.push_back(o);
      std::string pos = w_.strides[i] == 1 ? fmt::format("{} + {}", o, shift[i])
                                           : fmt::format("{} * {} + {}", o, w_.strides[i], shift[i]);
      terms.push_back(ts[i] == 1 ? fmt::format("({})", pos) : fmt::format("({}) * {}", pos, ts[i]));
    }
    std::string tgt;
    for (auto& t : terms) tgt = tgt.empty() ? t : tgt + " + " + t;
    accumulate(wv, linear_expr(ov, is, 0), tgt);
    c_.close_loops(2 * r);
  }

  // One flat loop over the plane (the epilogue vectorises over it); the
  // multi-index, for broadcast epilogue operands, by division.
  void store_plane(const std::string& n, const std::string& oc) {
    std::string p = c_.var("p");
    c_.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", p, numel_of(w_.out));
    std::vector<std::string> idx = {n, oc};
    const Dims st = strides_of(w_.out);
    for (size_t i = 0; i < w_.rank(); ++i) {
      std::string e = st[i] == 1 ? p : fmt::format("{} / {}", p, st[i]);
      idx.push_back(i == 0 ? e : fmt::format("{} % {}", e, w_.out[i]));
    }
    std::string a = fmt::format("{}[{}]", acc_, p);
    std::string out_flat = fmt::format("({} * {} + {}) * {} + {}", n, s_.p.c_out, oc, numel_of(w_.out), p);
    c_.store(0, idx, s_.finish ? s_.finish(a, oc) : a, out_flat);
    c_.w.close();
  }

  CEmitContext& c_;
  const ConvEmitSpec& s_;
  const Window& w_;
  std::string acc_t_, acc_, xp_, wp_;
};

}  // namespace

// Float 1-D/2-D convs are GEMMs (conv_gemm_emit.cc), depthwise ones with
// AVX-512 where the CPU has it (depthwise_emit.cc); integer, transposed and
// 3-D ones take the per-tap loop nest above.
Status emit_conv(CEmitContext& c, const ConvEmitSpec& s) {
  if (s.p.batch == 0 || s.p.c_out == 0 || numel_of(s.p.w.out) == 0) return Status::ok();
  const bool dw = depthwise_applies(c, s);
  if (dw) {
    emit_depthwise_avx512(c, s);  // if (AVX-512) { ... } else
    c.w.open("{{");
  }
  Status st = Status::ok();
  if (!conv_gemm_applies(c, s) || !emit_conv_gemm(c, s)) st = ConvWriter(c, s).run();
  if (dw) c.w.close();
  return st;
}

std::string requantize_helper(CEmitBase& c, DType to) {
  const bool u8 = to == DType::U8;
  std::string name = u8 ? "weec_requantize_u8" : "weec_requantize_i8";
  std::string rint = c.math("nearbyint", DType::F64);
  return c.helper(name, fmt::format("static int32_t {0}(double v, int32_t zp) {{\n"
                                    "  double r;\n"
                                    "  if (v != v) return 0;\n"
                                    "  r = {1}(v) + (double)zp;\n"
                                    "  return r < {2}.0 ? {2} : r > {3}.0 ? {3} : (int32_t)r;\n"
                                    "}}\n",
                                    name, rint, u8 ? "0" : "-128", u8 ? "255" : "127"));
}

}  // namespace weec::nn
