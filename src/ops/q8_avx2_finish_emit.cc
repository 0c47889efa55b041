// AVX2 kernels that turn the int32 accumulators of the int8 ops into
// output values (qop_util.h), and the int16 input planes of qconv_emit.cc,
// as C text under `#if defined(WEEC_SIMD_AVX2)`:
//  * the rescale, in place: acc[j] = clamp(mbqm(acc[j] + bias, m0, -right),
//    lo, hi) + zp, 8 lanes at a time. SaturatingRoundingDoublingHighMul is
//    bits 31..62 of the 64-bit product + 2^30 (vpmuldq of the even lanes, of
//    the odd lanes shifted down; gemmlowp's nudged truncation, exact for
//    m0 != INT32_MIN); RoundingDivideByPOT in its mask/threshold form, or,
//    where the caller proves no int32 overflow, as one rounding add with the
//    zero point folded in: (t + 2^(right-1) + zp * 2^right - (t < 0)) >> right.
//  * weec_q8_finish{,a}_avx2: for each row of a block of output channels,
//    drop the junk columns of a flat stride-1 layout (rows of p -> rows of
//    w, in place) and rescale, in one call per block.
//  * weec_q8_widen_{s8,u8}_avx2: X's plane into an int16 padded plane.
#include <algorithm>

#include "ops/qop_util.h"

namespace weec::qop {

namespace {

constexpr const char* kInline = R"(#if defined(WEEC_SIMD_AVX2)
#define WEEC_Q8_AVX2_INLINE static inline __attribute__((target("avx2,fma")))
#endif
)";

// The per-lane or per-call rescale, noipa entry points (QGemm's rows).
std::string rq_name(bool lane_bias, bool lane_m0) {
  return fmt::format("weec_q8_rq{}{}_avx2", lane_bias ? "_b" : "", lane_m0 ? "_m" : "");
}

// `add`: the rounding-add form (scalar bias/m0/right only). `attr`: the
// function's storage and attributes.
std::string rq_kernel(const std::string& attr, const std::string& name, bool lane_bias, bool lane_m0,
                      bool add) {
  CWriter w;
  w.open(
      "{} void {}(int32_t* acc, int32_t n, {} bias, {} m0, {} right, int32_t lo, int32_t hi, int32_t zp) {{",
      attr, name, lane_bias ? "const int32_t*" : "int32_t", lane_m0 ? "const int32_t*" : "int32_t",
      lane_m0 ? "const int32_t*" : "int32_t");
  w.line("const __m256i nudge = _mm256_set1_epi64x(1073741824);");
  if (add) {
    w.line("const __m256i vlo = _mm256_set1_epi32(lo + zp), vhi = _mm256_set1_epi32(hi + zp);");
    w.line(
        "const __m256i vc = _mm256_set1_epi32((int32_t)((((int64_t)1 << right) >> 1) + (int64_t)zp * "
        "((int64_t)1 << right)));");
  } else {
    w.line(
        "const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi), vzp = "
        "_mm256_set1_epi32(zp);");
  }
  if (!lane_bias) w.line("const __m256i vb = _mm256_set1_epi32(bias);");
  if (!lane_m0) {
    w.line("const __m256i vm = _mm256_set1_epi32(m0);");
    w.line("const __m128i vr = _mm_cvtsi32_si128(right);");
    if (!add) {
      w.line("const int32_t mask = (int32_t)(0x7fffffffu >> (31 - right));");
      w.line("const __m256i vmask = _mm256_set1_epi32(mask), vhalf = _mm256_set1_epi32(mask >> 1);");
    }
  } else {
    w.line("const __m256i ones = _mm256_set1_epi32(0x7fffffff), v31 = _mm256_set1_epi32(31);");
  }
  w.line("int32_t j;");
  auto load = [&](const std::string& p) {
    return fmt::format("_mm256_loadu_si256((const __m256i*)(const void*)({}))", p);
  };
  w.open("for (j = 0; j < n; j += 8) {{");
  w.line("const __m256i x = _mm256_add_epi32({}, {});", load("acc + j"), lane_bias ? load("bias + j") : "vb");
  if (lane_m0) {
    w.line("const __m256i vm = {};", load("m0 + j"));
    w.line("const __m256i vr = {};", load("right + j"));
    w.line("const __m256i vmask = _mm256_srlv_epi32(ones, _mm256_sub_epi32(v31, vr));");
    w.line("const __m256i vhalf = _mm256_srli_epi32(vmask, 1);");
  }
  w.line("const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, vm), nudge);");
  w.line("const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), {}), nudge);",
         lane_m0 ? "_mm256_srli_epi64(vm, 32)" : "vm");
  w.line("const __m256i t = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xaa);");
  if (add) {
    w.line("__m256i v = _mm256_add_epi32(t, vc);");
    w.line("if (right) v = _mm256_sra_epi32(_mm256_add_epi32(v, _mm256_srai_epi32(t, 31)), vr);");
    w.line("v = _mm256_min_epi32(_mm256_max_epi32(v, vlo), vhi);");
  } else {
    w.line("const __m256i thr = _mm256_sub_epi32(vhalf, _mm256_srai_epi32(t, 31));");
    w.line("__m256i v = _mm256_sub_epi32({}, _mm256_cmpgt_epi32(_mm256_and_si256(t, vmask), thr));",
           lane_m0 ? "_mm256_srav_epi32(t, vr)" : "_mm256_sra_epi32(t, vr)");
    w.line("v = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(v, vlo), vhi), vzp);");
  }
  w.line("_mm256_storeu_si256((__m256i*)(void*)(acc + j), v);");
  w.close();
  w.close();
  return w.text();
}

// In place, rows in increasing order: every destination lies at or before
// its source, and each row's source is read before it can be overwritten
// (the tail first for w >= 8; for w < 8 the next row ahead, as the 8-wide
// store of row r runs on to r * w + 8, past row r + 1's start but, where
// 3p - w >= 8, not to row r + 2's; else scalar). Reads up to
// a[(rows - 1) * p + 8].
constexpr const char* kCompact =
    R"(WEEC_Q8_AVX2_INLINE void weec_q8_compact_row(int32_t* a, int32_t rows, int32_t w, int32_t p) {
  int32_t r, i;
  if (w >= 8) {
    for (r = 1; r < rows; ++r) {
      int32_t* d = a + r * w;
      const int32_t* s = a + r * p;
      const __m256i tail = _mm256_loadu_si256((const __m256i*)(const void*)(s + w - 8));
      for (i = 0; i + 8 <= w; i += 8)
        _mm256_storeu_si256((__m256i*)(void*)(d + i), _mm256_loadu_si256((const __m256i*)(const void*)(s + i)));
      _mm256_storeu_si256((__m256i*)(void*)(d + w - 8), tail);
    }
  } else if (3 * p - w < 8) {
    for (r = 1; r < rows; ++r)
      for (i = 0; i < w; ++i) a[r * w + i] = a[r * p + i];
  } else if (rows > 1) {
    __m256i cur = _mm256_loadu_si256((const __m256i*)(const void*)(a + p));
    for (r = 1; r < rows; ++r) {
      const __m256i next =
          r + 1 < rows ? _mm256_loadu_si256((const __m256i*)(const void*)(a + (r + 1) * p)) : cur;
      _mm256_storeu_si256((__m256i*)(void*)(a + r * w), cur);
      cur = next;
    }
  }
}
)";

std::string finish_kernel(bool add) {
  CWriter w;
  w.open(
      "WEEC_Q8_AVX2 void weec_q8_finish{}_avx2(int32_t* acc, int32_t m, int32_t ld, int32_t rows, int32_t w, "
      "int32_t p, const int32_t* bias, const int32_t* m0, const int32_t* right, int32_t lo, int32_t hi, "
      "int32_t zp) {{",
      add ? "a" : "");
  w.line("int32_t r;");
  w.open("for (r = 0; r < m; ++r) {{");
  w.line("int32_t* a = acc + r * ld;");
  w.line("if (p != w) weec_q8_compact_row(a, rows, w, p);");
  w.line("weec_q8_rq{}_row(a, rows * w, bias ? bias[r] : 0, m0[r], right[r], lo, hi, zp);", add ? "a" : "");
  w.close();
  w.close();
  return w.text();
}

// Rows of w < 16 whose gaps (pw - w) are at most 8 go 8 (w <= 8) or 16
// columns at a time from their start, each followed by 8 pad columns at its
// end: the stores run on into later rows and gaps, every one rewritten in
// its turn (the last row's pad store lands in the bottom padding or the
// plane's spare columns). The last rows, whose load would leave X or whose
// store would pass the last pad store, are scalar.
std::string widen_kernel(bool u8) {
  const std::string t = u8 ? "uint8_t" : "int8_t", sx = u8 ? "u8" : "s8";
  auto cvt = [&](bool wide, const std::string& p) {
    const char* e = u8 ? "epu8" : "epi8";
    return wide ? fmt::format("_mm256_cvt{}_epi16(_mm_loadu_si128((const __m128i*)(const void*)({})))", e, p)
                : fmt::format("_mm_cvt{}_epi16(_mm_loadl_epi64((const __m128i*)(const void*)({})))", e, p);
  };
  CWriter w;
  w.open(
      "WEEC_Q8_AVX2 void weec_q8_widen_{}_avx2(const {}* x, int32_t h, int32_t w, int16_t* d, int32_t pw, "
      "int32_t pad) {{",
      sx, t);
  w.line("const __m128i pv = _mm_set1_epi16((short)pad);");
  w.line("const int32_t step = w <= 8 ? 8 : 16;");
  w.line("int32_t r = 0, i, rv = h;");
  w.open("if (w >= 16 || pw - w > 8) {{");
  w.open("for (; r < h; ++r) {{");
  w.line("const {}* s = x + r * w;", t);
  w.line("int16_t* o = d + r * pw;");
  w.line("for (i = 0; i + 16 <= w; i += 16) _mm256_storeu_si256((__m256i*)(void*)(o + i), {});",
         cvt(true, "s + i"));
  w.line("if (i < w && w >= 16) _mm256_storeu_si256((__m256i*)(void*)(o + w - 16), {});",
         cvt(true, "s + w - 16"));
  w.line("else");
  w.line("  for (; i < w; ++i) o[i] = s[i];");
  w.close();
  w.line("return;");
  w.close();
  w.line(
      "while (rv > 0 && ((rv - 1) * w + step > h * w || (rv - 1) * pw + step > (h - 1) * pw + w + 8)) --rv;");
  w.open("{{");
  w.line("const {}* s = x;", t);
  w.line("int16_t* o = d;");
  w.open("for (; r < rv; ++r, s += w, o += pw) {{");
  w.line("if (step == 8)");
  w.line("  _mm_storeu_si128((__m128i*)(void*)o, {});", cvt(false, "s"));
  w.line("else");
  w.line("  _mm256_storeu_si256((__m256i*)(void*)o, {});", cvt(true, "s"));
  w.line("_mm_storeu_si128((__m128i*)(void*)(o + w), pv);");
  w.close();
  w.close();
  w.open("for (; r < h; ++r) {{");
  w.line("for (i = 0; i < w; ++i) d[r * pw + i] = x[r * w + i];");
  w.line("_mm_storeu_si128((__m128i*)(void*)(d + r * pw + w), pv);");
  w.close();
  w.close();
  return w.text();
}

}  // namespace

std::string avx2_requant(CEmitBase& c, bool lane_bias, bool lane_m0) {
  avx2_prelude(c);
  const std::string name = rq_name(lane_bias, lane_m0);
  return std::string(
      c.helper(name, avx2_guarded(rq_kernel("WEEC_Q8_AVX2", name, lane_bias, lane_m0, false))));
}

std::string avx2_finish(CEmitBase& c, bool add) {
  avx2_prelude(c);
  c.helper("weec_q8_avx2_inline", kInline);
  c.helper("weec_q8_compact_row", avx2_guarded(kCompact));
  const std::string row = add ? "weec_q8_rqa_row" : "weec_q8_rq_row";
  c.helper(row, avx2_guarded(rq_kernel("WEEC_Q8_AVX2_INLINE", row, false, false, add)));
  return std::string(
      c.helper(fmt::format("weec_q8_finish{}_avx2", add ? "a" : ""), avx2_guarded(finish_kernel(add))));
}

std::string avx2_widen(CEmitBase& c, DType x) {
  avx2_prelude(c);
  const bool u8 = x == DType::U8;
  return std::string(
      c.helper(fmt::format("weec_q8_widen_{}_avx2", u8 ? "u8" : "s8"), avx2_guarded(widen_kernel(u8))));
}

bool requant_simd_ok(const Requant& r) {
  for (size_t i = 0; i < r.m0.size(); ++i)
    if (r.shift[i] > 0 || r.m0[i] == INT32_MIN) return false;
  return true;
}

bool rq_add_ok(int64_t acc_bound, int32_t shift, int32_t zp) {
  if (shift > 0) return false;
  const int64_t right = -shift;
  return acc_bound + (right ? int64_t{1} << (right - 1) : 0) +
             std::abs((int64_t)zp) * (int64_t{1} << right) <=
         INT32_MAX;
}

RqBounds rq_bounds(const Requant& r) {
  auto clip = [](int64_t v) { return (int32_t)std::clamp<int64_t>(v, INT32_MIN, INT32_MAX); };
  return {clip((int64_t)r.lo - r.zp), clip((int64_t)r.hi - r.zp)};
}

}  // namespace weec::qop
