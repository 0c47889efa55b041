// C emission of QConv (see qconv.cc), 1-D and 2-D (1-D as height 1). Each
// group is a GEMM over blocks of output positions j,
//   acc[oc][j] = sum_{q < K} W[oc][q] * B[off(q) + j]     (K = C/group * kh * kw)
// with B and off(q) from one of four sources:
//  * direct (stride 1, no padding): X's planes; j = r * W + ow, and tap
//    (ic, kh, kw) is at ic * H * W + kh * DH * W + kw * DW. Columns ow >= OW
//    are computed (they read inside X), then dropped before the rescale.
//  * padded (stride 1, padding): the same over a scratch copy of the group's
//    planes, pitch PW, whose border holds x_zero_point.
//  * plane16 (stride 1, one input channel per group: depthwise, or a first
//    layer on a 1-channel image; kernel columns not dilated): that copy as
//    int16, where the AVX2 kernel reads the pair of horizontally adjacent
//    taps (kw, kw + 1) of 8 columns as one 32-bit load each.
//  * im2col (strided): per block of output rows, col[q][NB] holds X at tap q
//    of every position (x_zero_point outside X, qconv_im2col_emit.cc);
//    off(q) = q * NB.
// Blocks of output rows keep acc (6 channels x <= 256 int32) and col
// (<= 4 KiB) within a small microcontroller's arena. Per block of 6 output
// channels the GEMM is the AVX2 kernel of q8_avx2_emit.cc where the CPU has
// it (weights packed at compile time, as tables only AVX2 builds carry),
// else plain C loops; likewise the rescale, in place in acc (one
// weec_q8_finish call per block); then store() writes the outputs (a fused
// epilogue applies there).
// With constant W (and B) the zero point is folded into the bias,
//   sum (x - x_zp) * w = sum x * w - x_zp * sum w,
// so B holds X's raw values (padding, x_zp, then adds exactly 0); otherwise
// the plain loops subtract it. acc is int32 where a compile-time bound
// (|bias| + sum |w| * max |x|) proves no partial sum can overflow, else
// int64 (plain loops only), saturated to int32 before the rescale as the
// kernel does. W stored as packed 4-bit weights (q4_weights.h) changes only
// the plain loops, which read one weight per tap with weec_q4; the x86
// kernels read their own compile-time copies of W.
#include "ops/q4_weights.h"
#include "ops/qop_util.h"

namespace weec::qop {

namespace {

constexpr int64_t kMr = 6, kMaxPositions = 256, kColBudget = 4096, kMaxPadded = 16384, kSimdMin = 16,
                  kMaxPacked = 32768;

enum class Source { Direct, Padded, Plane16, Im2col };

std::string loop(const std::string& v, const std::string& from, const std::string& to) {
  return fmt::format("for (int32_t {0} = {1}; {0} < {2}; ++{0})", v, from, to);
}
std::string loop(const std::string& v, int64_t n) { return loop(v, "0", std::to_string(n)); }
int64_t pitch16(int64_t n) { return (n + 15) / 16 * 16; }

class QConvWriter {
 public:
  QConvWriter(CEmitContext& c, const QConvSpec& s)
      : c_(c), s_(s), g_(plane_of(s.p.w)), cin_g_(s.p.c_in / s.p.group), cout_g_(s.p.c_out / s.p.group) {}

  Status run() {
    if (s_.p.batch == 0 || s_.p.c_out == 0 || g_.OH * g_.OW == 0) return Status::ok();
    prepare();
    // With AVX-512 VBMI, depthwise has its own kernel; this code is the else.
    const bool vbmi = fold_ && acc_t_ == DType::I32 && emit_q8_depthwise_vbmi(c_, s_, bias_, bound_);
    if (vbmi) c_.w.open("{{");
    plan();
    declare();
    std::string n = c_.var("n");
    n_ = n;
    c_.w.open("{} {{", loop(n_, s_.p.batch));
    grp_ = s_.p.group > 1 ? c_.var("g") : std::string("0");
    if (s_.p.group > 1) c_.w.open("{} {{", loop(grp_, s_.p.group));
    if (src_ == Source::Padded || src_ == Source::Plane16) copy_padded();
    const int64_t full = g_.OH / rows_, tail = g_.OH % rows_;
    if (full > 0) {
      std::string blk = c_.var("blk"), oh0 = c_.var("oh");
      c_.w.open("{} {{", loop(blk, full));
      c_.w.line("const int32_t {} = {} * {};", oh0, blk, rows_);
      block(oh0, rows_);
      c_.w.close();
    }
    if (tail > 0) {
      c_.w.open("{{");
      block(std::to_string(full * rows_), tail);
      c_.w.close();
    }
    if (s_.p.group > 1) c_.w.close();
    c_.w.close();
    if (vbmi) c_.w.close();
    return Status::ok();
  }

 private:
  // Folding, the accumulator type, and whether the AVX2 forms apply.
  void prepare() {
    const DType xt = c_.input_dtype(0);
    const Tensor* wc = c_.input_constant(1);
    const Tensor* bc = c_.input_constant(2);
    const bool has_b = c_.has_input(2);
    K_ = cin_g_ * g_.KH * g_.KW;
    fold_ = wc && (!has_b || bc);
    bool fits = true;
    bias_.assign(s_.p.c_out, 0);
    bound_.assign(s_.p.c_out, INT32_MAX);
    if (fold_) {
      const IntRange xr = dtype_range(xt);
      const int64_t x_abs = std::max(-xr.lo, xr.hi);
      const int8_t* wp = wc->data<int8_t>();
      for (int64_t oc = 0; oc < s_.p.c_out; ++oc) {
        int64_t sum = 0, abs_sum = 0;
        for (int64_t q = 0; q < K_; ++q) sum += wp[oc * K_ + q], abs_sum += std::abs((int)wp[oc * K_ + q]);
        bias_[oc] = (bc ? bc->data<int32_t>()[oc] : 0) - (int64_t)s_.x_zp * sum;
        bound_[oc] = std::abs(bias_[oc]) + abs_sum * x_abs;
        fits = fits && bound_[oc] <= INT32_MAX;
        any_bias_ = any_bias_ || bias_[oc] != 0;
      }
    } else {
      fits = (has_b ? (int64_t)INT32_MAX + 1 : 0) + K_ * 128 * max_abs_offset(xt, s_.x_zp) <= INT32_MAX;
    }
    acc_t_ = fits ? DType::I32 : DType::I64;
    A_ = c_type(acc_t_);
    X_ = c_type(xt);
    simd_ = fold_ && fits;
  }

  // The source of B and the blocks of output rows.
  void plan() {
    const bool strided = g_.SH != 1 || g_.SW != 1, padded = g_.PT || g_.PL || g_.PB || g_.PR;
    const int64_t PH = g_.H + g_.PT + g_.PB, PW = g_.W + g_.PL + g_.PR;
    if (strided)
      src_ = Source::Im2col;
    else if (cin_g_ == 1 && g_.DW == 1 && (PH * PW + kSimdMin) * 2 <= kMaxPadded)
      src_ = Source::Plane16;
    else if (!padded)
      src_ = Source::Direct;
    else
      src_ = cin_g_ * PH * PW <= kMaxPadded ? Source::Padded : Source::Im2col;
    pitch_ = src_ == Source::Direct ? g_.W : src_ == Source::Im2col ? g_.OW : PW;
    B_ = src_ == Source::Plane16 ? "int16_t" : X_;
    plane_ = src_ == Source::Direct ? g_.H * g_.W : PH * PW;
    int64_t most = 1;
    while (most < g_.OH && positions(most + 1) <= kMaxPositions &&
           (src_ != Source::Im2col || K_ * (most + 1) * g_.OW <= kColBudget))
      ++most;
    const int64_t blocks = (g_.OH + most - 1) / most;
    rows_ = (g_.OH + blocks - 1) / blocks;
    ld_ = pitch16(positions(rows_) + 8);  // avx2_finish reads 8 past a row's last column
  }
  int64_t positions(int64_t rows) const { return (rows - 1) * pitch_ + g_.OW; }

  // Tables, scratch, and the CPU test.
  void declare() {
    rt_ = declare_requant_tables(c_, s_.rq);
    if (fold_ && any_bias_) bias_table_ = static_table(c_, "bias", acc_t_, bias_);
    if (!fold_ && c_.has_input(2)) b_in_ = c_.in(2);
    acc_ = c_.scratch(acc_t_, std::min(kMr, cout_g_) * ld_, "acc");
    if (src_ == Source::Im2col) col_ = c_.scratch(c_.input_dtype(0), K_ * rows_ * g_.OW, "col");
    if (src_ == Source::Padded || src_ == Source::Plane16) {
      // The border keeps x_zero_point; copies overwrite the interior. The
      // int16 plane has kSimdMin more elements: the AVX2 pair of a last odd
      // tap reads one past the plane (with weight 0).
      const bool wide = src_ == Source::Plane16;
      const int64_t n = cin_g_ * plane_ + (wide ? kSimdMin : 0);
      col_ = c_.scratch(wide ? DType::I16 : c_.input_dtype(0), n, "xpad");
      std::string i = c_.var("i");
      c_.w.line("{} {}[{}] = {};", loop(i, n), col_, i, s_.x_zp);
    }
    simd_ = simd_ && positions(std::min(rows_, g_.OH)) >= kSimdMin;
    if (!simd_) return;
    const int8_t* w = c_.input_constant(1)->data<int8_t>();
    std::vector<int32_t> roff;
    if (src_ == Source::Plane16) {  // pairs (kw, kw + 1) of each kernel row
      const int64_t half = (g_.KW + 1) / 2;
      std::vector<int8_t> wpad(s_.p.c_out * g_.KH * 2 * half, 0);
      for (int64_t q = 0; q < s_.p.c_out * K_; ++q) wpad[q / g_.KW * 2 * half + q % g_.KW] = w[q];
      for (int64_t kh = 0; kh < g_.KH; ++kh)
        for (int64_t kw = 0; kw < g_.KW; kw += 2) roff.push_back((int32_t)(kh * g_.DH * pitch_ + kw));
      wp_ = avx2_table(c_, "w", pack_pairs(wpad.data(), s_.p.c_out, g_.KH * 2 * half));
      pairs_ = g_.KH * half;
    } else {
      for (int64_t q = 0; q < K_ + K_ % 2; ++q) roff.push_back((int32_t)offset(std::min(q, K_ - 1)));
      wp_ = avx2_table(c_, "w", pack_pairs(w, s_.p.c_out, K_));
      pairs_ = (K_ + 1) / 2;
    }
    roff_ = avx2_table(c_, "roff", roff);
    gemm_ = avx2_gemm(c_, src_ == Source::Plane16 ? DType::I16 : c_.input_dtype(0));
    if (requant_simd_ok(s_.rq)) {  // per-channel tables for the AVX2 rescale, one call per block
      bool add_ok = s_.rq.out != DType::I32;
      std::vector<int32_t> m0, right, bias;
      for (int64_t oc = 0; oc < s_.p.c_out; ++oc) {
        const size_t i = s_.rq.per_channel() ? (size_t)oc : 0;
        add_ok = add_ok && rq_add_ok(bound_[oc], s_.rq.shift[i], s_.rq.zp);
        m0.push_back(s_.rq.m0[i]);
        right.push_back(-s_.rq.shift[i]);
        bias.push_back((int32_t)bias_[oc]);
      }
      fin_ = avx2_finish(c_, add_ok);
      m0_t_ = avx2_table(c_, "m0", m0);
      right_t_ = avx2_table(c_, "right", right);
      if (any_bias_) bias_t_ = avx2_table(c_, "bias", bias);
      declare_vnni(w, add_ok);
    }
    cpu_ = c_.var("simd");
    c_.w.line("#if defined(WEEC_SIMD_AVX2)");
    c_.w.line("const int {} = weec_cpu_avx2_fma();", cpu_);
    c_.w.line("#endif");
    if (vnni_.empty()) return;
    c_.w.line("#if defined(WEEC_SIMD_VNNI)");
    c_.w.line("const int {} = weec_cpu_avx512vnni();", vnni_);
    c_.w.line("#endif");
  }

  // The AVX-512 VNNI form (q8_vnni_emit.cc) where it pays: several output
  // channels per group share each packing of B (not depthwise), and the
  // packed block stays small.
  void declare_vnni(const int8_t* w, bool add_ok) {
    const int64_t k4n = (K_ + 3) / 4, np = pitch16(rows_ * g_.OW);
    if (cout_g_ < 4 || k4n * np * 4 > kMaxPacked) return;
    const DType xt = c_.input_dtype(0);
    std::vector<int32_t> roff, bias;
    for (int64_t q = 0; q < 4 * k4n; ++q) roff.push_back((int32_t)offset(std::min(q, K_ - 1)));
    bool any = false;
    for (int64_t oc = 0; oc < s_.p.c_out; ++oc) {  // int8 X is read as x + 128
      int64_t sum = 0;
      for (int64_t q = 0; q < K_; ++q) sum += w[oc * K_ + q];
      const int64_t b = bias_[oc] - (xt == DType::I8 ? 128 * sum : 0);
      bias.push_back((int32_t)(uint32_t)(uint64_t)b);  // wraps like the kernel's sums: exact where acc fits
      any = any || b != 0;
    }
    vnni_ = c_.var("vnni");
    k4n_ = k4n;
    np_ = np;
    if (any) vbias_ = avx2_table(c_, "vbias", bias, true);
    vroff_ = avx2_table(c_, "vroff", roff, true);
    wq_ = avx2_table(c_, "wq", pack_quads(w, s_.p.c_out, K_), true);
    vconv_ = vnni_conv(c_, add_ok);
    vpack_ = vnni_pack(c_, B_ == "int16_t" ? DType::I16 : xt, xt);
    packed_ = c_.scratch(DType::U8, k4n * np * 4, "packed");
    c_.w.line("(void){}; /* VNNI builds only */", packed_);
  }

  // Offset of tap q in B, relative to a block's first position.
  int64_t offset(int64_t q) const {
    if (src_ == Source::Im2col) return q * rows_ * g_.OW;
    const int64_t ic = q / (g_.KH * g_.KW), kh = q / g_.KW % g_.KH, kw = q % g_.KW;
    return ic * plane_ + kh * g_.DH * pitch_ + kw * g_.DW;
  }

  std::string x_group() const {
    return fmt::format("{} + ({} * {} + {}) * {}", c_.in(0), n_, s_.p.c_in,
                       grp_ == "0" ? "0" : fmt::format("{} * {}", grp_, cin_g_), g_.H * g_.W);
  }

  void copy_padded() {
    const int64_t PW = pitch_, PH = plane_ / PW;
    std::string ic = c_.var("ic"), ih = c_.var("ih"), iw = c_.var("iw"), xg = c_.var("xg");
    // (the int16 plane holds the same raw values, widened)
    c_.w.line("const {}* {} = {};", X_, xg, x_group());
    if (src_ == Source::Plane16 && simd_) {
      c_.w.line("#if defined(WEEC_SIMD_AVX2)");
      c_.w.line("if ({}) {}({}, {}, {}, {} + {}, {}, {}); else", cpu_, avx2_widen(c_, c_.input_dtype(0)), xg,
                g_.H, g_.W, col_, g_.PT * PW + g_.PL, PW, s_.x_zp);
      c_.w.line("#endif");
    }
    c_.w.line("{} {} {} {}[({} * {} + {} + {}) * {} + {} + {}] = {}[({} * {} + {}) * {} + {}];",
              loop(ic, cin_g_), loop(ih, g_.H), loop(iw, g_.W), col_, ic, PH, ih, g_.PT, PW, iw, g_.PL, xg,
              ic, g_.H, ih, g_.W, iw);
  }

  // Output rows [oh0, oh0 + rows).
  void block(const std::string& oh0, int64_t rows) {
    const int64_t L = src_ == Source::Im2col ? rows * g_.OW : positions(rows);
    bb_ = c_.var("bb");
    if (src_ == Source::Im2col) {
      im2col(oh0, rows);
      c_.w.line("const {}* {} = {};", B_, bb_, col_);
    } else {
      const std::string base = src_ == Source::Direct ? x_group() : col_;
      c_.w.line("const {}* {} = {} + {} * {};", B_, bb_, base, oh0, pitch_);
    }
    if (!vnni_.empty()) {
      c_.w.line("#if defined(WEEC_SIMD_VNNI)");
      c_.w.line("if ({}) {}({}, {}, {}, {}, {}, {}, {}, {});", vnni_, vpack_, bb_, vroff_, k4n_, rows, g_.OW,
                src_ == Source::Im2col ? g_.OW : pitch_, packed_, np_);
      c_.w.line("#endif");
    }
    const int64_t full = cout_g_ / kMr * kMr;
    if (full > 0) {
      std::string o0 = c_.var("oc");
      c_.w.open("for (int32_t {0} = 0; {0} < {1}; {0} += {2}) {{", o0, full, kMr);
      channel_block(o0, kMr, L, oh0, rows);
      c_.w.close();
    }
    if (cout_g_ > full) {
      c_.w.open("{{");
      channel_block(std::to_string(full), cout_g_ - full, L, oh0, rows);
      c_.w.close();
    }
  }

  // acc rows [0, mr) for output channels o0.. of this group, then their outputs.
  void channel_block(const std::string& o0, int64_t mr, int64_t L, const std::string& oh0, int64_t rows) {
    const std::string oc0 = grp_ == "0" ? o0 : fmt::format("{} * {} + {}", grp_, cout_g_, o0);
    const bool simd = simd_ && L >= kSimdMin;
    if (!vnni_.empty()) {
      const RqBounds bd = rq_bounds(s_.rq);
      const std::string at = fmt::format(" + ({})", oc0);
      c_.w.line("#if defined(WEEC_SIMD_VNNI)");
      c_.w.line("if ({}) {}({}, {}, {}, {} + ({}) * {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}); else", vnni_,
                vconv_, mr, rows * g_.OW, k4n_, wq_, oc0, k4n_, packed_, np_, acc_, ld_,
                vbias_.empty() ? "(const int32_t*)0" : vbias_ + at, m0_t_ + at, right_t_ + at, lit32(bd.lo),
                lit32(bd.hi), lit32(s_.rq.zp));
      c_.w.line("#endif");
    }
    c_.w.open("{{");
    if (simd) {
      c_.w.line("#if defined(WEEC_SIMD_AVX2)");
      c_.w.line("if ({}) {}({}, {}, {}, {} + ({}) * {}, {}, {}, {}, {}); else", cpu_, gemm_, mr, L, pairs_,
                wp_, oc0, pairs_, bb_, roff_, acc_, ld_);
      c_.w.line("#endif");
    }
    std::string r = c_.var("r"), a = c_.var("a"), wr = c_.var("wr"), j = c_.var("j");
    c_.w.open("{} {{", loop(r, mr));
    c_.w.line("{}* {} = {} + {} * {};", A_, a, acc_, r, ld_);
    // Packed 4-bit W (q4_weights.h): wr is the row's first element index.
    const bool q4 = c_.packed_int4(1);
    if (q4)
      c_.w.line("const int32_t {} = ({} + {}) * {};", wr, oc0, r, K_);
    else
      c_.w.line("const int8_t* {} = {} + ({} + {}) * {};", wr, c_.in(1), oc0, r, K_);
    c_.w.line("{} {}[{}] = 0;", loop(j, L), a, j);
    const std::string xv = fold_ ? "{}[{}]" : fmt::format("((int32_t){{}}[{{}}] - {})", s_.x_zp);
    auto tap = [&](const std::string& q, const std::string& off) {
      std::string br = c_.var("br"), wv = c_.var("wv");
      if (q4)
        c_.w.line("const {} {} = {}({}, {} + {});", A_, wv, q4_at_c(c_), c_.in(1), wr, q);
      else
        c_.w.line("const {} {} = {}[{}];", A_, wv, wr, q);
      c_.w.line("const {}* {} = {} + {};", B_, br, bb_, off);
      c_.w.line("{} {}[{}] += {} * {};", loop(j, L), a, j, wv, fmt::format(fmt::runtime(xv), br, j));
    };
    if (src_ == Source::Im2col) {
      std::string q = c_.var("q");
      c_.w.open("{} {{", loop(q, K_));
      tap(q, fmt::format("{} * {}", q, rows_ * g_.OW));
    } else {
      std::string ic = c_.var("ic"), kh = c_.var("kh"), kw = c_.var("kw");
      c_.w.open("{} {} {} {{", loop(ic, cin_g_), loop(kh, g_.KH), loop(kw, g_.KW));
      tap(fmt::format("({} * {} + {}) * {} + {}", ic, g_.KH, kh, g_.KW, kw),
          fmt::format("{} * {} + {} * {} + {} * {}", ic, plane_, kh, g_.DH * pitch_, kw, g_.DW));
    }
    c_.w.close();
    c_.w.close();
    if (simd && !fin_.empty()) {
      const RqBounds bd = rq_bounds(s_.rq);
      const std::string at = fmt::format(" + ({})", oc0);
      c_.w.line("#if defined(WEEC_SIMD_AVX2)");
      c_.w.line("if ({}) {}({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}); else", cpu_, fin_, acc_, mr, ld_,
                rows, g_.OW, rows > 1 ? pitch_ : g_.OW, bias_t_.empty() ? "(const int32_t*)0" : bias_t_ + at,
                m0_t_ + at, right_t_ + at, lit32(bd.lo), lit32(bd.hi), lit32(s_.rq.zp));
      c_.w.line("#endif");
    }
    std::string rr = c_.var("r");
    c_.w.open("{} {{", loop(rr, mr));
    finish_row(fmt::format("{} + {}", oc0, rr), fmt::format("{} + {} * {}", acc_, rr, ld_), rows);
    c_.w.close();
    c_.w.close();
    rr = c_.var("r");
    c_.w.open("{} {{", loop(rr, mr));
    store_rows(oh0, rows, fmt::format("{} + {}", oc0, rr), fmt::format("{} + {} * {}", acc_, rr, ld_));
    c_.w.close();
  }

  // Plain C: drops the junk columns of row `row` (channel oc), rows of OW
  // from here on, and rescales it in place.
  void finish_row(const std::string& oc_expr, const std::string& row, int64_t rows) {
    const std::string oc = "(" + oc_expr + ")";
    std::string a = c_.var("a"), j = c_.var("j");
    c_.w.line("{}* {} = {};", A_, a, row);
    if (pitch_ != g_.OW && rows > 1) {
      std::string r = c_.var("r");
      c_.w.line("{} {} {}[{} * {} + {}] = {}[{} * {} + {}];", loop(r, "1", std::to_string(rows)),
                loop(j, g_.OW), a, r, g_.OW, j, a, r, pitch_, j);
    }
    std::string bias = "0";
    if (!bias_table_.empty()) bias = fmt::format("{}[{}]", bias_table_, oc);
    if (!b_in_.empty()) bias = fmt::format("{}[{}]", b_in_, oc);
    const Requant& q = s_.rq;
    const std::string sum = fmt::format("({}){}[{}] + {}", A_, a, j, bias);
    const std::string acc32 = acc_t_ == DType::I32 ? sum : fmt::format("{}({})", sat32_c(c_), sum);
    c_.w.line("{} {}[{}] = {};", loop(j, rows * g_.OW), a, j,
              requant_c(c_, q, acc32, rt_.m0(q, oc), rt_.shift(q, oc)));
  }

  // store() of output rows [oh0, oh0 + rows) of channel oc from `row` (rows of OW).
  void store_rows(const std::string& oh0, int64_t rows, const std::string& oc_expr, const std::string& row) {
    const std::string T = c_type(s_.rq.out);
    std::string oc = c_.var("o"), a = c_.var("a"), j = c_.var("j");
    c_.w.line("const int32_t {} = {};", oc, oc_expr);
    c_.w.line("const {}* {} = {};", A_, a, row);
    std::vector<std::string> idx = {n_, oc};
    const bool two_d = s_.p.w.rank() == 2;
    const std::string base = fmt::format("({} * {} + {}) * {}", n_, s_.p.c_out, oc, g_.OH * g_.OW);
    c_.w.open("{} {{", loop(j, rows * g_.OW));
    if (two_d) idx.push_back(fmt::format("{} + {} / {}", oh0, j, g_.OW));
    idx.push_back(fmt::format("{} % {}", j, g_.OW));
    c_.store(0, idx, fmt::format("({}){}[{}]", T, a, j),
             fmt::format("{} + {} * {} + {}", base, oh0, g_.OW, j));
    c_.w.close();
  }

  void im2col(const std::string& oh0, int64_t rows) {
    emit_qconv_im2col(c_, {g_, cin_g_, rows_ * g_.OW, X_, x_group(), col_, s_.x_zp}, oh0, rows);
  }

  CEmitContext& c_;
  const QConvSpec& s_;
  Plane g_;
  int64_t cin_g_, cout_g_, K_ = 0, pitch_ = 0, plane_ = 0, rows_ = 1, ld_ = 0, pairs_ = 0;
  Source src_ = Source::Direct;
  bool fold_ = false, any_bias_ = false, simd_ = false;
  std::vector<int64_t> bias_, bound_;  // folded bias; bound on |acc + bias| per channel
  DType acc_t_ = DType::I32;
  std::string A_, X_, B_, bias_table_, b_in_, acc_, col_, n_, grp_, bb_, wp_, roff_, gemm_, cpu_;
  std::string fin_, m0_t_, right_t_, bias_t_;  // the AVX2 rescale and its per-channel tables
  // The VNNI form: its CPU test, kernels, tables and packed B.
  std::string vnni_, vconv_, vpack_, vroff_, wq_, vbias_, packed_;
  int64_t k4n_ = 0, np_ = 0;
  RequantC rt_;
};

}  // namespace

Status emit_qconv(CEmitContext& c, const QConvSpec& s) { return QConvWriter(c, s).run(); }

}  // namespace weec::qop
