// AVX-512 VNNI kernels of the int8 ops (qop_util.h), as C text under
// `#if defined(WEEC_SIMD_VNNI)`; callers take them where
// weec_cpu_avx512vnni() says the CPU runs them, ahead of the AVX2 kernels
// (q8_avx2_emit.cc) and the plain C loops, which stay for every other CPU.
//
// vpdpbusd multiplies 4 adjacent u8 of one operand by 4 s8 of the other and
// adds the 4 products to an int32 lane: 64 multiply-adds per instruction,
// 4x vpmaddwd's 16. It does not saturate (vpdpbusds does), so sums wrap
// modulo 2^32 like the int32 adds of the other paths and the result is
// exact wherever the true sum fits int32 (the callers' bound). Activations
// take the u8 side: int8 X is flipped to x + 128 (xor 0x80), and the callers
// fold -128 * sum(w) into the bias at compile time; weights stay s8.
//
//  * weec_q8v_pack_{s8,u8,p16s8,p16u8}: B rows (X's taps) into the layout
//    the conv kernel reads, bp[(k4 * np + j) * 4 + i] = B[roff[4 k4 + i] +
//    pos(j)] (as u8), 4 taps per int32 lane; pos(j) skips the junk columns
//    of a pitched plane (rows of w positions every p elements), so the
//    kernel computes real outputs only. p16: B is an int16 plane holding
//    X's raw values.
//  * weec_q8v_conv{,a}: c[m][j] = rescale(bias[m] + sum_k4 bp quads . wq
//    quads) for m < M (M <= 6) and j < N: register tiles of 6/4/2/1 rows x
//    64 columns (24 sums in 32 zmm registers; the weight quad is a
//    broadcast memory operand), then one pass of the 1-4 vectors left (the
//    last store masked); the rescale of q8_avx2_finish_emit.cc on 16 lanes
//    in the epilogue (row constants once per row), so rescaled, compact rows
//    come out of one call; `a` is its rounding-add form.
//  * weec_q8v_gemv_{s8,u8}: y[n] = corr[n] + sum_k x[k] * w[n * K + k],
//    4 rows per pass over x, 64 k per instruction (masked last block).
#include "ops/qop_util.h"

namespace weec::qop {

namespace {

constexpr const char* kTarget = "avx512f,avx512bw,avx512vl,avx512vnni";

// GCC 9 and clang 8 know avx512vnni in target() and __builtin_cpu_supports.
constexpr const char* kPrelude = R"(#if defined(WEEC_SIMD_AVX2) && !defined(WEEC_NO_AVX512) && \
    (defined(__clang__) ? __clang_major__ >= 8 : __GNUC__ >= 9)
#define WEEC_SIMD_VNNI 1
#if defined(__clang__)
#define WEEC_Q8_VNNI static __attribute__((target("%T"), noinline))
#else
#define WEEC_Q8_VNNI static __attribute__((target("%T"), noipa))
#endif
#define WEEC_Q8_VNNI_INLINE static inline __attribute__((target("%T")))
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define weec_cpu_avx512vnni() 1
#else
/* Whether this CPU runs the AVX-512 VNNI kernels (compiled for it whatever
 * -march says). */
static int weec_cpu_avx512vnni(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
}
#endif
#endif
)";

std::string prelude_text() {
  std::string s = kPrelude;
  for (size_t at; (at = s.find("%T")) != std::string::npos;) s.replace(at, 2, kTarget);
  return s;
}

// The rescale of vectors of sums x (bias included) for row r, as macros:
// _CONSTS(r) declares row r's constants once, then each vector is one
// expression (the exact form, or the rounding-add one; both as
// q8_avx2_finish_emit.cc). lo/hi are the clamp bounds minus zp (RqBounds).
// Every name is local to the kernel's pass.
constexpr const char* kSrdhm = R"(/* Bits 31..62 of x * m + 2^30 per lane: SaturatingRoundingDoublingHighMul
 * for m != INT32_MIN. */
WEEC_Q8_VNNI_INLINE __m512i weec_q8v_srdhm(__m512i x, __m512i m) {
  const __m512i nudge = _mm512_set1_epi64(1073741824);
  const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, m), nudge);
  const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m), nudge);
  return _mm512_mask_blend_epi32(0xaaaa, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
}
)";
constexpr const char* kRescaleExact =
    R"(#define WEEC_Q8V_RQ_CONSTS(r)                                                     \
  const __m512i vm = _mm512_set1_epi32(m0[r]), vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi); \
  const __m128i vr = _mm_cvtsi32_si128(right[r]);                                           \
  const int32_t mask_ = (int32_t)(0x7fffffffu >> (31 - right[r]));                          \
  const __m512i vmask = _mm512_set1_epi32(mask_), vhalf = _mm512_set1_epi32(mask_ >> 1),   \
                vzp = _mm512_set1_epi32(zp)
#define WEEC_Q8V_RQ(x) weec_q8v_rq(x, vm, vr, vmask, vhalf, vlo, vhi, vzp)
WEEC_Q8_VNNI_INLINE __m512i weec_q8v_rq(__m512i x, __m512i vm, __m128i vr, __m512i vmask, __m512i vhalf,
                                        __m512i vlo, __m512i vhi, __m512i vzp) {
  const __m512i t = weec_q8v_srdhm(x, vm);
  const __m512i thr = _mm512_sub_epi32(vhalf, _mm512_srai_epi32(t, 31));
  const __mmask16 up = _mm512_cmpgt_epi32_mask(_mm512_and_si512(t, vmask), thr);
  __m512i v = _mm512_sra_epi32(t, vr);
  v = _mm512_mask_sub_epi32(v, up, v, _mm512_set1_epi32(-1));
  return _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, vlo), vhi), vzp);
}
)";
constexpr const char* kRescaleAdd =
    R"(#define WEEC_Q8V_RQA_CONSTS(r)                                                              \
  const __m512i vm = _mm512_set1_epi32(m0[r]), vlo = _mm512_set1_epi32(lo + zp),           \
                vhi = _mm512_set1_epi32(hi + zp);                                           \
  const int32_t right_ = right[r];                                                          \
  const __m128i vr = _mm_cvtsi32_si128(right_);                                             \
  const __m512i vc = _mm512_set1_epi32(                                                     \
      (int32_t)((((int64_t)1 << right_) >> 1) + (int64_t)zp * ((int64_t)1 << right_)))
#define WEEC_Q8V_RQA(x) weec_q8v_rqa(x, vm, vr, right_, vc, vlo, vhi)
WEEC_Q8_VNNI_INLINE __m512i weec_q8v_rqa(__m512i x, __m512i vm, __m128i vr, int32_t right, __m512i vc,
                                         __m512i vlo, __m512i vhi) {
  const __m512i t = weec_q8v_srdhm(x, vm);
  __m512i v = _mm512_add_epi32(t, vc);
  if (right) v = _mm512_sra_epi32(_mm512_add_epi32(v, _mm512_srai_epi32(t, 31)), vr);
  return _mm512_min_epi32(_mm512_max_epi32(v, vlo), vhi);
}
)";

std::string tile_name(int mr, bool add) { return fmt::format("weec_q8v_tile{}{}", mr, add ? "a" : ""); }

// One pass over columns [j, j + 16 nv) of mr rows: the sums start at the
// bias, go through `t` (rescaling them in registers, GCC spills and copies
// the sums inside the k loop, 2x slower), and are rescaled row by row; with
// `masked`, the last vector's store keeps the columns below N.
void tile_pass(CWriter& w, int mr, int nv, bool masked, bool add) {
  w.line("const uint8_t* b = bp + (size_t)j * 4;");
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < nv; ++v) w.line("__m512i s{}_{} = _mm512_set1_epi32(bias ? bias[{}] : 0);", r, v, r);
  w.open("for (k = 0; k < k4n; ++k, b += (size_t)np * 4) {{");
  for (int v = 0; v < nv; ++v)
    w.line("const __m512i b{0} = _mm512_loadu_si512((const void*)(b + {1}));", v, 64 * v);
  for (int r = 0; r < mr; ++r) {
    w.line("{{ const __m512i wv = _mm512_set1_epi32(wq[{}k]);", r ? fmt::format("{} * k4n + ", r) : "");
    for (int v = 0; v < nv; ++v) w.line("  s{0}_{1} = _mm512_dpbusd_epi32(s{0}_{1}, b{1}, wv);", r, v);
    w.line("}}");
  }
  w.close();
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < nv; ++v)
      w.line("_mm512_store_si512((void*)(t + {}), s{}_{});", 16 * (r * nv + v), r, v);
  if (masked) w.line("last = (__mmask16)(0xffffu >> (16 - (N - j - {})));", 16 * (nv - 1));
  w.open("for (k = 0; k < {}; ++k) {{", mr);
  w.line("WEEC_Q8V_RQ{}_CONSTS(k);", add ? "A" : "");
  for (int v = 0; v < nv; ++v) {
    const std::string val = fmt::format(
        "WEEC_Q8V_RQ{}(_mm512_load_si512((const void*)(t + 16 * (k * {} + {}))))", add ? "A" : "", nv, v);
    const std::string at = fmt::format("(void*)(c + k * ldc + j + {})", 16 * v);
    if (masked && v == nv - 1)
      w.line("_mm512_mask_storeu_epi32({}, last, {});", at, val);
    else
      w.line("_mm512_storeu_si512({}, {});", at, val);
  }
  w.close();
}

// mr rows (channels) x all N columns: 64 columns (4 vectors) per pass, then
// one pass of the 1-4 vectors left, the last one masked.
std::string tile_kernel(int mr, bool add) {
  CWriter w;
  w.open(
      "WEEC_Q8_VNNI void {}(int32_t N, int32_t k4n, const int32_t* wq, const uint8_t* bp, int32_t np, "
      "int32_t* c, int32_t ldc, const int32_t* bias, const int32_t* m0, const int32_t* right, int32_t lo, "
      "int32_t hi, int32_t zp) {{",
      tile_name(mr, add));
  w.line("int32_t j = 0, k;");
  w.line("__mmask16 last;");
  w.line("__attribute__((aligned(64))) int32_t t[{}];", mr * 4 * 16);
  w.open("for (; j + 64 <= N; j += 64) {{");
  tile_pass(w, mr, 4, false, add);
  w.close();
  w.open("switch ((N - j + 15) / 16) {{");
  for (int nv = 1; nv <= 4; ++nv) {
    w.open("case {}: {{", nv);
    tile_pass(w, mr, nv, true, add);
    w.line("break;");
    w.close();
  }
  w.line("default:");
  w.line("  break;");
  w.close();
  w.close();
  return w.text();
}

std::string conv_driver(bool add) {
  CWriter w;
  w.open(
      "WEEC_Q8_VNNI void weec_q8v_conv{}(int32_t M, int32_t N, int32_t k4n, const int32_t* wq, const "
      "uint8_t* "
      "bp, int32_t np, int32_t* c, int32_t ldc, const int32_t* bias, const int32_t* m0, const int32_t* "
      "right, "
      "int32_t lo, int32_t hi, int32_t zp) {{",
      add ? "a" : "");
  w.line("int32_t m = 0;");
  const std::string args =
      "(N, k4n, wq + m * k4n, bp, np, c + m * ldc, ldc, bias ? bias + m : bias, m0 + m, right + m, lo, hi, "
      "zp)";
  w.line("for (; m + 6 <= M; m += 6) {}{};", tile_name(6, add), args);
  for (int mr : {4, 2}) w.line("if (m + {0} <= M) {{ {1}{2}; m += {0}; }}", mr, tile_name(mr, add), args);
  w.line("if (m < M) {}{};", tile_name(1, add), args);
  w.close();
  return w.text();
}

// Source element type of a pack kernel.
struct PackSrc {
  std::string suffix, type;
  bool p16 = false, flip = false;
};
PackSrc pack_src(DType b, DType x) {
  const bool flip = x == DType::I8;
  if (b == DType::I16) return {flip ? "p16s8" : "p16u8", "int16_t", true, flip};
  return {flip ? "s8" : "u8", flip ? "int8_t" : "uint8_t", false, flip};
}

// 16 columns of 4 rows -> 64 bytes, column-major quads: two rounds of
// byte/word unpacks give columns 0-3, 4-7, 8-11, 12-15 in q0..q3.
std::string pack_kernel(const PackSrc& s) {
  CWriter w;
  w.open(
      "WEEC_Q8_VNNI void weec_q8v_pack_{}(const {}* b, const int32_t* roff, int32_t k4n, int32_t rows, "
      "int32_t "
      "w, int32_t p, uint8_t* d, int32_t np) {{",
      s.suffix, s.type);
  w.line("const __m128i flip = _mm_set1_epi8({});", s.flip ? "(char)0x80" : "0");
  w.line("const int32_t R = p == w ? 1 : rows, W = p == w ? rows * w : w;");
  w.line("int32_t k, r, j, i;");
  w.open("for (k = 0; k < k4n; ++k) {{");
  w.line("uint8_t* o = d + (size_t)k * np * 4;");
  w.open("for (r = 0; r < R; ++r) {{");
  w.open("for (j = 0; j < W; j += 16) {{");
  w.line("const __mmask16 m = W - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (W - j)) - 1);");
  w.line("__m128i x[4], a, bb, cc, dd;");
  w.open("for (i = 0; i < 4; ++i) {{");
  w.line("const {}* src = b + roff[4 * k + i] + r * p + j;", s.type);
  if (s.p16)
    w.line("x[i] = _mm256_cvtepi16_epi8(_mm256_maskz_loadu_epi16(m, (const void*)src));");
  else
    w.line("x[i] = _mm_maskz_loadu_epi8(m, (const void*)src);");
  w.line("x[i] = _mm_xor_si128(x[i], flip);");
  w.close();
  w.line("a = _mm_unpacklo_epi8(x[0], x[1]), bb = _mm_unpackhi_epi8(x[0], x[1]);");
  w.line("cc = _mm_unpacklo_epi8(x[2], x[3]), dd = _mm_unpackhi_epi8(x[2], x[3]);");
  w.open("{{");
  w.line("__m512i z = _mm512_castsi128_si512(_mm_unpacklo_epi16(a, cc));");
  w.line("z = _mm512_inserti32x4(z, _mm_unpackhi_epi16(a, cc), 1);");
  w.line("z = _mm512_inserti32x4(z, _mm_unpacklo_epi16(bb, dd), 2);");
  w.line("z = _mm512_inserti32x4(z, _mm_unpackhi_epi16(bb, dd), 3);");
  w.line("_mm512_mask_storeu_epi32((void*)(o + ((size_t)r * W + j) * 4), m, z);");
  w.close();
  w.close();
  w.close();
  w.close();
  w.close();
  return w.text();
}

std::string gemv_kernel(bool u8) {
  CWriter w;
  w.open(
      "WEEC_Q8_VNNI void weec_q8v_gemv_{}(int32_t N, int32_t K, const {}* x, const int8_t* w, const int32_t* "
      "corr, int32_t* y) {{",
      u8 ? "u8" : "s8", u8 ? "uint8_t" : "int8_t");
  w.line("const __m512i flip = _mm512_set1_epi8({});", u8 ? "0" : "(char)0x80");
  w.line("int32_t n = 0, k, r;");
  w.line("const int8_t* wn = w; /* row n */");
  for (int rows : {4, 1}) {
    if (rows == 4)
      w.open("for (; n + 4 <= N; n += 4, wn += 4 * (size_t)K) {{");
    else
      w.open("for (; n < N; ++n, wn += K) {{");
    w.line("__m512i s[4];");
    w.line("for (r = 0; r < {}; ++r) s[r] = _mm512_setzero_si512();", rows);
    w.open("for (k = 0; k < K; k += 64) {{");
    w.line("const __mmask64 m = K - k >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (K - k)) - 1);");
    w.line("const __m512i xv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, (const void*)(x + k)), flip);");
    for (int r = 0; r < rows; ++r)
      w.line(
          "s[{0}] = _mm512_dpbusd_epi32(s[{0}], xv, _mm512_maskz_loadu_epi8(m, (const void*)(wn + {1}k)));",
          r, r ? fmt::format("{} * (size_t)K + ", r) : "");
    w.close();
    w.line("for (r = 0; r < {}; ++r) y[n + r] = _mm512_reduce_add_epi32(s[r]) + (corr ? corr[n + r] : 0);",
           rows);
    w.close();
  }
  w.close();
  return w.text();
}

}  // namespace

void vnni_prelude(CEmitBase& c) {
  avx2_prelude(c);
  c.helper("weec_q8_vnni_prelude", prelude_text());
}

std::string vnni_guarded(const std::string& body) {
  return "#if defined(WEEC_SIMD_VNNI)\n" + body + "#endif\n";
}

std::string vnni_pack(CEmitBase& c, DType b, DType x) {
  vnni_prelude(c);
  const PackSrc s = pack_src(b, x);
  return std::string(c.helper("weec_q8v_pack_" + s.suffix, vnni_guarded(pack_kernel(s))));
}

void vnni_rescale(CEmitBase& c, bool add) {
  vnni_prelude(c);
  c.helper("weec_q8v_srdhm", vnni_guarded(kSrdhm));
  c.helper(add ? "weec_q8v_rqa" : "weec_q8v_rq", vnni_guarded(add ? kRescaleAdd : kRescaleExact));
}

std::string vnni_conv(CEmitBase& c, bool add) {
  vnni_rescale(c, add);
  const std::string name = fmt::format("weec_q8v_conv{}", add ? "a" : "");
  if (!c.needs.has_helper(name)) {
    std::string tiles;
    for (int mr : {6, 4, 2, 1}) tiles += tile_kernel(mr, add);
    c.helper(fmt::format("weec_q8v_tiles{}", add ? "a" : ""), vnni_guarded(tiles));
  }
  return std::string(c.helper(name, vnni_guarded(conv_driver(add))));
}

std::string vnni_gemv(CEmitBase& c, DType x) {
  vnni_prelude(c);
  const bool u8 = x == DType::U8;
  return std::string(
      c.helper(fmt::format("weec_q8v_gemv_{}", u8 ? "u8" : "s8"), vnni_guarded(gemv_kernel(u8))));
}

std::vector<int32_t> pack_quads(const int8_t* w, int64_t rows, int64_t k) {
  const int64_t k4 = (k + 3) / 4;
  std::vector<int32_t> out(rows * k4, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < k; ++q)  // byte i of a lane is tap 4 * k4 + i (little endian)
      out[r * k4 + q / 4] =
          (int32_t)((uint32_t)out[r * k4 + q / 4] | (uint32_t)(uint8_t)w[r * k + q] << (8 * (q % 4)));
  return out;
}

}  // namespace weec::qop
