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
// Four implementations, picked when the C is compiled and run:
//  * x86-64 with GCC or Clang: an AVX-512F copy and an AVX2+FMA copy
//    (target attributes, Intel intrinsics), the widest the CPU has taken
//    (__builtin_cpu_supports), so a baseline -O3 build still runs them;
//  * GCC/Clang with SSE2 or NEON: 4-wide vector extensions;
//  * anything else (or -DWEEC_NO_SIMD): plain C loops.
// The SIMD ones keep a tile of MR rows x NV vectors of columns in registers
// (AVX2 and 4-wide: 6 x 2, 12 accumulators, 2 loads of b and 6 broadcasts
// of a per 12 multiply-adds; AVX-512: up to 6 x 4). For AVX2 and 4-wide,
// the last column tile overlaps the previous one instead of running a
// scalar remainder (recomputing a column gives the same value); AVX-512
// masks the last vector instead.
// Every path sums over (ic, t) in the same order, so they differ only by
// the rounding of fused multiply-adds.
#include "ops/nn_emit.h"
#include "ops/registry.h"

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
  // Masked forms (AVX-512; null elsewhere): only the lanes set in mask `m`
  // are read (the others are zero, and never fault) or written.
  std::string (*load_masked)(const std::string& p, const std::string& m) = nullptr;
  std::string (*store_masked)(const std::string& p, const std::string& v, const std::string& m) = nullptr;
  // Most vectors per column tile, and the row tiles (the largest first).
  int max_nv = 2;
  std::vector<int> row_tiles = {6, 4, 2, 1};
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

// 32 zmm registers: tiles of up to 6 rows x 4 vectors (24 sums, 4 loads of
// b and 6 broadcasts per 24 multiply-adds); a masked last vector instead of
// overlapping tiles, so any N works.
const Isa kAvx512{
    "avx512",
    16,
    "__attribute__((target(\"avx512f,fma\"))) ",
    "__m512",
    "_mm512_setzero_ps()",
    [](const std::string& p) { return fmt::format("_mm512_loadu_ps({})", p); },
    [](const std::string& p, const std::string& v) { return fmt::format("_mm512_storeu_ps({}, {});", p, v); },
    [](const std::string& v, const std::string& p) {
      return fmt::format("{} = _mm512_set1_ps(*({}));", v, p);
    },
    [](const std::string& acc, const std::string& a, const std::string& b) {
      return fmt::format("{0} = _mm512_fmadd_ps({1}, {2}, {0});", acc, a, b);
    },
    [](const std::string& p, const std::string& m) {
      return fmt::format("_mm512_maskz_loadu_ps({}, {})", m, p);
    },
    [](const std::string& p, const std::string& v, const std::string& m) {
      return fmt::format("_mm512_mask_storeu_ps({}, {}, {});", p, m, v);
    },
    4,
    {6, 4, 2, 1}};

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

// AVX-512 feature test, for float kernels only. -DWEEC_NO_AVX2 turns it off
// too (it is meant to give the portable code); -DWEEC_NO_AVX512 alone
// leaves AVX2.
const char* kAvx512Prelude =
    R"(#if defined(WEEC_SIMD_AVX2) && !defined(WEEC_NO_AVX512)
#define WEEC_SIMD_AVX512 1
#if defined(__AVX512F__) && defined(__FMA__)
#define weec_cpu_avx512() 1
#else
/* Whether this CPU (and OS) runs AVX-512F; its helpers are compiled for it
 * whatever -march says, and taken only when the CPU has it. */
static int weec_cpu_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
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

// One register tile: c[0..mr) x [0..nv * width) of the formula above. With
// masks, the last vector covers only the lanes of `mk`.
std::string tile_kernel(const Isa& isa, int mr, int nv) {
  const bool masked = isa.load_masked != nullptr;
  CWriter w;
  w.open("static inline {}void weec_sgemm_{}x{}_{}({}{}) {{", isa.attr, mr, nv, isa.suffix, kParams,
         masked ? ", __mmask16 mk" : "");
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
  for (int v = 0; v < nv; ++v) {
    const std::string p = v ? fmt::format("br + {}", v * isa.width) : "br";
    w.line("const {} b{} = {};", isa.type, v, masked && v == nv - 1 ? isa.load_masked(p, "mk") : isa.load(p));
  }
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
      const std::string acc = fmt::format("c{}_{}", r, v);
      w.line("{}", masked && v == nv - 1 ? isa.store_masked(p, acc, "mk") : isa.store(p, acc));
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
  for (int mr : isa.row_tiles) {
    if (mr == isa.row_tiles[0])
      w.open("for (; m + {0} <= M; m += {0}) {{", mr);
    else
      w.open("if (m + {} <= M) {{", mr);
    std::string args = fmt::format("(nc, nt, a + m * lda, lda, b + n0, ldb, toff, c + m * ldc + n0, ldc)");
    w.line("if (nr == {}) weec_sgemm_{}x2_{}{};", 2 * isa.width, mr, isa.suffix, args);
    w.line("else weec_sgemm_{}x1_{}{};", mr, isa.suffix, args);
    if (mr != isa.row_tiles[0]) w.line("m += {};", mr);
    w.close();
  }
  w.line("if (n0 == N - nr) break;");
  w.line("n0 += nr;");
  w.close();
  w.close();
  return w.text();
}

// With masks: column tiles of max_nv vectors, the last one narrower (its
// last vector masked); in each, the row tiles. Any N >= 1.
std::string masked_driver(const Isa& isa) {
  const int span = isa.max_nv * isa.width;
  CWriter w;
  w.open("static {}void weec_sgemm_{}(int32_t M, int32_t N, {}) {{", isa.attr, isa.suffix, kParams);
  w.line("int32_t n0, m;");
  w.open("for (n0 = 0; n0 < N; n0 += {}) {{", span);
  w.line("const int32_t cols = N - n0 < {0} ? N - n0 : {0};", span);
  w.line("const int32_t nv = (cols + {0}) / {1};", isa.width - 1, isa.width);
  w.line("const __mmask16 mk = (__mmask16)(0xFFFFu >> (nv * {} - cols));", isa.width);
  w.line("m = 0;");
  for (int mr : isa.row_tiles) {
    if (mr == isa.row_tiles[0])
      w.open("for (; m + {0} <= M; m += {0}) {{", mr);
    else
      w.open("if (m + {} <= M) {{", mr);
    const std::string args =
        fmt::format("(nc, nt, a + m * lda, lda, b + n0, ldb, toff, c + m * ldc + n0, ldc, mk)");
    w.open("switch (nv) {{");
    for (int nv = 1; nv <= isa.max_nv; ++nv)
      w.line("{}: weec_sgemm_{}x{}_{}{}; break;", nv == isa.max_nv ? "default" : fmt::format("case {}", nv),
             mr, nv, isa.suffix, args);
    w.close();
    if (mr != isa.row_tiles[0]) w.line("m += {};", mr);
    w.close();
  }
  w.close();
  w.close();
  return w.text();
}

std::string isa_helpers(const Isa& isa) {
  std::string s;
  for (int mr : isa.row_tiles)
    for (int nv = 1; nv <= isa.max_nv; ++nv) s += tile_kernel(isa, mr, nv);
  if (isa.load_masked) return s + masked_driver(isa);
  return s + tile_kernel(isa, 1, 4) + driver(isa);
}

// The entry point: dispatch, then plain C for what the vector code cannot take.
const char* kEntry =
    R"(static void weec_sgemm(int32_t M, int32_t N, int32_t nc, int32_t nt, const float* restrict a,
                       int32_t lda, const float* restrict b, int32_t ldb, const int32_t* restrict toff,
                       float* restrict c, int32_t ldc) {
  int32_t m, j, ic, t;
#if defined(WEEC_SGEMM_AVX512)
  if (weec_cpu_avx512()) {
    weec_sgemm_avx512(M, N, nc, nt, a, lda, b, ldb, toff, c, ldc);
    return;
  }
#endif
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

void simd_avx512(CModuleNeeds& needs) {
  simd_prelude(needs);
  if (!needs.has_helper("weec_simd_avx512")) needs.helpers.emplace_back("weec_simd_avx512", kAvx512Prelude);
}

void simd_float_vectors(CModuleNeeds& needs) {
  simd_prelude(needs);
  if (!needs.has_helper("weec_simd_f4")) needs.helpers.emplace_back("weec_simd_f4", kFloatVectors);
}

namespace {

// Whether the graph holding `node` (the top-level one) has a node of at
// least 16,384 MACs: the AVX-512 GEMM's 16 tile kernels add about half to
// the C compiler's time for a file, not worth it for tiny graphs (such as
// the ONNX node tests), whose GEMMs then take AVX2.
bool graph_has_large_node(const Node& node) {
  const Graph* g = node.owner;
  while (g && g->parent) g = g->parent;
  if (!g) return true;
  for (auto& n : g->nodes())
    if (node_macs(*n) >= 16384) return true;
  return false;
}

}  // namespace

std::string sgemm_helper(CEmitBase& c) {
  if (!c.needs.has_helper("weec_sgemm")) {
    simd_float_vectors(c.needs);
    if (graph_has_large_node(c.node)) {
      simd_avx512(c.needs);
      c.helper("weec_sgemm_avx512",
               std::string("#if defined(WEEC_SIMD_AVX512)\n#define WEEC_SGEMM_AVX512 1\n") +
                   isa_helpers(kAvx512) + "#endif\n");
    }
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
