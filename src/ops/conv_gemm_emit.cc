// Float 1-D/2-D convolutions as GEMMs through the shared weec_sgemm helper
// (simd_gemm_emit.cc), per group: C[oc][q] = sum_k W[oc][k] * B[k][q] over
// output positions q.
//  * Stride 1 (any kernel, dilation, padding; depthwise included): no
//    im2col. X's channels of the group are copied into a zero-bordered
//    scratch plane of pitch PW (not at all when there is no padding), and
//    B's row (ic, kh, kw) is that plane shifted by kh*DH*PW + kw*DW: output
//    (oh, ow) is q = oh*PW + ow, so each GEMM row is one run of
//    (OH - 1)*PW + OW positions (the pitch's extra columns are computed and
//    dropped when stored). A 1x1 conv is a plain GEMM on X.
//  * Other strides: blocks of output rows unfolded into a scratch matrix
//    col[K][positions] (im2col), then the GEMM.
// When the GEMM's rows have the output's layout (no dropped columns) it
// writes the output directly and the epilogue (bias, activation) runs in
// place, unless an epilogue operand could share the output's buffer;
// otherwise it writes a scratch block. Blocks of output rows keep the
// scratch within kAccBudget / kColBudget floats.
#include "ops/nn_emit.h"

namespace weec::nn {

namespace {

constexpr int64_t kAccBudget = 8192, kColBudget = 8192, kMinBlock = 64;

// A 1-D or 2-D window seen as 2-D.
struct Plane {
  int64_t H, W, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, OH, OW;
};

Plane plane_of(const Window& w) {
  const size_t r = w.rank();
  auto at = [&](const Dims& d, int64_t one) { return r == 2 ? d[0] : one; };
  return {at(w.in, 1),      w.in[r - 1],        at(w.kernel, 1),    w.kernel[r - 1],    at(w.strides, 1),
          w.strides[r - 1], at(w.dilations, 1), w.dilations[r - 1], at(w.pad_begin, 0), w.pad_begin[r - 1],
          at(w.pad_end, 0), w.pad_end[r - 1],   at(w.out, 1),       w.out[r - 1]};
}

// Whether every output position along a dim reads inside X for every tap.
bool always_inside(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pad) {
  return pad <= 0 && (out - 1) * s + (k - 1) * d - pad <= in - 1;
}

std::string loop(const std::string& v, const std::string& from, const std::string& to) {
  return fmt::format("for (int32_t {0} = {1}; {0} < {2}; ++{0})", v, from, to);
}
std::string loop(const std::string& v, int64_t n) { return loop(v, "0", std::to_string(n)); }

// Scratch rows start on 32-byte boundaries (whole vectors).
int64_t pitch(int64_t n) { return (n + 7) / 8 * 8; }

// Equal blocks of at most `most` rows out of `total`.
int64_t block_rows(int64_t total, int64_t most) {
  const int64_t blocks = (total + most - 1) / most;
  return (total + blocks - 1) / blocks;
}

// Whether the GEMM may write the node's output buffer before the epilogue
// runs over it in place. Not in a fused group whose sink differs from the
// anchor's output in type or shape, nor when the epilogue reads a value of
// the output's shape from outside the group: plan-memory may give the
// group's output that value's buffer (it is read only at the same index).
bool output_writable_early(const CEmitContext& c) {
  const Graph* g = c.node.owner;
  if (!g) return false;
  if (!g->parent) return true;  // a top-level node: no epilogue
  const Value* y = c.node.outputs[0];
  const Dims out = y->type.shape.static_dims();
  for (const Value* o : g->outputs)
    if (o->type.dtype != y->type.dtype || !o->type.shape.is_static() || o->type.shape.static_dims() != out)
      return false;
  for (auto& n : g->nodes()) {
    if (n.get() == &c.node) continue;
    for (const Value* v : n->inputs)
      if (v && !v->producer && !v->constant && v->type.shape.is_static() && v->type.shape.static_dims() == out)
        return false;
  }
  return true;
}

class ConvGemmWriter {
 public:
  ConvGemmWriter(CEmitContext& c, const ConvEmitSpec& s)
      : c_(c), s_(s), g_(plane_of(s.p.w)), cin_g_(s.p.c_in / s.p.group), cout_g_(s.p.c_out / s.p.group) {}

  // False (nothing emitted) when a block of one output row needs more scratch than the budgets.
  bool run() {
    const bool unit_stride = g_.SH == 1 && g_.SW == 1;
    const int64_t K = cin_g_ * g_.KH * g_.KW;
    PW_ = unit_stride ? g_.W + g_.PL + g_.PR : g_.OW;
    pad_ = unit_stride && (g_.PT || g_.PB || g_.PL || g_.PR);
    direct_ = PW_ == g_.OW && output_writable_early(c_);
    const int64_t halo = unit_stride ? (g_.KH - 1) * g_.DH : 0;
    // Rows per block: the most that fit the budgets (im2col: at least kMinBlock positions).
    int64_t most = g_.OH;
    auto fits = [&](int64_t r) {
      const int64_t in_rows = unit_stride ? (pad_ ? cin_g_ * (r + halo) * PW_ : 0) : K * r * g_.OW;
      return (direct_ || cout_g_ * pitch((r - 1) * PW_ + g_.OW) <= kAccBudget) && in_rows <= kColBudget;
    };
    while (most > 1 && !fits(most)) --most;
    if (!fits(most)) {
      if (unit_stride || !direct_) return false;
      most = std::min<int64_t>(g_.OH, (kMinBlock + g_.OW - 1) / g_.OW);  // im2col straight into Y
    }
    rows_ = block_rows(g_.OH, most);
    const bool one_block = rows_ == g_.OH;
    T_ = c_type(s_.acc);
    if (!direct_) acc_ = c_.scratch(s_.acc, cout_g_ * pitch((rows_ - 1) * PW_ + g_.OW), "acc");
    if (pad_) in_ = c_.scratch(s_.acc, cin_g_ * (rows_ + halo) * PW_, "xpad");
    if (!unit_stride) in_ = c_.scratch(s_.acc, K * rows_ * g_.OW, "col");
    gemm_ = sgemm_helper(c_);
    if (unit_stride) {
      std::vector<int64_t> taps;
      for (int64_t kh = 0; kh < g_.KH; ++kh)
        for (int64_t kw = 0; kw < g_.KW; ++kw) taps.push_back(kh * g_.DH * PW_ + kw * g_.DW);
      taps_ = tap_offsets(c_, taps);
    } else {
      taps_ = tap_offsets(c_, {0});
    }
    std::string i = c_.var("i");
    if (pad_ && one_block)  // the borders stay zero: only the interior is rewritten
      c_.w.line("{} {}[{}] = 0;", loop(i, cin_g_ * (rows_ + halo) * PW_), in_, i);
    n_ = c_.var("n");
    c_.w.open("{} {{", loop(n_, s_.p.batch));
    grp_ = s_.p.group > 1 ? c_.var("g") : std::string("0");
    if (s_.p.group > 1) c_.w.open("{} {{", loop(grp_, s_.p.group));
    const int64_t full = g_.OH / rows_, tail = g_.OH % rows_;
    if (one_block) {
      block("0", rows_, unit_stride, true);
    } else {
      if (full > 0) {
        std::string blk = c_.var("blk"), oh0 = c_.var("oh");
        c_.w.open("{} {{", loop(blk, full));
        c_.w.line("const int32_t {} = {} * {};", oh0, blk, rows_);
        block(oh0, rows_, unit_stride, false);
        c_.w.close();
      }
      if (tail > 0) {
        c_.w.open("{{");
        block(std::to_string(full * rows_), tail, unit_stride, false);
        c_.w.close();
      }
    }
    if (s_.p.group > 1) c_.w.close();
    c_.w.close();
    return true;
  }

 private:
  // Output rows [oh0, oh0 + rows) of the group's channels.
  void block(const std::string& oh0, int64_t rows, bool unit_stride, bool one_block) {
    const int64_t K = cin_g_ * g_.KH * g_.KW, HW = g_.H * g_.W, N = (rows - 1) * PW_ + g_.OW;
    const std::string x_chan =
        fmt::format("{} + ({} * {} + {} * {}) * {}", c_.in(s_.x_in), n_, s_.p.c_in, grp_, cin_g_, HW);
    std::string b = in_, nc = std::to_string(cin_g_), nt = std::to_string(g_.KH * g_.KW), ldb;
    if (!unit_stride) {
      im2col(oh0, rows);
      nc = std::to_string(K);
      nt = "1";
      ldb = std::to_string(rows * g_.OW);
    } else if (pad_) {
      pad_copy(x_chan, oh0, rows, one_block);
      ldb = std::to_string((rows_ + (g_.KH - 1) * g_.DH) * PW_);
    } else {
      b = oh0 == "0" ? x_chan : fmt::format("{} + {} * {}", x_chan, oh0, g_.W);
      ldb = std::to_string(HW);
    }
    const int64_t plane = g_.OH * g_.OW;
    const std::string y_rows = fmt::format("{} + ({} * {} + {} * {}) * {}{}", c_.out(0), n_, s_.p.c_out, grp_,
                                           cout_g_, plane, oh0 == "0" ? "" : fmt::format(" + {} * {}", oh0, g_.OW));
    const int64_t acc_pitch = pitch((rows_ - 1) * PW_ + g_.OW);
    c_.w.line("{}({}, {}, {}, {}, {} + {} * {}, {}, {}, {}, {}, {}, {});", gemm_, cout_g_, N, nc, nt,
              c_.in(s_.w_in), grp_, cout_g_ * K, K, b, ldb, taps_, direct_ ? y_rows : acc_,
              direct_ ? plane : acc_pitch);
    store_rows(oh0, rows, acc_pitch);
  }

  // The group's input channels, rows [oh0 - PT, oh0 + rows + halo - PT) of
  // X, into the zero-bordered plane (zeroed here unless one block).
  void pad_copy(const std::string& x_chan, const std::string& oh0, int64_t rows, bool one_block) {
    const int64_t RB = rows_ + (g_.KH - 1) * g_.DH, used = rows + (g_.KH - 1) * g_.DH;
    std::string i = c_.var("i"), ic = c_.var("ic"), r = c_.var("r"), iw = c_.var("iw");
    if (!one_block) c_.w.line("{} {}[{}] = 0;", loop(i, cin_g_ * RB * PW_), in_, i);
    // Padded row r of the block is X row oh0 + r - PT: copy those inside [0, H).
    std::string lo, hi;
    if (oh0 == "0") {
      lo = std::to_string(std::min(g_.PT, used));
      hi = std::to_string(std::max<int64_t>(0, std::min(used, g_.H + g_.PT)));
    } else {
      lo = c_.var("lo");
      hi = c_.var("hi");
      c_.w.line("const int32_t {0} = {1} - {2} > 0 ? {1} - {2} : 0;", lo, g_.PT, oh0);
      c_.w.line("const int32_t {0} = {1} - {2} < {3} ? {1} - {2} : {3};", hi, g_.H + g_.PT, oh0, used);
    }
    c_.w.line("{} {} {} {}[({} * {} + {}) * {} + {} + {}] = ({})[{} * {} + ({} + {} - {}) * {} + {}];",
              loop(ic, cin_g_), loop(r, lo, hi), loop(iw, g_.W), in_, ic, RB, r, PW_, g_.PL, iw, x_chan, ic,
              g_.H * g_.W, oh0, r, g_.PT, g_.W, iw);
  }

  // col[q][rr * OW + ow] for q = (ic, kh, kw): X at the tap's position, 0 in
  // the padding; valid column ranges per tap, so the copy loop has no test.
  void im2col(const std::string& oh0, int64_t rows) {
    const int64_t NB = rows * g_.OW;
    const bool h_in = always_inside(g_.H, g_.OH, g_.KH, g_.SH, g_.DH, g_.PT);
    const bool w_in = always_inside(g_.W, g_.OW, g_.KW, g_.SW, g_.DW, g_.PL);
    std::string ic = c_.var("ic"), kh = c_.var("kh"), kw = c_.var("kw"), rr = c_.var("r"), ow = c_.var("ow"),
                xp = c_.var("xp"), d = c_.var("d"), ih = c_.var("ih");
    c_.w.open("{} {{", loop(ic, cin_g_));
    c_.w.line("const {}* {} = {} + ({} * {} + {} * {} + {}) * {};", T_, xp, c_.in(s_.x_in), n_, s_.p.c_in,
              grp_, cin_g_, ic, g_.H * g_.W);
    c_.w.open("{} {} {{", loop(kh, g_.KH), loop(kw, g_.KW));
    c_.w.line("{}* {} = {} + (({} * {} + {}) * {} + {}) * {};", T_, d, in_, ic, g_.KH, kh, g_.KW, kw, NB);
    std::string lo = "0", hi = std::to_string(g_.OW);
    if (!w_in) {
      // ow * SW + kw * DW - PL in [0, W).
      lo = c_.var("lo");
      hi = c_.var("hi");
      std::string sh = fmt::format("({} * {} - {})", kw, g_.DW, g_.PL);
      c_.w.line("const int32_t {0} = {1} >= 0 ? 0 : (-{1} + {2}) / {3};", lo, sh, g_.SW - 1, g_.SW);
      c_.w.line(
          "const int32_t {0} = {1} > {2} ? 0 : (({2} - {1}) / {3} + 1 < {4} ? ({2} - {1}) / {3} + 1 : {4});",
          hi, sh, g_.W - 1, g_.SW, g_.OW);
    }
    c_.w.open("{} {{", loop(rr, rows));
    c_.w.line("const int32_t {} = ({} + {}) * {} + {} * {} - {};", ih, oh0, rr, g_.SH, kh, g_.DH, g_.PT);
    std::string dr = fmt::format("{}[{} * {} + {}]", d, rr, g_.OW, ow);
    if (!h_in) {
      c_.w.open("if ({0} < 0 || {0} >= {1}) {{", ih, g_.H);
      c_.w.line("{} {} = 0;", loop(ow, g_.OW), dr);
      c_.w.line("continue;");
      c_.w.close();
    }
    if (!w_in) c_.w.line("{} {} = 0;", loop(ow, "0", lo), dr);
    std::string col = g_.SW == 1 ? ow : fmt::format("{} * {}", ow, g_.SW);
    c_.w.line("{} {} = {}[{} * {} + {} + {} * {} - {}];", loop(ow, lo, hi), dr, xp, ih, g_.W, col, kw, g_.DW,
              g_.PL);
    if (!w_in) c_.w.line("{} {} = 0;", loop(ow, hi, std::to_string(g_.OW)), dr);
    c_.w.close();
    c_.w.close();
    c_.w.close();
  }

  // store() of output rows [oh0, oh0 + rows) of every channel of the group,
  // from the GEMM's result (in Y itself, or the scratch block of row pitch
  // acc_pitch and column pitch PW) plus the channel's initial value.
  void store_rows(const std::string& oh0, int64_t rows, int64_t acc_pitch) {
    std::string ocl = c_.var("oc");
    c_.w.open("{} {{", loop(ocl, cout_g_));
    std::string oc = s_.p.group == 1 ? ocl : fmt::format("({} * {} + {})", grp_, cout_g_, ocl);
    if (s_.per_channel) s_.per_channel(oc);
    const std::string init = s_.init ? s_.init(oc) : "";
    const std::string oh_off = oh0 == "0" ? "" : fmt::format("{} * {} + ", oh0, g_.OW);
    std::vector<std::string> idx = {n_, oc};
    std::string a, flat;
    if (PW_ == g_.OW) {
      // Contiguous rows: one flat loop (the epilogue vectorises over it).
      std::string j = c_.var("j");
      c_.w.open("{} {{", loop(j, rows * g_.OW));
      flat = fmt::format("({} * {} + {}) * {} + {}{}", n_, s_.p.c_out, oc, g_.OH * g_.OW, oh_off, j);
      a = direct_ ? fmt::format("{}[{}]", c_.out(0), flat) : fmt::format("{}[{} * {} + {}]", acc_, ocl, acc_pitch, j);
      if (s_.p.w.rank() == 2) idx.push_back(fmt::format("{}{} / {}", oh0 == "0" ? "" : oh0 + " + ", j, g_.OW));
      idx.push_back(fmt::format("{} % {}", j, g_.OW));
    } else {
      std::string rr = c_.var("r"), ow = c_.var("ow");
      c_.w.open("{} {} {{", loop(rr, rows), loop(ow, g_.OW));
      std::string oh = oh0 == "0" ? rr : fmt::format("{} + {}", oh0, rr);
      a = fmt::format("{}[{} * {} + {} * {} + {}]", acc_, ocl, acc_pitch, rr, PW_, ow);
      if (s_.p.w.rank() == 2) idx.push_back(oh);
      idx.push_back(ow);
      flat = fmt::format("(({} * {} + {}) * {} + {}) * {} + {}", n_, s_.p.c_out, oc, g_.OH, oh, g_.OW, ow);
    }
    if (!init.empty()) a = fmt::format("{} + {}", a, init);
    c_.store(0, idx, s_.finish ? s_.finish(a, oc) : a, flat);
    c_.w.close();
    c_.w.close();
  }

  CEmitContext& c_;
  const ConvEmitSpec& s_;
  Plane g_;
  int64_t cin_g_, cout_g_, PW_ = 0, rows_ = 0;
  bool pad_ = false, direct_ = false;
  std::string T_, acc_, in_, n_, grp_, gemm_, taps_;
};

}  // namespace

bool conv_gemm_applies(const CEmitContext& c, const ConvEmitSpec& s) {
  const size_t r = s.p.w.rank();
  return !s.transposed && (r == 1 || r == 2) && s.acc == DType::F32 && !s.x_value && !s.w_value &&
         c.input_dtype(s.x_in) == s.acc && c.input_dtype(s.w_in) == s.acc;
}

bool emit_conv_gemm(CEmitContext& c, const ConvEmitSpec& s) { return ConvGemmWriter(c, s).run(); }

}  // namespace weec::nn
