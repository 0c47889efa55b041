// Two float conv strategies of the C backend (see nn_emit.h), chosen by
// emit_conv where they beat the per-tap loop nest of conv_emit.cc:
//  * im2col + GEMM: blocks of output rows are unfolded into a scratch matrix
//    col[C_in/group * kernel][positions] (none for a 1x1, stride-1, unpadded
//    conv: X is that matrix), then per output channel
//    acc[positions] += W[oc, q] * col[q, positions], a long contiguous loop
//    whatever the strides or plane width. The unfold costs 1/(C_out/group) of
//    the multiply-adds; blocks keep the scratch near kColBudget elements.
//  * flat depthwise (one input channel per group, stride 1): with X padded
//    into a scratch plane of pitch PW, output (oh, ow) of tap (kh, kw) reads
//    plane[(oh + kh*dh) * PW + ow + kw*dw], so every tap is one contiguous
//    loop over (OH - 1) * PW + OW positions (the pitch's extra columns are
//    computed and dropped), instead of one short loop per output row.
// Both handle 1-D and 2-D spatial dims (1-D as height 1).
#include "ops/nn_emit.h"

namespace weec::nn {

namespace {

constexpr int64_t kColBudget = 4096, kMinBlock = 64, kMaxFusedTaps = 8, kOcBlock = 4, kQBlock = 4;

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

// Accumulator rows start on 32-byte boundaries (whole vectors).
int64_t pitch(int64_t n) { return (n + 7) / 8 * 8; }

class ConvGemmWriter {
 public:
  ConvGemmWriter(CEmitContext& c, const ConvEmitSpec& s) : c_(c), s_(s), g_(plane_of(s.p.w)) {}

  Status im2col_gemm() {
    const ConvProblem& p = s_.p;
    const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group, K = cin_g * g_.KH * g_.KW;
    const bool direct = g_.KH == 1 && g_.KW == 1 && g_.SH == 1 && g_.SW == 1 && g_.PT == 0 && g_.PL == 0 &&
                        g_.OH == g_.H && g_.OW == g_.W;
    // Rows per block: about kColBudget scratch elements, but at least
    // kMinBlock positions (the inner loop's length); blocks of equal size.
    int64_t rows = g_.OH;
    if (!direct) {
      const int64_t most = std::clamp<int64_t>(
          std::max(kColBudget / std::max<int64_t>(1, K * g_.OW), (kMinBlock + g_.OW - 1) / g_.OW), 1, g_.OH);
      const int64_t blocks = (g_.OH + most - 1) / most;
      rows = (g_.OH + blocks - 1) / blocks;
    }
    T_ = c_type(s_.acc);
    acc_ = c_.scratch(s_.acc, std::min(kOcBlock, cout_g) * pitch(rows * g_.OW), "acc");
    if (!direct) col_ = c_.scratch(s_.acc, K * rows * g_.OW, "col");
    n_ = c_.var("n");
    c_.w.open("{} {{", loop(n_, p.batch));
    grp_ = p.group > 1 ? c_.var("g") : std::string("0");
    if (p.group > 1) c_.w.open("{} {{", loop(grp_, p.group));
    const std::string x_chan =
        fmt::format("{} + ({} * {} + {} * {}) * {}", c_.in(s_.x_in), n_, p.c_in, grp_, cin_g, g_.H * g_.W);
    if (direct) {
      gemm_block("0", g_.OH, x_chan, g_.H * g_.W, K, cout_g);
    } else {
      const int64_t full = g_.OH / rows, tail = g_.OH % rows;
      if (full > 0) {
        std::string blk = c_.var("blk");
        c_.w.open("{} {{", loop(blk, full));
        std::string oh0 = c_.var("oh");
        c_.w.line("const int32_t {} = {} * {};", oh0, blk, rows);
        im2col(oh0, rows, cin_g);
        gemm_block(oh0, rows, col_, rows * g_.OW, K, cout_g);
        c_.w.close();
      }
      if (tail > 0) {
        c_.w.open("{{");
        std::string oh0 = std::to_string(full * rows);
        im2col(oh0, tail, cin_g);
        gemm_block(oh0, tail, col_, tail * g_.OW, K, cout_g);
        c_.w.close();
      }
    }
    if (p.group > 1) c_.w.close();
    c_.w.close();
    return Status::ok();
  }

  Status depthwise_flat() {
    const ConvProblem& p = s_.p;
    const int64_t mult = p.c_out / p.group;
    const int64_t PH = g_.H + g_.PT + g_.PB, PW = g_.W + g_.PL + g_.PR, L = (g_.OH - 1) * PW + g_.OW;
    const bool pad = PH != g_.H || PW != g_.W;
    T_ = c_type(s_.acc);
    acc_ = c_.scratch(s_.acc, L, "acc");
    std::string xpad = pad ? c_.scratch(s_.acc, PH * PW, "xpad") : "";
    std::string i = c_.var("i"), ch = c_.var("ch"), m = c_.var("m"), kh = c_.var("kh"), kw = c_.var("kw"),
                q = c_.var("q"), src = c_.var("src"), wv = c_.var("wv"), sp = c_.var("sp");
    n_ = c_.var("n");
    if (pad) c_.w.line("{} {}[{}] = 0;", loop(i, PH * PW), xpad, i);  // borders stay zero
    c_.w.open("{} {}{{", loop(n_, p.batch), loop(ch, p.c_in));
    const std::string xp =
        fmt::format("{} + ({} * {} + {}) * {}", c_.in(s_.x_in), n_, p.c_in, ch, g_.H * g_.W);
    if (pad) {
      std::string ih = c_.var("ih"), iw = c_.var("iw");
      c_.w.line("{} {} {}[({} + {}) * {} + {} + {}] = ({})[{} * {} + {}];", loop(ih, g_.H), loop(iw, g_.W),
                xpad, ih, g_.PT, PW, iw, g_.PL, xp, ih, g_.W, iw);
      c_.w.line("const {}* {} = {};", T_, src, xpad);
    } else {
      c_.w.line("const {}* {} = {};", T_, src, xp);
    }
    c_.w.open("{} {{", loop(m, mult));
    std::string oc = mult == 1 ? ch : fmt::format("({} * {} + {})", ch, mult, m);
    if (s_.per_channel) s_.per_channel(oc);
    std::string init = s_.init ? s_.init(oc) : "";
    c_.w.line("{} {}[{}] = {};", loop(q, L), acc_, q, init.empty() ? "0" : init);
    const int64_t taps = g_.KH * g_.KW;
    if (g_.KW <= kMaxFusedTaps) {
      // One pass per kernel row, its taps fused: acc[q] += sum_kw w * src[q + off].
      // (All taps in one pass would need more registers than SSE has.)
      std::string wt = c_.var("w");
      c_.w.line("const {}* {} = {} + {} * {};", T_, wt, c_.in(s_.w_in), oc, taps);
      for (int64_t kh_ = 0; kh_ < g_.KH; ++kh_) {
        std::string sum;
        for (int64_t kw_ = 0; kw_ < g_.KW; ++kw_) {
          const int64_t off = kh_ * g_.DH * PW + kw_ * g_.DW;
          sum += fmt::format("{}{}[{}] * {}[{}{}]", sum.empty() ? "" : " + ", wt, kh_ * g_.KW + kw_, src, q,
                             off ? fmt::format(" + {}", off) : "");
        }
        c_.w.line("{} {}[{}] += {};", loop(q, L), acc_, q, sum);
      }
    } else {
      c_.w.open("{} {} {{", loop(kh, g_.KH), loop(kw, g_.KW));
      c_.w.line("const {} {} = {}[{} * {} + {} * {} + {}];", T_, wv, c_.in(s_.w_in), oc, taps, kh, g_.KW, kw);
      c_.w.line("const {}* {} = {} + {} * {} + {} * {};", T_, sp, src, kh, g_.DH * PW, kw, g_.DW);
      c_.w.line("{} {}[{}] += {} * {}[{}];", loop(q, L), acc_, q, wv, sp, q);
      c_.w.close();
    }
    store_rows("0", g_.OH, oc, PW);
    c_.w.close();
    c_.w.close();
    return Status::ok();
  }

 private:
  // col[q][rr * OW + ow] for q = (ic, kh, kw): X at the tap's position, 0 in
  // the padding; valid column ranges per tap, so the copy loop has no test.
  void im2col(const std::string& oh0, int64_t rows, int64_t cin_g) {
    const int64_t NB = rows * g_.OW;
    const bool h_in = always_inside(g_.H, g_.OH, g_.KH, g_.SH, g_.DH, g_.PT);
    const bool w_in = always_inside(g_.W, g_.OW, g_.KW, g_.SW, g_.DW, g_.PL);
    std::string ic = c_.var("ic"), kh = c_.var("kh"), kw = c_.var("kw"), rr = c_.var("r"), ow = c_.var("ow"),
                xp = c_.var("xp"), d = c_.var("d"), ih = c_.var("ih");
    c_.w.open("{} {{", loop(ic, cin_g));
    c_.w.line("const {}* {} = {} + ({} * {} + {} * {} + {}) * {};", T_, xp, c_.in(s_.x_in), n_, s_.p.c_in,
              grp_, cin_g, ic, g_.H * g_.W);
    c_.w.open("{} {} {{", loop(kh, g_.KH), loop(kw, g_.KW));
    c_.w.line("{}* {} = {} + (({} * {} + {}) * {} + {}) * {};", T_, d, col_, ic, g_.KH, kh, g_.KW, kw, NB);
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

  // Output rows [oh0, oh0 + rows) of every channel of the group:
  // acc[j] = init + sum_q W[oc, q] * B[q * ldb + j], for kOcBlock channels
  // and kQBlock values of q per pass over j (each B element loaded once per
  // block of channels, each accumulator once per block of q).
  void gemm_block(const std::string& oh0, int64_t rows, const std::string& b, int64_t ldb, int64_t K,
                  int64_t cout_g) {
    const int64_t m_full = cout_g / kOcBlock * kOcBlock;
    if (m_full > 0) {
      std::string o0 = c_.var("oc");
      c_.w.open("for (int32_t {0} = 0; {0} < {1}; {0} += {2}) {{", o0, m_full, kOcBlock);
      channel_block(oh0, rows, b, ldb, K, cout_g, o0, kOcBlock);
      c_.w.close();
    }
    if (cout_g > m_full) {
      c_.w.open("{{");
      channel_block(oh0, rows, b, ldb, K, cout_g, std::to_string(m_full), cout_g - m_full);
      c_.w.close();
    }
  }

  void channel_block(const std::string& oh0, int64_t rows, const std::string& b, int64_t ldb, int64_t K,
                     int64_t cout_g, const std::string& o0, int64_t mr) {
    const int64_t NB = rows * g_.OW, P = pitch(NB), k_full = K / kQBlock * kQBlock;
    std::string q = c_.var("q"), j = c_.var("j"), br = c_.var("br");
    std::vector<std::string> oc, wr, a;
    for (int64_t r = 0; r < mr; ++r) {
      std::string local = r ? fmt::format("{} + {}", o0, r) : o0;
      oc.push_back(s_.p.group == 1 ? "(" + local + ")" : fmt::format("({} * {} + {})", grp_, cout_g, local));
      wr.push_back(c_.var("wr"));
      a.push_back(r ? fmt::format("{}[{} + {}]", acc_, r * P, j) : fmt::format("{}[{}]", acc_, j));
      std::string init = s_.init ? s_.init(oc[r]) : "";
      c_.w.line("{} {} = {};", loop(j, NB), a[r], init.empty() ? "0" : init);
    }
    if (k_full > 0) {
      c_.w.open("for (int32_t {0} = 0; {0} < {1}; {0} += {2}) {{", q, k_full, kQBlock);
      // The block's weights as locals: kept in registers across the j loop.
      for (int64_t r = 0; r < mr; ++r)
        for (int64_t k = 0; k < kQBlock; ++k)
          c_.w.line("const {} {}_{} = {}[{} * {} + {} + {}];", T_, wr[r], k, c_.in(s_.w_in), oc[r], K, q, k);
      c_.w.line("const {}* {} = {} + {} * {};", T_, br, b, q, ldb);
      c_.w.open("{} {{", loop(j, NB));
      std::vector<std::string> xv;
      for (int64_t k = 0; k < kQBlock; ++k) {
        xv.push_back(c_.var("x"));
        c_.w.line("const {} {} = {}[{}{}];", T_, xv[k], br, k ? fmt::format("{} + ", k * ldb) : "", j);
      }
      std::string s = c_.var("s");
      for (int64_t r = 0; r < mr; ++r) {
        std::string sum;
        for (int64_t k = 0; k < kQBlock; ++k) sum += fmt::format(" + {}_{} * {}", wr[r], k, xv[k]);
        c_.w.line("{} = {}{};", a[r], a[r], sum);
      }
      c_.w.close();
      c_.w.close();
    }
    if (K > k_full) {
      c_.w.open("for (int32_t {0} = {1}; {0} < {2}; ++{0}) {{", q, k_full, K);
      c_.w.line("const {}* {} = {} + {} * {};", T_, br, b, q, ldb);
      for (int64_t r = 0; r < mr; ++r)
        c_.w.line("{} {} += {}[{} * {} + {}] * {}[{}];", loop(j, NB), a[r], c_.in(s_.w_in), oc[r], K, q, br,
                  j);
      c_.w.close();
    }
    for (int64_t r = 0; r < mr; ++r) store_rows(oh0, rows, oc[r], g_.OW, r * P);
  }

  // store() of output rows [oh0, oh0 + rows) of channel oc from acc with row pitch `pitch`.
  void store_rows(const std::string& oh0, int64_t rows, const std::string& oc, int64_t pitch,
                  int64_t base = 0) {
    const std::string b = base ? fmt::format("{} + ", base) : "";
    std::vector<std::string> idx = {n_, oc};
    std::string a, oh, ow;
    if (pitch == g_.OW) {
      // Contiguous rows: one flat loop (the epilogue vectorises over it).
      std::string j = c_.var("j");
      c_.w.open("{} {{", loop(j, rows * g_.OW));
      a = fmt::format("{}[{}{}]", acc_, b, j);
      oh = fmt::format("{}{} / {}", oh0 == "0" ? "" : oh0 + " + ", j, g_.OW);
      ow = fmt::format("{} % {}", j, g_.OW);
      std::string flat = fmt::format("({} * {} + {}) * {} + {}{}", n_, s_.p.c_out, oc, g_.OH * g_.OW,
                                     oh0 == "0" ? "" : fmt::format("{} * {} + ", oh0, g_.OW), j);
      if (s_.p.w.rank() == 2) idx.push_back(oh);
      idx.push_back(ow);
      c_.store(0, idx, s_.finish ? s_.finish(a, oc) : a, flat);
      c_.w.close();
      return;
    }
    std::string rr = c_.var("r");
    ow = c_.var("ow");
    c_.w.open("{} {} {{", loop(rr, rows), loop(ow, g_.OW));
    oh = oh0 == "0" ? rr : fmt::format("{} + {}", oh0, rr);
    a = fmt::format("{}[{}{} * {} + {}]", acc_, b, rr, pitch, ow);
    if (s_.p.w.rank() == 2) idx.push_back(oh);
    idx.push_back(ow);
    std::string flat =
        fmt::format("(({} * {} + {}) * {} + {}) * {} + {}", n_, s_.p.c_out, oc, g_.OH, oh, g_.OW, ow);
    c_.store(0, idx, s_.finish ? s_.finish(a, oc) : a, flat);
    c_.w.close();
  }

  CEmitContext& c_;
  const ConvEmitSpec& s_;
  Plane g_;
  std::string T_, acc_, col_, n_, grp_;
};

}  // namespace

bool conv_gemm_applies(const CEmitContext& c, const ConvEmitSpec& s) {
  const size_t r = s.p.w.rank();
  return !s.transposed && (r == 1 || r == 2) && is_float(s.acc) && !s.x_value && !s.w_value &&
         c.input_dtype(s.x_in) == s.acc && c.input_dtype(s.w_in) == s.acc;
}

bool conv_depthwise_flat_applies(const ConvEmitSpec& s) {
  for (int64_t st : s.p.w.strides)
    if (st != 1) return false;
  return s.p.c_in == s.p.group && s.p.c_in > 1;
}

Status emit_conv_im2col(CEmitContext& c, const ConvEmitSpec& s) { return ConvGemmWriter(c, s).im2col_gemm(); }
Status emit_conv_depthwise_flat(CEmitContext& c, const ConvEmitSpec& s) {
  return ConvGemmWriter(c, s).depthwise_flat();
}

}  // namespace weec::nn
