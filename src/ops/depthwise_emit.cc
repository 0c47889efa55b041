// Float depthwise convolutions (one input and one output channel per group,
// stride 1, OW = W) with AVX-512, beside the GEMM path of conv_gemm_emit.cc.
//
// Through weec_sgemm a depthwise channel is a 1-row GEMM over shifted
// copies of its plane: few multiply-adds per instruction, and the copies
// cost as much again. Here the output plane is one flat run of positions
// q = oh * W + ow, and tap (kh, kw) reads X at q + (kh * DH - PT) * W +
// kw * DW - PL. Per channel, a helper copies X's plane to an aligned stack
// buffer between zero vectors; per vector of 16 outputs it loads the
// aligned vectors around q, forms each tap's window with valignd and adds
// it with a masked multiply-add. The masked-off lanes are those whose tap
// falls in the padding (a row above or below X, or a column that would
// wrap into the next row); they depend only on the shape, so they are a
// constant table, one 16-bit mask per (vector, tap). (Unaligned or masked
// loads straight from X were two to three times slower on Zen 5.)
//
// The fused epilogue (store()) then runs once over the whole output when
// the convolution may write Y first (right after each plane's stores it
// would wait for them), else each plane goes through scratch. The taps are
// summed in weec_sgemm's order (kh, kw), from zero, one fused multiply-add
// each.
#include <vector>

#include "ops/nn_emit.h"

namespace weec::nn {

namespace {

constexpr int kWidth = 16;
// Largest mask table (vectors x taps entries, 8 KiB) and plane (vectors of
// 16 outputs; the helper copies X's plane to the stack).
constexpr int64_t kMaxMasks = 4096, kMaxVectors = 256;

struct DwShape {
  int64_t H, W, KH, KW, DH, DW, PT, PL, OH, OW;
};

DwShape shape_of(const Window& w) {
  const size_t r = w.rank();
  auto at = [&](const Dims& d, int64_t one) { return r == 2 ? d[0] : one; };
  return {at(w.in, 1),        w.in[r - 1],        at(w.kernel, 1),    w.kernel[r - 1], at(w.dilations, 1),
          w.dilations[r - 1], at(w.pad_begin, 0), w.pad_begin[r - 1], at(w.out, 1),    w.out[r - 1]};
}

int64_t vectors(const DwShape& g) { return (g.OH * g.OW + kWidth - 1) / kWidth; }

// X's offset from the output position q of tap (kh, kw).
int64_t tap_offset(const DwShape& g, int64_t kh, int64_t kw) {
  return (kh * g.DH - g.PT) * g.W + kw * g.DW - g.PL;
}

// The helper computing one channel: y[q] = sum over taps of w[t] * x[q + off[t]].
std::string channel_helper(CEmitBase& c, const DwShape& g) {
  const std::string name = fmt::format("weec_dwconv_avx512_{}x{}_k{}x{}_d{}x{}_p{}x{}_o{}", g.H, g.W, g.KH,
                                       g.KW, g.DH, g.DW, g.PT, g.PL, g.OH);
  if (c.needs.has_helper(name)) return name;
  const int64_t nv = vectors(g), taps = g.KH * g.KW, n = g.OH * g.OW;
  CWriter w;
  w.line("#if defined(WEEC_SIMD_AVX512)");
  // Per vector of 16 outputs, per tap: the lanes inside X.
  w.line("static const uint16_t {}_masks[{}] = {{", name, nv * taps);
  for (int64_t v = 0; v < nv; ++v) {
    std::string row;
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        unsigned m = 0;
        for (int64_t l = 0; l < kWidth; ++l) {
          const int64_t q = v * kWidth + l, oh = q / g.OW, ow = q % g.OW;
          const int64_t ih = oh + kh * g.DH - g.PT, iw = ow + kw * g.DW - g.PL;
          if (q < n && ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) m |= 1u << l;
        }
        row += fmt::format("0x{:04x}, ", m);
      }
    w.line("    {}", row.substr(0, row.size() - 1));
  }
  w.line("}};");
  // The plane goes into an aligned local copy with zero vectors around it,
  // so the loads are aligned and in bounds; tap windows come from the
  // vectors around q by valignd (vector a of the copy holds X[16a, 16a+16)).
  int64_t alo = 0, ahi = 0;
  for (int64_t kh = 0; kh < g.KH; ++kh)
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      const int64_t off = tap_offset(g, kh, kw);
      alo = std::min(alo, floor_div(off, kWidth));
      ahi = std::max(ahi, floor_div(off, kWidth) + (off % kWidth != 0));
    }
  // X's plane (H * W) is as long as Y's (OH * OW) only with vertical padding
  // (OW = W always): copy all of it, and zero what the windows read past it.
  const int64_t nx = g.H * g.W, nvx = (nx + kWidth - 1) / kWidth, end = std::max(nv + ahi, nvx);
  const int64_t nb = end - alo, tail = n - kWidth * (nv - 1), tail_x = nx - kWidth * (nvx - 1);
  w.open("static __attribute__((target(\"avx512f,fma\"))) void {}({}) {{", name,
         "const float* restrict x, const float* restrict k, float* restrict y");
  w.line("float buf[{}] __attribute__((aligned(64)));", kWidth * nb);
  w.line("float* const p = buf + {};", -kWidth * alo);
  w.line("int32_t v;");
  for (int64_t i = alo; i < 0; ++i) w.line("_mm512_store_ps(p - {}, _mm512_setzero_ps());", -kWidth * i);
  for (int64_t i = nvx; i < end; ++i) w.line("_mm512_store_ps(p + {}, _mm512_setzero_ps());", kWidth * i);
  w.line("for (v = 0; v < {0}; ++v) _mm512_store_ps(p + v * {1}, _mm512_loadu_ps(x + v * {1}));", nvx - 1,
         kWidth);
  w.line("_mm512_store_ps(p + {0}, _mm512_maskz_loadu_ps(0x{1:04x}, x + {0}));", kWidth * (nvx - 1),
         (1u << tail_x) - 1);
  for (int64_t t = 0; t < taps; ++t) w.line("const __m512 w{} = _mm512_set1_ps(k[{}]);", t, t);
  w.open("for (v = 0; v < {}; ++v) {{", nv);
  w.line("const uint16_t* m = {}_masks + v * {};", name, taps);
  w.line("const float* pv = p + v * {};", kWidth);
  w.line("__m512 acc = _mm512_setzero_ps();");
  // Only the vectors some tap's window reads (with dilation, whole
  // vectors between the taps may be skipped: an unused one would not
  // compile under -Werror).
  std::vector<bool> used(ahi - alo + 1, false);
  for (int64_t kh = 0; kh < g.KH; ++kh)
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      const int64_t off = tap_offset(g, kh, kw), a = floor_div(off, kWidth) - alo;
      used[a] = true;
      if (off - floor_div(off, kWidth) * kWidth != 0) used[a + 1] = true;
    }
  for (int64_t a = alo; a <= ahi; ++a)
    if (used[a - alo])
      w.line("const __m512i a{} = _mm512_castps_si512(_mm512_load_ps(pv {} {}));", a - alo, a < 0 ? '-' : '+',
             std::abs(a) * kWidth);
  for (int64_t kh = 0; kh < g.KH; ++kh)
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      const int64_t t = kh * g.KW + kw, off = tap_offset(g, kh, kw), a = floor_div(off, kWidth) - alo,
                    sh = off - floor_div(off, kWidth) * kWidth;
      const std::string win =
          sh == 0 ? fmt::format("a{}", a) : fmt::format("_mm512_alignr_epi32(a{}, a{}, {})", a + 1, a, sh);
      // Masked lanes (padding) keep acc: the window's value there is unused.
      w.line("acc = _mm512_mask3_fmadd_ps(w{}, _mm512_castsi512_ps({}), acc, m[{}]);", t, win, t);
    }
  w.line("if (v < {}) _mm512_storeu_ps(y + v * {}, acc);", nv - 1, kWidth);
  w.line("else _mm512_mask_storeu_ps(y + v * {}, 0x{:04x}, acc);", kWidth, (1u << tail) - 1);
  w.close();
  w.close();
  w.line("#endif");
  return c.helper(name, w.text());
}

}  // namespace

bool depthwise_applies(const CEmitContext& c, const ConvEmitSpec& s) {
  const Window& w = s.p.w;
  const size_t r = w.rank();
  if (!conv_gemm_applies(c, s) || s.p.group != s.p.c_in || s.p.c_out != s.p.c_in) return false;
  for (size_t i = 0; i < r; ++i)
    if (w.strides[i] != 1) return false;
  const DwShape g = shape_of(w);
  return g.OW == g.W && std::max(vectors(g), (g.H * g.W + kWidth - 1) / kWidth) <= kMaxVectors &&
         vectors(g) * g.KH * g.KW <= kMaxMasks;
}

void emit_depthwise_avx512(CEmitContext& c, const ConvEmitSpec& s) {
  const DwShape g = shape_of(s.p.w);
  simd_float_vectors(c.needs);
  simd_avx512(c.needs);
  const std::string fn = channel_helper(c, g);
  const int64_t plane = g.OH * g.OW, taps = g.KH * g.KW, C = s.p.c_out;
  // Writing Y first, the epilogue runs once over all channels after the
  // convolution (not right after each plane's stores, which it would wait
  // for); otherwise each plane goes to scratch and through the epilogue.
  const bool direct = gemm_output_writable_early(c);
  const std::string acc = direct ? "" : c.scratch(DType::F32, plane, "dw");
  if (!direct) c.w.line("(void){};", acc);  // unused without AVX-512
  c.w.line("#if defined(WEEC_SIMD_AVX512)");
  c.w.open("if (weec_cpu_avx512()) {{");
  std::string n = c.var("n"), ch = c.var("c"), j = c.var("j");
  auto loop = [&](const std::string& v, int64_t count) {
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", v, count);
  };
  auto flat0 = [&](const std::string& chan) { return fmt::format("({} * {} + {}) * {}", n, C, chan, plane); };
  auto call = [&](const std::string& chan, const std::string& dst) {
    c.w.line("{}({} + ({} * {} + {}) * {}, {} + {} * {}, {});", fn, c.in(s.x_in), n, C, chan, g.H * g.W,
             c.in(s.w_in), chan, taps, dst);
  };
  auto epilogue = [&](const std::string& chan, const std::string& src) {
    if (s.per_channel) s.per_channel(chan);
    const std::string init = s.init ? s.init(chan) : "";
    loop(j, plane);
    std::vector<std::string> idx = {n, chan};
    if (s.p.w.rank() == 2) idx.push_back(fmt::format("{} / {}", j, g.OW));
    idx.push_back(fmt::format("{} % {}", j, g.OW));
    std::string a = fmt::format("{}[{}]", src, j);
    if (!init.empty()) a = fmt::format("{} + {}", a, init);
    c.store(0, idx, s.finish ? s.finish(a, chan) : a, fmt::format("{} + {}", flat0(chan), j));
    c.w.close();
  };
  loop(n, s.p.batch);
  if (direct) {
    loop(ch, C);
    call(ch, fmt::format("{} + {}", c.out(0), flat0(ch)));
    c.w.close();
    const std::string ch2 = c.var("c");
    loop(ch2, C);
    epilogue(ch2, fmt::format("({} + {})", c.out(0), flat0(ch2)));
    c.w.close();
  } else {
    loop(ch, C);
    call(ch, acc);
    epilogue(ch, acc);
    c.w.close();
  }
  c.w.close();
  c.w.close();
  c.w.line("else");
  c.w.line("#endif");
}

}  // namespace weec::nn
