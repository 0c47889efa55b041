// AVX2 kernels of the int8 ops (qop_util.h), as C text written once per
// generated file, inside `#if defined(WEEC_SIMD_AVX2)` (nn::simd_prelude):
// callers take them where weec_cpu_avx2_fma() says the CPU runs them and
// keep their plain C loops for every other target (Cortex-M0 included).
//
//  * weec_q8_gemm_avx2_{s8,u8}: c[m][j] = sum_k a[m][k] * b[roff[k] + j]
//    with 8-bit b (X's own type, its zero point folded into the bias) and a
//    as int16 pairs packed at compile time (pack_pairs). Register tiles of
//    MR = 6/4/2/1 rows x 16 columns; per pair of k, the two b rows are
//    widened to int16 and interleaved, so one vpmaddwd does 16
//    multiply-adds into int32 lanes. The last column tile overlaps the
//    previous one (recomputing a column writes the same value).
//  * weec_q8_gemv_avx2_{s8,u8}: y[n] = sum_k x[k] * w[n * K + k], W as
//    stored ([N][K] int8), 4 rows per pass over x.
//  * weec_q8_rq{,_b}{,_m}_avx2: acc[j] = clamp(mbqm(acc[j] + bias, m0,
//    -right), lo, hi) + zp in place, 8 lanes at a time: the 64-bit
//    products of vpmuldq rounded as SaturatingRoundingDoublingHighMul,
//    then RoundingDivideByPOT's mask/threshold form; bias, m0 and right
//    per call or per lane (_b, _m). Needs shift <= 0 and m0 != INT32_MIN
//    (requant_simd_ok); lo/hi are the clamp bounds minus zp (RqBounds).
// Where GCC knows a call's constant arguments (inlined, cloned, or
// propagated into the only caller's values) it schedules the tile loops
// into more live vectors than AVX2 has and spills accumulators in the
// inner loop (40 instead of 65 GMAC/s measured), hence noipa (GCC >= 8).
#include <algorithm>

#include "ops/nn_emit.h"
#include "ops/qop_util.h"

namespace weec::qop {

namespace {

constexpr const char* kPrelude = R"(#if defined(WEEC_SIMD_AVX2)
#if defined(__clang__)
#define WEEC_Q8_AVX2 static __attribute__((target("avx2,fma"), noinline))
#elif __GNUC__ >= 8
#define WEEC_Q8_AVX2 static __attribute__((target("avx2,fma"), noipa))
#else
#define WEEC_Q8_AVX2 static __attribute__((target("avx2,fma"), noinline, noclone))
#endif
#endif
)";

const char* sfx(bool u8) { return u8 ? "u8" : "s8"; }
const char* ctype8(bool u8) { return u8 ? "uint8_t" : "int8_t"; }
const char* widen(bool u8) { return u8 ? "_mm256_cvtepu8_epi16" : "_mm256_cvtepi8_epi16"; }

// How a tile kernel reads B. rows8: b of X's 8-bit type, pair kp from rows
// roff[2kp], roff[2kp + 1], widened and interleaved (unpacklo/hi keep
// 128-bit halves: l holds columns 0-3 and 8-11, h 4-7 and 12-15). pairs16:
// b an int16 plane, pair kp the horizontally adjacent taps at roff[kp] and
// roff[kp] + 1, so the 32-bit word at b + roff[kp] + j already is the pair
// of column j: l gets the even columns, h (one element on) the odd ones.
struct Form {
  std::string suffix, btype;
  bool pairs16 = false, u8 = false;
};
Form rows8(bool u8) { return {u8 ? "u8" : "s8", u8 ? "uint8_t" : "int8_t", false, u8}; }
const Form kPairs16{"p16", "int16_t", true, false};

// One tile kernel: mr rows x every (16 * nv)-column tile of [0, N)
// (N >= 16 * nv).
std::string tile_name(int mr, int nv, const Form& f) {
  return fmt::format("weec_q8_tile{}{}_{}", mr, nv > 1 ? "w" : "", f.suffix);
}

std::string tile_kernel(int mr, int nv, const Form& f) {
  const int cols = 16 * nv;
  CWriter w;
  w.open(
      "WEEC_Q8_AVX2 void {}(int32_t kp_n, const int32_t* ap, int32_t lda, const {}* b, const int32_t* roff, "
      "int32_t N, int32_t* c, int32_t ldc) {{",
      tile_name(mr, nv, f), f.btype);
  w.line("int32_t j = 0, kp;");
  if (mr == 1) w.line("(void)lda;");
  if (mr == 1) w.line("(void)ldc;");
  w.open("for (;; j += {}) {{", cols);
  w.line("if (j > N - {0}) j = N - {0};", cols);
  w.open("{{");
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < nv; ++v)
      w.line("__m256i l{0}_{1} = _mm256_setzero_si256(), h{0}_{1} = _mm256_setzero_si256();", r, v);
  w.open("for (kp = 0; kp < kp_n; ++kp) {{");
  for (int v = 0; v < nv; ++v) {
    const std::string jv = v ? fmt::format("j + {}", 16 * v) : "j";
    if (f.pairs16) {
      w.line("const {}* p{} = b + roff[kp] + {};", f.btype, v, jv);
      w.line("const __m256i pl{0} = _mm256_loadu_si256((const __m256i*)(const void*)p{0});", v);
      w.line("const __m256i ph{0} = _mm256_loadu_si256((const __m256i*)(const void*)(p{0} + 1));", v);
    } else {
      for (int i = 0; i < 2; ++i)
        w.line(
            "const __m256i x{}_{} = {}(_mm_loadu_si128((const __m128i*)(const void*)(b + roff[2 * kp{}] + "
            "{})));",
            i, v, f.u8 ? "_mm256_cvtepu8_epi16" : "_mm256_cvtepi8_epi16", i ? " + 1" : "", jv);
      w.line(
          "const __m256i pl{0} = _mm256_unpacklo_epi16(x0_{0}, x1_{0}), ph{0} = "
          "_mm256_unpackhi_epi16(x0_{0}, "
          "x1_{0});",
          v);
    }
  }
  w.line("__m256i wv;");
  for (int r = 0; r < mr; ++r) {
    w.line("wv = _mm256_set1_epi32(ap[{}kp]);", r ? fmt::format("{} * lda + ", r) : "");
    for (int v = 0; v < nv; ++v) {
      w.line("l{0}_{1} = _mm256_add_epi32(l{0}_{1}, _mm256_madd_epi16(pl{1}, wv));", r, v);
      w.line("h{0}_{1} = _mm256_add_epi32(h{0}_{1}, _mm256_madd_epi16(ph{1}, wv));", r, v);
    }
  }
  w.close();
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < nv; ++v) {
      std::string at = r ? fmt::format("c + {} * ldc + j", r) : "c + j";
      if (v) at += fmt::format(" + {}", 16 * v);
      const std::string l = fmt::format("l{}_{}", r, v), h = fmt::format("h{}_{}", r, v);
      if (f.pairs16)  // even/odd columns back in order, in the halves rows8 has
        w.line(
            "{{ const __m256i e = {0}, o = {1}; {0} = _mm256_unpacklo_epi32(e, o); {1} = "
            "_mm256_unpackhi_epi32(e, o); "
            "}}",
            l, h);
      w.line("_mm256_storeu_si256((__m256i*)(void*)({}), _mm256_permute2x128_si256({}, {}, 0x20));", at, l,
             h);
      w.line("_mm256_storeu_si256((__m256i*)(void*)({} + 8), _mm256_permute2x128_si256({}, {}, 0x31));", at,
             l, h);
    }
  w.close();
  w.line("if (j == N - {}) break;", cols);
  w.close();
  w.close();
  return w.text();
}

// Row tiles of 6, then 4, 2, 1; a single row 32 columns at a time where N
// allows (more independent sums per tap: a depthwise channel is one row).
std::string gemm_driver(const Form& f) {
  CWriter w;
  w.open(
      "WEEC_Q8_AVX2 void weec_q8_gemm_avx2_{0}(int32_t M, int32_t N, int32_t kp_n, const int32_t* ap, "
      "const {1}* b, const int32_t* roff, int32_t* c, int32_t ldc) {{",
      f.suffix, f.btype);
  w.line("int32_t m = 0;");
  const std::string args = "(kp_n, ap + m * kp_n, kp_n, b, roff, N, c + m * ldc, ldc)";
  w.line("for (; m + 6 <= M; m += 6) {}{};", tile_name(6, 1, f), args);
  for (int mr : {4, 2}) w.line("if (m + {0} <= M) {{ {1}{2}; m += {0}; }}", mr, tile_name(mr, 1, f), args);
  // The last row: 32-column tiles over [0, N - N % 32), then the rest as
  // one overlapping tile of 32 or 16 columns (less recomputation than
  // backing a 32-wide tile up over up to 31 columns).
  w.open("if (m < M && N >= 32) {{");
  w.line("const int32_t n32 = N - N % 32, t = N - n32;");
  w.line("const int32_t* am = ap + m * kp_n;");
  w.line("int32_t* cm = c + m * ldc;");
  w.line("{}(kp_n, am, kp_n, b, roff, n32, cm, ldc);", tile_name(1, 2, f));
  w.line("if (t > 16) {}(kp_n, am, kp_n, b + N - 32, roff, 32, cm + N - 32, ldc);", tile_name(1, 2, f));
  w.line("else if (t > 0) {}(kp_n, am, kp_n, b + N - 16, roff, 16, cm + N - 16, ldc);", tile_name(1, 1, f));
  w.close();
  w.line("else if (m < M) {}{};", tile_name(1, 1, f), args);
  w.close();
  return w.text();
}

// Dot products of x with 1 or 4 rows of w, 16 then 8 then 1 k at a time.
std::string gemv_kernel(bool u8) {
  CWriter w;
  const std::string load16 = "_mm_loadu_si128((const __m128i*)(const void*)({}))";
  const std::string load8 = "_mm_loadl_epi64((const __m128i*)(const void*)({}))";
  w.open(
      "WEEC_Q8_AVX2 void weec_q8_gemv_avx2_{}(int32_t N, int32_t K, const {}* x, const int8_t* w, int32_t* "
      "y) {{",
      sfx(u8), ctype8(u8));
  w.line("int32_t n = 0, k, r;");
  w.line("const int8_t* wn = w; /* row n, advanced instead of n * K (no int overflow to reason about) */");
  for (int rows : {4, 1}) {
    if (rows == 4)
      w.open("for (; n + 4 <= N; n += 4) {{");
    else
      w.open("for (; n < N; ++n) {{");
    w.line("const int8_t* wr[4];");
    w.line("int32_t t[4];");
    w.line("__m256i s[4];");
    w.line("__m128i q;");
    w.line("for (r = 0; r < {}; ++r) {{ wr[r] = wn; wn += K; s[r] = _mm256_setzero_si256(); }}", rows);
    for (int step : {16, 8}) {
      w.open("{}", step == 16 ? "for (k = 0; k + 16 <= K; k += 16) {" : "if (k + 8 <= K) {");
      const std::string& ld = step == 16 ? load16 : load8;
      w.line("const __m256i xv = {}({});", widen(u8), fmt::format(fmt::runtime(ld), "x + k"));
      for (int r = 0; r < rows; ++r)
        w.line("s[{0}] = _mm256_add_epi32(s[{0}], _mm256_madd_epi16(xv, _mm256_cvtepi8_epi16({1})));", r,
               fmt::format(fmt::runtime(ld), fmt::format("wr[{}] + k", r)));
      if (step == 8) w.line("k += 8;");
      w.close();
    }
    if (rows == 4) {
      w.line("{{");
      w.line(
          "  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], "
          "s[3]));");
      w.line("  q = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));");
      w.line("}}");
    } else {
      w.line("q = _mm_add_epi32(_mm256_castsi256_si128(s[0]), _mm256_extracti128_si256(s[0], 1));");
      w.line("q = _mm_hadd_epi32(q, q);");
      w.line("q = _mm_hadd_epi32(q, q);");
    }
    w.line("_mm_storeu_si128((__m128i*)(void*)t, q);");
    w.line("for (; k < K; ++k)");
    w.line("  for (r = 0; r < {}; ++r) t[r] += (int32_t)x[k] * wr[r][k];", rows);
    w.line("for (r = 0; r < {}; ++r) y[n + r] = t[r];", rows);
    w.close();
  }
  w.close();
  return w.text();
}

uint64_t fnv1a(const std::vector<int32_t>& v) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t x : v) h = (h ^ (uint32_t)x) * 1099511628211ull;
  return h;
}

}  // namespace

void avx2_prelude(CEmitBase& c) {
  nn::simd_prelude(c.needs);
  c.helper("weec_q8_avx2_prelude", kPrelude);
}

std::string avx2_guarded(const std::string& body) {
  return "#if defined(WEEC_SIMD_AVX2)\n" + body + "#endif\n";
}

std::string avx2_gemm(CEmitBase& c, DType b) {
  const Form f = b == DType::I16 ? kPairs16 : rows8(b == DType::U8);
  avx2_prelude(c);
  const std::string name = "weec_q8_gemm_avx2_" + f.suffix;
  if (!c.needs.has_helper(name)) {
    std::string tiles;
    for (int mr : {6, 4, 2, 1}) tiles += tile_kernel(mr, 1, f);
    tiles += tile_kernel(1, 2, f);
    c.helper("weec_q8_tiles_" + f.suffix, avx2_guarded(tiles));
  }
  return std::string(c.helper(name, avx2_guarded(gemm_driver(f))));
}

std::string avx2_gemv(CEmitBase& c, DType x) {
  const bool u8 = x == DType::U8;
  avx2_prelude(c);
  return std::string(c.helper(fmt::format("weec_q8_gemv_avx2_{}", sfx(u8)), avx2_guarded(gemv_kernel(u8))));
}

std::string avx2_table(CEmitBase& c, const std::string& hint, const std::vector<int32_t>& v, bool vnni) {
  if (vnni)
    vnni_prelude(c);  // its #define comes first
  else
    avx2_prelude(c);
  const std::string name = fmt::format("weec_q8{}_{}{}_{:016x}", vnni ? "v" : "", hint, v.size(), fnv1a(v));
  // Sized to a multiple of 8: vector loops may read a last partial vector.
  std::string text = fmt::format("static const int32_t {}[{}] = {{", name, (v.size() + 8) / 8 * 8);
  for (size_t i = 0; i < v.size(); ++i)
    text += (i % 12 ? " " : "\n  ") + c_literal_i64(v[i], DType::I32) + ",";
  if (v.empty()) text += "0";
  text += "\n};\n";
  return std::string(c.helper(name, vnni ? vnni_guarded(text) : avx2_guarded(text)));
}

std::vector<int32_t> pack_pairs(const int8_t* w, int64_t rows, int64_t k) {
  const int64_t kp = (k + 1) / 2;
  std::vector<int32_t> out(rows * kp);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = 0; p < kp; ++p) {
      const int8_t lo = w[r * k + 2 * p], hi = 2 * p + 1 < k ? w[r * k + 2 * p + 1] : 0;
      // Lane layout of _mm256_set1_epi32: the low int16 is the even k.
      out[r * kp + p] = (int32_t)((uint32_t)(uint16_t)(int16_t)lo | (uint32_t)(uint16_t)(int16_t)hi << 16);
    }
  return out;
}

}  // namespace weec::qop
