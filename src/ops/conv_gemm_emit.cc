// Float 1-D/2-D convolutions as GEMMs through the shared weec_sgemm helper
// (simd_gemm_emit.cc), per group: C[oc][q] = sum_k W[oc][k] * B[k][q] over
// output positions q. B's row k = (ic, kh, kw) is never materialised for a
// stride-1 conv: it is an input plane read at tap offset toff[kh, kw].
//  * No padding: the plane is X itself (pitch W). Output (oh, ow) is
//    q = oh*W + ow, so a GEMM row is one run of (OH - 1)*W + OW positions;
//    with KW > 1 the pitch's last columns are computed and dropped. A 1x1
//    conv is a plain GEMM on X.
//  * "Same" width (OW = W): X's rows with zero rows above and below, one
//    copy per horizontal tap shift s = kw*DW - PL, pitch W. A tap that
//    reaches past a row's end would wrap into the next row, so each copy
//    has the columns only such reads touch zeroed (s < 0: the last -s, s > 0:
//    the first s). q = oh*W + ow covers exactly the output.
//  * Otherwise: one zero-bordered copy of pitch PW = W + PL + PR, the extra
//    columns dropped when stored.
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

constexpr int64_t kAccBudget = 8192, kColBudget = 8192, kMinBlock = 64, kCopyChunk = 16;

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

class ConvGemmWriter {
 public:
  ConvGemmWriter(CEmitContext& c, const ConvEmitSpec& s)
      : c_(c), s_(s), g_(plane_of(s.p.w)), cin_g_(s.p.c_in / s.p.group), cout_g_(s.p.c_out / s.p.group) {}

  // False (nothing emitted) when a block of one output row needs more scratch than the budgets.
  bool run() {
    choose_layout();
    direct_ = pitch_ == g_.OW && gemm_output_writable_early(c_);
    // Rows per block: the most that fit the budgets.
    int64_t most = g_.OH;
    auto fits = [&](int64_t r) {
      return (direct_ || cout_g_ * pitch((r - 1) * pitch_ + g_.OW) <= kAccBudget) &&
             input_floats(r) <= kColBudget;
    };
    while (most > 1 && !fits(most)) --most;
    if (!fits(most)) {
      if (layout_ != Layout::Im2col || !direct_) return false;
      most = std::min<int64_t>(g_.OH, (kMinBlock + g_.OW - 1) / g_.OW);  // im2col straight into Y
    }
    rows_ = block_rows(g_.OH, most);
    const bool one_block = rows_ == g_.OH;
    T_ = c_type(s_.acc);
    if (!direct_) acc_ = c_.scratch(s_.acc, cout_g_ * pitch((rows_ - 1) * pitch_ + g_.OW), "acc");
    if (input_floats(rows_) > 0)
      in_ = c_.scratch(s_.acc, input_floats(rows_), layout_ == Layout::Im2col ? "col" : "xpad");
    gemm_ = sgemm_helper(c_);
    std::vector<int64_t> taps;
    for (int64_t kh = 0; kh < g_.KH; ++kh)
      for (int64_t kw = 0; kw < g_.KW; ++kw) {
        if (layout_ == Layout::Shifted)
          taps.push_back(kw * copy_floats() + margin_ + kh * g_.DH * g_.W + kw * g_.DW - g_.PL);
        else if (layout_ != Layout::Im2col)
          taps.push_back(kh * g_.DH * pitch_ + kw * g_.DW);
      }
    taps_ = tap_offsets(c_, layout_ == Layout::Im2col ? std::vector<int64_t>{0} : taps);
    std::string i = c_.var("i");
    if (one_block && (layout_ == Layout::Pitched || layout_ == Layout::Shifted))
      c_.w.line("{} {}[{}] = 0;", loop(i, input_floats(rows_)), in_, i);  // the borders stay zero
    n_ = c_.var("n");
    c_.w.open("{} {{", loop(n_, s_.p.batch));
    grp_ = s_.p.group > 1 ? c_.var("g") : std::string("0");
    if (s_.p.group > 1) c_.w.open("{} {{", loop(grp_, s_.p.group));
    const int64_t full = g_.OH / rows_, tail = g_.OH % rows_;
    if (one_block) {
      block("0", rows_, true);
    } else {
      if (full > 0) {
        std::string blk = c_.var("blk"), oh0 = c_.var("oh");
        c_.w.open("{} {{", loop(blk, full));
        c_.w.line("const int32_t {} = {} * {};", oh0, blk, rows_);
        block(oh0, rows_, false);
        c_.w.close();
      }
      if (tail > 0) {
        c_.w.open("{{");
        block(std::to_string(full * rows_), tail, false);
        c_.w.close();
      }
    }
    if (s_.p.group > 1) c_.w.close();
    c_.w.close();
    return true;
  }

 private:
  enum class Layout { X, Shifted, Pitched, Im2col };

  void choose_layout() {
    halo_ = (g_.KH - 1) * g_.DH;
    if (g_.SH != 1 || g_.SW != 1) {
      layout_ = Layout::Im2col;
      pitch_ = g_.OW;
      halo_ = 0;
    } else if (!g_.PT && !g_.PB && !g_.PL && !g_.PR) {
      layout_ = Layout::X;
      pitch_ = g_.W;
    } else if (g_.OW == g_.W && g_.PL < g_.W && g_.PR < g_.W) {
      layout_ = Layout::Shifted;
      pitch_ = g_.W;
      margin_ = std::max(g_.PL, g_.PR);
    } else {
      layout_ = Layout::Pitched;
      pitch_ = g_.W + g_.PL + g_.PR;
    }
  }

  // Floats of one shifted copy of an input channel (blocks of rows_ rows),
  // with `margin_` zeros at both ends for the wrapped reads of the first and last rows.
  int64_t copy_floats() const { return 2 * margin_ + (rows_ + halo_) * g_.W; }

  // Input scratch of a block of r output rows.
  int64_t input_floats(int64_t r) const {
    switch (layout_) {
      case Layout::X:
        return 0;
      case Layout::Shifted:
        return cin_g_ * g_.KW * (2 * margin_ + (r + halo_) * g_.W);
      case Layout::Pitched:
        return cin_g_ * (r + halo_) * pitch_;
      case Layout::Im2col:
        return cin_g_ * g_.KH * g_.KW * r * g_.OW;
    }
    return 0;
  }

  // Output rows [oh0, oh0 + rows) of the group's channels.
  void block(const std::string& oh0, int64_t rows, bool one_block) {
    const int64_t K = cin_g_ * g_.KH * g_.KW, HW = g_.H * g_.W, N = (rows - 1) * pitch_ + g_.OW;
    const std::string x_chan =
        fmt::format("{} + ({} * {} + {} * {}) * {}", c_.in(s_.x_in), n_, s_.p.c_in, grp_, cin_g_, HW);
    if (!one_block && (layout_ == Layout::Pitched || layout_ == Layout::Shifted)) {
      std::string i = c_.var("i");
      c_.w.line("{} {}[{}] = 0;", loop(i, input_floats(rows_)), in_, i);
    }
    std::string b = in_, nc = std::to_string(cin_g_), nt = std::to_string(g_.KH * g_.KW), ldb;
    switch (layout_) {
      case Layout::X:
        b = oh0 == "0" ? x_chan : fmt::format("{} + {} * {}", x_chan, oh0, g_.W);
        ldb = std::to_string(HW);
        break;
      case Layout::Shifted:
        copy_rows(x_chan, oh0, rows);
        ldb = std::to_string(g_.KW * copy_floats());
        break;
      case Layout::Pitched:
        copy_rows(x_chan, oh0, rows);
        ldb = std::to_string((rows_ + halo_) * pitch_);
        break;
      case Layout::Im2col:
        im2col(oh0, rows);
        nc = std::to_string(K);
        nt = "1";
        ldb = std::to_string(rows * g_.OW);
        break;
    }
    const int64_t plane = g_.OH * g_.OW;
    const std::string y_rows =
        fmt::format("{} + ({} * {} + {} * {}) * {}{}", c_.out(0), n_, s_.p.c_out, grp_, cout_g_, plane,
                    oh0 == "0" ? "" : fmt::format(" + {} * {}", oh0, g_.OW));
    const int64_t acc_pitch = pitch((rows_ - 1) * pitch_ + g_.OW);
    c_.w.line("{}({}, {}, {}, {}, {} + {} * {}, {}, {}, {}, {}, {}, {});", gemm_, cout_g_, N, nc, nt,
              c_.in(s_.w_in), grp_, cout_g_ * K, K, b, ldb, taps_, direct_ ? y_rows : acc_,
              direct_ ? plane : acc_pitch);
    store_rows(oh0, rows, acc_pitch);
  }

  // dst[0, n) = src[0, n) in chunks of kCopyChunk, the last one moved back
  // to end at n (gcc turns one plain copy loop into an inline "rep movs",
  // slow to start for a few hundred bytes, and a scalar tail is slow too).
  void copy_run(const std::string& dst, const std::string& src, const std::string& count) {
    std::string n = c_.var("n"), k = c_.var("k"), j = c_.var("j"), d = c_.var("d"), s = c_.var("s");
    c_.w.open("{{");
    c_.w.line("const int32_t {} = {};", n, count);
    c_.w.line("{}* {} = {};", T_, d, dst);
    c_.w.line("const {}* {} = {};", T_, s, src);
    c_.w.line("int32_t {};", k);
    c_.w.line("for ({0} = 0; {0} + {1} <= {2}; {0} += {1}) {3} {4}[{0} + {5}] = {6}[{0} + {5}];", k,
              kCopyChunk, n, loop(j, kCopyChunk), d, j, s);
    c_.w.line("if ({0} % {1} && {0} >= {1}) {2} {3}[{0} - {1} + {4}] = {5}[{0} - {1} + {4}];", n, kCopyChunk,
              loop(j, kCopyChunk), d, j, s);
    c_.w.line("else {} {}[{}] = {}[{}];", loop(j, fmt::format("{} / {} * {}", n, kCopyChunk, kCopyChunk), n),
              d, j, s, j);
    c_.w.close();
  }

  // The group's input channels, X rows oh0 + r - PT for the block's padded
  // rows r in [0, rows + halo) that lie inside X, into the zeroed scratch:
  // at column PL of pitch PW (Pitched), or whole rows into every shifted
  // copy, whose masked columns are then zeroed again (Shifted).
  void copy_rows(const std::string& x_chan, const std::string& oh0, int64_t rows) {
    const int64_t used = rows + halo_;
    std::string ic = c_.var("ic"), r = c_.var("r"), iw = c_.var("iw"), lo, hi;
    if (oh0 == "0") {
      lo = std::to_string(std::min(g_.PT, used));
      hi = std::to_string(std::max<int64_t>(0, std::min(used, g_.H + g_.PT)));
    } else {
      lo = c_.var("lo");
      hi = c_.var("hi");
      c_.w.line("const int32_t {0} = {1} - {2} > 0 ? {1} - {2} : 0;", lo, g_.PT, oh0);
      c_.w.line("const int32_t {0} = {1} - {2} < {3} ? {1} - {2} : {3};", hi, g_.H + g_.PT, oh0, used);
    }
    const std::string src =
        fmt::format("({})[{} * {} + ({} - {}) * {}", x_chan, ic, g_.H * g_.W, oh0, g_.PT, g_.W);
    const std::string src_row0 =
        fmt::format("{} + {} * {} + ({} - {}) * {}", x_chan, ic, g_.H * g_.W, oh0, g_.PT, g_.W);
    if (layout_ == Layout::Pitched) {
      c_.w.line("{} {} {} {}[({} * {} + {}) * {} + {} + {}] = {} + {} * {} + {}];", loop(ic, cin_g_),
                loop(r, lo, hi), loop(iw, g_.W), in_, ic, rows_ + halo_, r, pitch_, g_.PL, iw, src, r, g_.W,
                iw);
      return;
    }
    // One copy per kw, unrolled here so each masks literal columns (a loop
    // over a variable column range would become a memset call per row).
    c_.w.open("{} {{", loop(ic, cin_g_));
    for (int64_t kw = 0; kw < g_.KW; ++kw) {
      const int64_t shift = kw * g_.DW - g_.PL;
      const std::string d =
          fmt::format("({} + ({} * {} + {}) * {} + {})", in_, ic, g_.KW, kw, copy_floats(), margin_);
      copy_run(fmt::format("{} + {} * {}", d, lo, g_.W), fmt::format("{} + {} * {}", src_row0, lo, g_.W),
               fmt::format("({} - {}) * {}", hi, lo, g_.W));
      // Columns [c0, c1) are reached only by reads that wrap around a row end.
      const int64_t c0 = shift < 0 ? g_.W + shift : 0, c1 = shift < 0 ? g_.W : shift;
      for (int64_t col = c0; col < c1 && c1 - c0 <= 4; ++col)
        c_.w.line("{} {}[{} * {} + {}] = 0;", loop(r, lo, hi), d, r, g_.W, col);
      if (c1 - c0 > 4)
        c_.w.line("{} {} {}[{} * {} + {}] = 0;", loop(r, lo, hi),
                  loop(iw, std::to_string(c0), std::to_string(c1)), d, r, g_.W, iw);
    }
    c_.w.close();
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
    if (pitch_ == g_.OW) {
      // Contiguous rows: one flat loop (the epilogue vectorises over it).
      std::string j = c_.var("j");
      c_.w.open("{} {{", loop(j, rows * g_.OW));
      flat = fmt::format("({} * {} + {}) * {} + {}{}", n_, s_.p.c_out, oc, g_.OH * g_.OW, oh_off, j);
      a = direct_ ? fmt::format("{}[{}]", c_.out(0), flat)
                  : fmt::format("{}[{} * {} + {}]", acc_, ocl, acc_pitch, j);
      if (s_.p.w.rank() == 2)
        idx.push_back(fmt::format("{}{} / {}", oh0 == "0" ? "" : oh0 + " + ", j, g_.OW));
      idx.push_back(fmt::format("{} % {}", j, g_.OW));
    } else {
      std::string rr = c_.var("r"), ow = c_.var("ow");
      c_.w.open("{} {} {{", loop(rr, rows), loop(ow, g_.OW));
      std::string oh = oh0 == "0" ? rr : fmt::format("{} + {}", oh0, rr);
      a = fmt::format("{}[{} * {} + {} * {} + {}]", acc_, ocl, acc_pitch, rr, pitch_, ow);
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
  int64_t cin_g_, cout_g_, pitch_ = 0, halo_ = 0, margin_ = 0, rows_ = 0;
  Layout layout_ = Layout::X;
  bool direct_ = false;
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
