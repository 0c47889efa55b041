// C emission of QConv (see qconv.cc), after the float strategies of
// conv_gemm_emit.cc, for 1-D and 2-D convolutions (1-D as height 1):
//  * im2col + GEMM: blocks of output rows are unfolded into a scratch matrix
//    col[C/group * kh * kw][positions] of X's own 8-bit type (no copy for a
//    1x1, stride-1, unpadded conv: X is that matrix); then per block of 4
//    output channels and 4 rows of col, acc[j] += w * (int32)col[j] over the
//    positions: int8 -> int32 multiply-accumulates that gcc vectorises.
//  * flat depthwise (one input channel per group, stride 1): X padded into a
//    scratch plane of pitch PW, so each kernel tap is one contiguous loop.
// The zero point is folded at compile time when W (and B) are constants:
//   sum (x - x_zp) * w = sum x * w - x_zp * sum w,
// so padding is filled with x_zp (it then contributes exactly 0) and the
// bias becomes B - x_zp * sum w. Otherwise col holds int16 (x - x_zp) and
// padding 0. Accumulators are int32 where a compile-time bound
// (|bias| + sum |w| * max |x|) proves no partial sum can overflow, else
// int64, saturated to int32 before the rescaling (as the kernel does).
#include "ops/qop_util.h"

namespace weec::qop {

namespace {

constexpr int64_t kColBudget = 4096, kMinBlock = 64, kMaxFusedTaps = 8, kOcBlock = 4, kQBlock = 4;

// A 1-D or 2-D window seen as 2-D.
struct Plane {
  int64_t H, W, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, OH, OW;
};

Plane plane_of(const nn::Window& w) {
  const size_t r = w.rank();
  auto at = [&](const Dims& d, int64_t one) { return r == 2 ? d[0] : one; };
  return {at(w.in, 1),      w.in[r - 1],        at(w.kernel, 1),    w.kernel[r - 1],    at(w.strides, 1),
          w.strides[r - 1], at(w.dilations, 1), w.dilations[r - 1], at(w.pad_begin, 0), w.pad_begin[r - 1],
          at(w.pad_end, 0), w.pad_end[r - 1],   at(w.out, 1),       w.out[r - 1]};
}

bool always_inside(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pad) {
  return pad <= 0 && (out - 1) * s + (k - 1) * d - pad <= in - 1;
}

std::string loop(const std::string& v, const std::string& from, const std::string& to) {
  return fmt::format("for (int32_t {0} = {1}; {0} < {2}; ++{0})", v, from, to);
}
std::string loop(const std::string& v, int64_t n) { return loop(v, "0", std::to_string(n)); }
int64_t pitch(int64_t n) { return (n + 15) / 16 * 16; }

class QConvWriter {
 public:
  QConvWriter(CEmitContext& c, const QConvSpec& s) : c_(c), s_(s), g_(plane_of(s.p.w)) {}

  Status run() {
    const nn::ConvProblem& p = s_.p;
    if (p.batch == 0 || p.c_out == 0 || g_.OH * g_.OW == 0) return Status::ok();
    prepare();
    bool strided = g_.SH != 1 || g_.SW != 1;
    if (p.c_in == p.group && p.c_in > 1 && !strided) return depthwise_flat();
    return im2col_gemm();
  }

 private:
  // Folding, the accumulator type, and the per-channel tables.
  void prepare() {
    const nn::ConvProblem& p = s_.p;
    const DType xt = c_.input_dtype(0);
    const Tensor* wc = c_.input_constant(1);
    const Tensor* bc = c_.input_constant(2);
    const bool has_b = c_.has_input(2);
    const int64_t K = p.c_in / p.group * g_.KH * g_.KW;
    fold_ = wc && (!has_b || bc);
    bool fits = true, any_bias = false;
    std::vector<int64_t> bias(p.c_out, 0);
    if (fold_) {
      const IntRange xr = dtype_range(xt);
      const int64_t x_abs = std::max(-xr.lo, xr.hi);
      const int8_t* wp = wc->data<int8_t>();
      for (int64_t oc = 0; oc < p.c_out; ++oc) {
        int64_t sum = 0, abs_sum = 0;
        for (int64_t q = 0; q < K; ++q) sum += wp[oc * K + q], abs_sum += std::abs((int)wp[oc * K + q]);
        bias[oc] = (bc ? bc->data<int32_t>()[oc] : 0) - (int64_t)s_.x_zp * sum;
        fits = fits && std::abs(bias[oc]) + abs_sum * x_abs <= INT32_MAX;
        any_bias = any_bias || bias[oc] != 0;
      }
    } else {
      fits = (has_b ? (int64_t)INT32_MAX + 1 : 0) + K * 128 * max_abs_offset(xt, s_.x_zp) <= INT32_MAX;
    }
    acc_t_ = fits ? DType::I32 : DType::I64;
    A_ = c_type(acc_t_);
    col_t_ = fold_ ? xt : DType::I16;
    C_ = c_type(col_t_);
    X_ = c_type(xt);
    pad_ = fold_ ? std::to_string(s_.x_zp) : "0";
    rt_ = declare_requant_tables(c_, s_.rq);
    if (fold_ && any_bias) bias_table_ = static_table(c_, "bias", acc_t_, bias);
    if (!fold_ && has_b) b_in_ = c_.in(2);
  }

  // A col element from an X element: itself when folded, else x - x_zp.
  std::string col_value(const std::string& x) const {
    return fold_ ? x : fmt::format("({})((int32_t){} - {})", C_, x, s_.x_zp);
  }
  std::string init(const std::string& oc) const {
    if (!bias_table_.empty()) return fmt::format("{}[{}]", bias_table_, oc);
    if (!b_in_.empty()) return fmt::format("({}){}[{}]", A_, b_in_, oc);
    return "0";
  }
  std::string finish(const std::string& acc, const std::string& oc) {
    std::string a = acc_t_ == DType::I32 ? acc : fmt::format("{}({})", sat32_c(c_), acc);
    return requant_c(c_, s_.rq, a, rt_.m0(s_.rq, oc), rt_.shift(s_.rq, oc));
  }

  Status im2col_gemm() {
    const nn::ConvProblem& p = s_.p;
    const int64_t cin_g = p.c_in / p.group, cout_g = p.c_out / p.group, K = cin_g * g_.KH * g_.KW;
    const bool direct = fold_ && g_.KH == 1 && g_.KW == 1 && g_.SH == 1 && g_.SW == 1 && g_.PT == 0 &&
                        g_.PL == 0 && g_.OH == g_.H && g_.OW == g_.W;
    int64_t rows = g_.OH;
    if (!direct) {  // about kColBudget col elements per block, but >= kMinBlock positions
      const int64_t most = std::clamp<int64_t>(
          std::max(kColBudget / std::max<int64_t>(1, K * g_.OW), (kMinBlock + g_.OW - 1) / g_.OW), 1, g_.OH);
      const int64_t blocks = (g_.OH + most - 1) / most;
      rows = (g_.OH + blocks - 1) / blocks;
    }
    acc_ = c_.scratch(acc_t_, std::min(kOcBlock, cout_g) * pitch(rows * g_.OW), "acc");
    if (!direct) col_ = c_.scratch(col_t_, K * rows * g_.OW, "col");
    n_ = c_.var("n");
    c_.w.open("{} {{", loop(n_, p.batch));
    grp_ = p.group > 1 ? c_.var("g") : std::string("0");
    if (p.group > 1) c_.w.open("{} {{", loop(grp_, p.group));
    if (direct) {
      const std::string x_chan =
          fmt::format("{} + ({} * {} + {} * {}) * {}", c_.in(0), n_, p.c_in, grp_, cin_g, g_.H * g_.W);
      gemm_block("0", g_.OH, x_chan, g_.H * g_.W, K, cout_g);
    } else {
      const int64_t full = g_.OH / rows, tail = g_.OH % rows;
      if (full > 0) {
        std::string blk = c_.var("blk"), oh0 = c_.var("oh");
        c_.w.open("{} {{", loop(blk, full));
        c_.w.line("const int32_t {} = {} * {};", oh0, blk, rows);
        im2col(oh0, rows, cin_g);
        gemm_block(oh0, rows, col_, rows * g_.OW, K, cout_g);
        c_.w.close();
      }
      if (tail > 0) {
        c_.w.open("{{");
        im2col(std::to_string(full * rows), tail, cin_g);
        gemm_block(std::to_string(full * rows), tail, col_, tail * g_.OW, K, cout_g);
        c_.w.close();
      }
    }
    if (p.group > 1) c_.w.close();
    c_.w.close();
    return Status::ok();
  }

  // col[(ic, kh, kw)][r * OW + ow] = X at the tap's position, the pad value
  // outside X; per tap the valid column range, so the copy loop has no test.
  void im2col(const std::string& oh0, int64_t rows, int64_t cin_g) {
    const int64_t NB = rows * g_.OW;
    const bool h_in = always_inside(g_.H, g_.OH, g_.KH, g_.SH, g_.DH, g_.PT);
    const bool w_in = always_inside(g_.W, g_.OW, g_.KW, g_.SW, g_.DW, g_.PL);
    std::string ic = c_.var("ic"), kh = c_.var("kh"), kw = c_.var("kw"), rr = c_.var("r"), ow = c_.var("ow"),
                xp = c_.var("xp"), d = c_.var("d"), ih = c_.var("ih");
    c_.w.open("{} {{", loop(ic, cin_g));
    c_.w.line("const {}* {} = {} + ({} * {} + {} * {} + {}) * {};", X_, xp, c_.in(0), n_, s_.p.c_in, grp_,
              cin_g, ic, g_.H * g_.W);
    c_.w.open("{} {} {{", loop(kh, g_.KH), loop(kw, g_.KW));
    c_.w.line("{}* {} = {} + (({} * {} + {}) * {} + {}) * {};", C_, d, col_, ic, g_.KH, kh, g_.KW, kw, NB);
    std::string lo = "0", hi = std::to_string(g_.OW);
    if (!w_in) {  // ow * SW + kw * DW - PL in [0, W)
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
      c_.w.line("{} {} = {};", loop(ow, g_.OW), dr, pad_);
      c_.w.line("continue;");
      c_.w.close();
    }
    if (!w_in) c_.w.line("{} {} = {};", loop(ow, "0", lo), dr, pad_);
    std::string col = g_.SW == 1 ? ow : fmt::format("{} * {}", ow, g_.SW);
    c_.w.line("{} {} = {};", loop(ow, lo, hi), dr,
              col_value(fmt::format("{}[{} * {} + {} + {} * {} - {}]", xp, ih, g_.W, col, kw, g_.DW, g_.PL)));
    if (!w_in) c_.w.line("{} {} = {};", loop(ow, hi, std::to_string(g_.OW)), dr, pad_);
    c_.w.close();
    c_.w.close();
    c_.w.close();
  }

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

  // acc[r][j] = init + sum_q W[oc_r, q] * B[q * ldb + j] for mr channels,
  // kQBlock values of q per pass over j (weights held in locals).
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
      c_.w.line("{} {} = {};", loop(j, NB), a[r], init(oc[r]));
    }
    if (k_full > 0) {
      c_.w.open("for (int32_t {0} = 0; {0} < {1}; {0} += {2}) {{", q, k_full, kQBlock);
      for (int64_t r = 0; r < mr; ++r)
        for (int64_t k = 0; k < kQBlock; ++k)
          c_.w.line("const {} {}_{} = {}[{} * {} + {} + {}];", A_, wr[r], k, c_.in(1), oc[r], K, q, k);
      c_.w.line("const {}* {} = {} + {} * {};", C_, br, b, q, ldb);
      c_.w.open("{} {{", loop(j, NB));
      std::vector<std::string> xv;
      for (int64_t k = 0; k < kQBlock; ++k) {
        xv.push_back(c_.var("x"));
        c_.w.line("const {} {} = {}[{}{}];", A_, xv[k], br, k ? fmt::format("{} + ", k * ldb) : "", j);
      }
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
      c_.w.line("const {}* {} = {} + {} * {};", C_, br, b, q, ldb);
      for (int64_t r = 0; r < mr; ++r)
        c_.w.line("{} {} += ({}){}[{} * {} + {}] * {}[{}];", loop(j, NB), a[r], A_, c_.in(1), oc[r], K, q, br,
                  j);
      c_.w.close();
    }
    for (int64_t r = 0; r < mr; ++r) store_rows(oh0, rows, oc[r], g_.OW, r * P);
  }

  Status depthwise_flat() {
    const nn::ConvProblem& p = s_.p;
    const int64_t mult = p.c_out / p.group, taps = g_.KH * g_.KW;
    const int64_t PH = g_.H + g_.PT + g_.PB, PW = g_.W + g_.PL + g_.PR, L = (g_.OH - 1) * PW + g_.OW;
    const bool copy = PH != g_.H || PW != g_.W || !fold_;
    acc_ = c_.scratch(acc_t_, L, "acc");
    std::string xpad = copy ? c_.scratch(col_t_, PH * PW, "xpad") : "";
    std::string i = c_.var("i"), ch = c_.var("ch"), m = c_.var("m"), q = c_.var("q"), src = c_.var("src"),
                wt = c_.var("w");
    n_ = c_.var("n");
    if (copy) c_.w.line("{} {}[{}] = {};", loop(i, PH * PW), xpad, i, pad_);  // borders keep the pad value
    c_.w.open("{} {}{{", loop(n_, p.batch), loop(ch, p.c_in));
    const std::string xp = fmt::format("{} + ({} * {} + {}) * {}", c_.in(0), n_, p.c_in, ch, g_.H * g_.W);
    if (copy) {
      std::string ih = c_.var("ih"), iw = c_.var("iw");
      c_.w.line("{} {} {}[({} + {}) * {} + {} + {}] = {};", loop(ih, g_.H), loop(iw, g_.W), xpad, ih, g_.PT,
                PW, iw, g_.PL, col_value(fmt::format("({})[{} * {} + {}]", xp, ih, g_.W, iw)));
      c_.w.line("const {}* {} = {};", C_, src, xpad);
    } else {
      c_.w.line("const {}* {} = {};", C_, src, xp);
    }
    c_.w.open("{} {{", loop(m, mult));
    std::string oc = mult == 1 ? ch : fmt::format("({} * {} + {})", ch, mult, m);
    c_.w.line("{} {}[{}] = {};", loop(q, L), acc_, q, init(oc));
    c_.w.line("const int8_t* {} = {} + {} * {};", wt, c_.in(1), oc, taps);
    if (g_.KW <= kMaxFusedTaps) {  // one pass per kernel row, its taps fused
      for (int64_t kh = 0; kh < g_.KH; ++kh) {
        std::string sum;
        for (int64_t kw = 0; kw < g_.KW; ++kw) {
          const int64_t off = kh * g_.DH * PW + kw * g_.DW;
          sum += fmt::format("{}({}){}[{}] * {}[{}{}]", sum.empty() ? "" : " + ", A_, wt, kh * g_.KW + kw,
                             src, q, off ? fmt::format(" + {}", off) : "");
        }
        c_.w.line("{} {}[{}] += {};", loop(q, L), acc_, q, sum);
      }
    } else {
      std::string kh = c_.var("kh"), kw = c_.var("kw"), wv = c_.var("wv"), sp = c_.var("sp");
      c_.w.open("{} {} {{", loop(kh, g_.KH), loop(kw, g_.KW));
      c_.w.line("const {} {} = {}[{} * {} + {}];", A_, wv, wt, kh, g_.KW, kw);
      c_.w.line("const {}* {} = {} + {} * {} + {} * {};", C_, sp, src, kh, g_.DH * PW, kw, g_.DW);
      c_.w.line("{} {}[{}] += {} * {}[{}];", loop(q, L), acc_, q, wv, sp, q);
      c_.w.close();
    }
    store_rows("0", g_.OH, oc, PW);
    c_.w.close();
    c_.w.close();
    return Status::ok();
  }

  // store() of output rows [oh0, oh0 + rows) of channel oc from acc (row pitch `row_pitch`).
  void store_rows(const std::string& oh0, int64_t rows, const std::string& oc, int64_t row_pitch,
                  int64_t base = 0) {
    const std::string b = base ? fmt::format("{} + ", base) : "";
    std::vector<std::string> idx = {n_, oc};
    const bool two_d = s_.p.w.rank() == 2;
    if (row_pitch == g_.OW) {  // contiguous rows: one flat loop
      std::string j = c_.var("j");
      c_.w.open("{} {{", loop(j, rows * g_.OW));
      if (two_d) idx.push_back(fmt::format("{}{} / {}", oh0 == "0" ? "" : oh0 + " + ", j, g_.OW));
      idx.push_back(fmt::format("{} % {}", j, g_.OW));
      std::string flat = fmt::format("({} * {} + {}) * {} + {}{}", n_, s_.p.c_out, oc, g_.OH * g_.OW,
                                     oh0 == "0" ? "" : fmt::format("{} * {} + ", oh0, g_.OW), j);
      c_.store(0, idx, finish(fmt::format("{}[{}{}]", acc_, b, j), oc), flat);
      c_.w.close();
      return;
    }
    std::string rr = c_.var("r"), ow = c_.var("ow");
    c_.w.open("{} {} {{", loop(rr, rows), loop(ow, g_.OW));
    std::string oh = oh0 == "0" ? rr : fmt::format("{} + {}", oh0, rr);
    if (two_d) idx.push_back(oh);
    idx.push_back(ow);
    std::string flat =
        fmt::format("(({} * {} + {}) * {} + {}) * {} + {}", n_, s_.p.c_out, oc, g_.OH, oh, g_.OW, ow);
    c_.store(0, idx, finish(fmt::format("{}[{}{} * {} + {}]", acc_, b, rr, row_pitch, ow), oc), flat);
    c_.w.close();
  }

  CEmitContext& c_;
  const QConvSpec& s_;
  Plane g_;
  bool fold_ = false;
  DType acc_t_ = DType::I32, col_t_ = DType::I8;
  std::string A_, C_, X_, pad_, bias_table_, b_in_, acc_, col_, n_, grp_;
  RequantC rt_;
};

}  // namespace

Status emit_qconv(CEmitContext& c, const QConvSpec& s) { return QConvWriter(c, s).run(); }

}  // namespace weec::qop
