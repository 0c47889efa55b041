// The float GEMM helper of the C backend (see nn_emit.h): static C functions
// written once per generated file, shared by every conv/matmul node.
//
//   weec_sgemm(M, N, nc, nt, a, lda, b, ldb, toff, c, ldc):
//     c[m * ldc + j] = sum over ic < nc, t < nt of
//                      a[m * lda + ic * nt + t] * b[ic * ldb + toff[t] + j]
//
// With nt = 1 and toff = {0} that is C = A * B; with toff the taps of a
// stride-1 kernel over a (padded) plane of pitch PW it is a convolution
// without an im2col copy (b's row k is the plane shifted by the tap).
//
// Three implementations, picked when the C is compiled and run:
//  * x86-64 with GCC or Clang: an AVX2+FMA copy (target attribute, Intel
//    intrinsics), taken when the CPU has both (__builtin_cpu_supports), so a
//    baseline -O3 build still runs AVX2 code where it can;
//  * GCC/Clang with SSE2 or NEON: 4-wide vector extensions;
//  * anything else (or -DWEEC_NO_SIMD): plain C loops.
// The SIMD ones keep a tile of MR rows x NV vectors of columns in registers
// (6 x 2: 12 accumulators, 2 loads of b and 6 broadcasts of a per 12
// multiply-adds); the last column tile overlaps the previous one instead of
// running a scalar remainder (recomputing a column gives the same value).
// Every path sums over (ic, t) in the same order, so they differ only by
// the rounding of fused multiply-adds.
#include "ops/nn_emit.h"

namespace weec::nn {

namespace {

// How one implementation spells its vector operations.
struct Isa {
  const char* suffix;  // helper names end in _<suffix>
  int width;           // floats per vector
  const char* attr;    // function attribute ("" for none)
  const char* type;    // vector type
  const char* zero;
  std::string (*load)(const std::string& p);
  std::string (*store)(const std::string& p, const std::string& v);
  // Statement(s) setting vector `v` to *p in every lane.
  std::string (*broadcast)(const std::string& v, const std::string& p);
  // Statement: acc += a * b.
  std::string (*fma)(const std::string& acc, const std::string& a, const std::string& b);
};

const Isa kAvx2{
    "avx2",
    8,
    "__attribute__((target(\"avx2,fma\"))) ",
    "__m256",
    "_mm256_setzero_ps()",
    [](const std::string& p) { return fmt::format("_mm256_loadu_ps({})", p); },
    [](const std::string& p, const std::string& v) { return fmt::format("_mm256_storeu_ps({}, {});", p, v); },
    [](const std::string& v, const std::string& p) {
      return fmt::format("{} = _mm256_broadcast_ss({});", v, p);
    },
    [](const std::string& acc, const std::string& a, const std::string& b) {
      return fmt::format("{0} = _mm256_fmadd_ps({1}, {2}, {0});", acc, a, b);
    }};

const Isa kVec4{
    "vec4",
    4,
    "",
    "weec_f4",
    "weec_f4_zero",
    [](const std::string& p) { return fmt::format("(*(const weec_f4u*)({}))", p); },
    [](const std::string& p, const std::string& v) { return fmt::format("*(weec_f4u*)({}) = {};", p, v); },
    [](const std::string& v, const std::string& p) {
      return fmt::format("{{ const float s_ = *({}); {} = (weec_f4){{s_, s_, s_, s_}}; }}", p, v);
    },
    [](const std::string& acc, const std::string& a, const std::string& b) {
      return fmt::format("{} += {} * {};", acc, a, b);
    }};

constexpr int kRowTiles[] = {6, 4, 2, 1};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// Feature tests and vector types, before any helper that uses them.
const char* kPrelude =
    R"(#if defined(__GNUC__) && defined(__x86_64__) && !defined(WEEC_NO_SIMD) && !defined(WEEC_NO_AVX2)
#define WEEC_SIMD_AVX2 1
#include <immintrin.h>
#if defined(__AVX2__) && defined(__FMA__)
#define weec_cpu_avx2_fma() 1
#else
/* Whether this CPU runs AVX2 and FMA (the AVX2 helpers are compiled for them
 * whatever -march says, and taken only when the CPU has them). */
static int weec_cpu_avx2_fma(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif
#endif
)";

// The float vector types, only in files with float kernels: integer-only
// code must not mention float at all.
const char* kFloatVectors =
    R"(#if defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON) || defined(__aarch64__)) && \
    !defined(WEEC_NO_SIMD)
#define WEEC_SIMD_VEC4 1
typedef float weec_f4 __attribute__((vector_size(16)));
/* For loads and stores at any float boundary. */
typedef float weec_f4u __attribute__((vector_size(16), aligned(4), may_alias));
#define weec_f4_zero ((weec_f4){0.0f, 0.0f, 0.0f, 0.0f})
#endif
)";

const char* kParams =
    "int32_t nc, int32_t nt, const float* restrict a, int32_t lda, const float* restrict b, int32_t ldb, "
    "const int32_t* restrict toff, float* restrict c, int32_t ldc";

// One register tile: c[0..mr) x [0..nv * width) of the formula above.
std::string tile_kernel(const Isa& isa, int mr, int nv) {
  CWriter w;
  w.open("static inline {}void weec_sgemm_{}x{}_{}({}) {{", isa.attr, mr, nv, isa.suffix, kParams);
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < nv; ++v) w.line("{} c{}_{} = {};", isa.type, r, v, isa.zero);
  w.line("int32_t ic, t;");
  if (mr == 1) w.line("(void)lda;");
  if (mr == 1) w.line("(void)ldc;");
  w.open("for (ic = 0; ic < nc; ++ic) {{");
  w.line("const float* bc = b + ic * ldb;");
  w.line("const float* ac = a + ic * nt;");
  w.open("for (t = 0; t < nt; ++t) {{");
  w.line("const float* br = bc + toff[t];");
  for (int v = 0; v < nv; ++v)
    w.line("const {} b{} = {};", isa.type, v, isa.load(v ? fmt::format("br + {}", v * isa.width) : "br"));
  w.line("{} av;", isa.type);
  for (int r = 0; r < mr; ++r) {
    w.line("{}", isa.broadcast("av", r ? fmt::format("ac + {} * lda + t", r) : "ac + t"));
    for (int v = 0; v < nv; ++v)
      w.line("{}", isa.fma(fmt::format("c{}_{}", r, v), "av", fmt::format("b{}", v)));
  }
  w.close();
  w.close();
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < nv; ++v) {
      std::string p = r ? fmt::format("c + {} * ldc", r) : "c";
      if (v) p += fmt::format(" + {}", v * isa.width);
      w.line("{}", isa.store(p, fmt::format("c{}_{}", r, v)));
    }
  w.close();
  return w.text();
}

// Column tiles of 2 vectors (1 when N is narrower), the last one moved back
// to end at N; in each, row tiles of 6, then 4, 2, 1. Needs N >= width.
std::string driver(const Isa& isa) {
  CWriter w;
  w.open("static {}void weec_sgemm_{}(int32_t M, int32_t N, {}) {{", isa.attr, isa.suffix, kParams);
  w.line("const int32_t nr = N >= {0} ? {0} : {1};", 2 * isa.width, isa.width);
  w.line("int32_t n0 = 0, m;");
  // One row (a depthwise channel, a vector times a matrix): 4 vectors per
  // tile, for more independent sums than a 1 x 2 tile has.
  w.open("if (M == 1 && N >= {}) {{", 4 * isa.width);
  w.open("for (;; n0 += {}) {{", 4 * isa.width);
  w.line("if (n0 > N - {0}) n0 = N - {0};", 4 * isa.width);
  w.line("weec_sgemm_1x4_{}(nc, nt, a, lda, b + n0, ldb, toff, c + n0, ldc);", isa.suffix);
  w.line("if (n0 == N - {}) return;", 4 * isa.width);
  w.close();
  w.close();
  w.open("for (;;) {{");
  w.line("if (n0 > N - nr) n0 = N - nr;");
  w.line("m = 0;");
  for (int mr : kRowTiles) {
    if (mr == 6)
      w.open("for (; m + 6 <= M; m += 6) {{");
    else
      w.open("if (m + {} <= M) {{", mr);
    std::string args = fmt::format("(nc, nt, a + m * lda, lda, b + n0, ldb, toff, c + m * ldc + n0, ldc)");
    w.line("if (nr == {}) weec_sgemm_{}x2_{}{};", 2 * isa.width, mr, isa.suffix, args);
    w.line("else weec_sgemm_{}x1_{}{};", mr, isa.suffix, args);
    if (mr != 6) w.line("m += {};", mr);
    w.close();
  }
  w.line("if (n0 == N - nr) break;");
  w.line("n0 += nr;");
  w.close();
  w.close();
  return w.text();
}

std::string isa_helpers(const Isa& isa) {
  std::string s;
  for (int mr : kRowTiles)
    for (int nv = 1; nv <= 2; ++nv) s += tile_kernel(isa, mr, nv);
  return s + tile_kernel(isa, 1, 4) + driver(isa);
}

// The entry point: dispatch, then plain C for what the vector code cannot take.
const char* kEntry =
    R"(static void weec_sgemm(int32_t M, int32_t N, int32_t nc, int32_t nt, const float* restrict a,
                       int32_t lda, const float* restrict b, int32_t ldb, const int32_t* restrict toff,
                       float* restrict c, int32_t ldc) {
  int32_t m, j, ic, t;
#if defined(WEEC_SIMD_AVX2)
  if (N >= 8 && weec_cpu_avx2_fma()) {
    weec_sgemm_avx2(M, N, nc, nt, a, lda, b, ldb, toff, c, ldc);
    return;
  }
#endif
#if defined(WEEC_SIMD_VEC4)
  if (N >= 4) {
    weec_sgemm_vec4(M, N, nc, nt, a, lda, b, ldb, toff, c, ldc);
    return;
  }
#endif
  for (m = 0; m < M; ++m) {
    float* cr = c + m * ldc;
    for (j = 0; j < N; ++j) cr[j] = 0;
    for (ic = 0; ic < nc; ++ic)
      for (t = 0; t < nt; ++t) {
        const float av = a[m * lda + ic * nt + t];
        const float* br = b + ic * ldb + toff[t];
        for (j = 0; j < N; ++j) cr[j] += av * br[j];
      }
  }
}
)";

}  // namespace

void simd_prelude(CModuleNeeds& needs) {
  if (!needs.has_helper("weec_simd_prelude")) needs.helpers.emplace_back("weec_simd_prelude", kPrelude);
}

void simd_float_vectors(CModuleNeeds& needs) {
  simd_prelude(needs);
  if (!needs.has_helper("weec_simd_f4")) needs.helpers.emplace_back("weec_simd_f4", kFloatVectors);
}

std::string sgemm_helper(CEmitBase& c) {
  if (!c.needs.has_helper("weec_sgemm")) {
    simd_float_vectors(c.needs);
    c.helper("weec_sgemm_avx2",
             std::string("#if defined(WEEC_SIMD_AVX2)\n") + isa_helpers(kAvx2) + "#endif\n");
    c.helper("weec_sgemm_vec4",
             std::string("#if defined(WEEC_SIMD_VEC4)\n") + isa_helpers(kVec4) + "#endif\n");
  }
  return c.helper("weec_sgemm", kEntry);
}

std::string tap_offsets(CEmitBase& c, const std::vector<int64_t>& offsets) {
  // Named by its contents (shortened by a hash when long): equal tables are one.
  std::string name = "weec_taps", body;
  for (int64_t o : offsets) {
    name += fmt::format("_{}", o);
    body += fmt::format("{}{}", body.empty() ? "" : ", ", o);
  }
  if (offsets.size() > 6) name = fmt::format("weec_taps{}_{:016x}", offsets.size(), fnv1a(body));
  return c.helper(name, fmt::format("static const int32_t {}[{}] = {{{}}};\n", name, offsets.size(), body));
}

}  // namespace weec::nn
