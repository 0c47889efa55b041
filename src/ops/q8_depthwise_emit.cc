// int8 depthwise convolution (one input and one output channel per group)
// with AVX-512 VBMI and VNNI, ahead of QConv's GEMM forms (qconv_emit.cc).
//
// Through the GEMM a depthwise channel is a 1-row product over shifted
// copies of its plane (widened, with junk columns), then a separate rescale
// and compaction pass: few multiply-adds per instruction, and the passes
// cost more than the sums. Here each vector of 16 outputs q (the flat output
// plane, no junk) is computed in registers from one 64-byte window of X:
//   for each quad d of taps (4 d .. 4 d + 3, K = KH * KW taps):
//     vpermt2b gathers, per output lane, the 4 bytes of X those taps read,
//       or a pad byte (x_zero_point) where a tap falls outside X,
//     vpdpbusd adds their 4 products with the channel's weight quad;
//   then the rescale of q8_vnni_emit.cc and one narrowing store into Y.
// The byte indices (and each window's start) depend only on the shape, so
// they are compile-time tables, one 64-byte vector per (output vector,
// quad). A shape whose taps for 16 outputs span more than 64 bytes of X (a
// wide plane or a tall kernel) keeps the GEMM forms.
//
// vpdpbusd takes u8 activations: int8 X is read as x + 128 (xor 0x80) and
// -128 * sum(w) goes into the bias, as in the VNNI conv. The bias also
// holds -x_zp * sum(w) (QConv's fold); the pad bytes are x_zp, which add
// x_zp * w back for the taps in the padding, so every tap counts x - x_zp.
#include "ops/qop_util.h"

namespace weec::qop {

namespace {

constexpr int64_t kLanes = 16, kWindow = 64, kMaxIndexBytes = 32768;

constexpr const char* kTarget = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi";

// The CPU test (VNNI and VBMI) and the function attribute.
constexpr const char* kPrelude = R"(#if defined(__clang__)
#define WEEC_Q8_VBMI static __attribute__((target("%T"), noinline))
#else
#define WEEC_Q8_VBMI static __attribute__((target("%T"), noipa))
#endif
#if defined(__AVX512VBMI__) && defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX2__) && defined(__FMA__)
#define weec_cpu_avx512vbmi() 1
#else
/* Whether this CPU runs the VBMI depthwise kernels (AVX-512 VNNI and VBMI;
 * the AVX2 test too, which the other forms may not call). */
static int weec_cpu_avx512vbmi(void) {
  __builtin_cpu_init();
  return weec_cpu_avx2_fma() && weec_cpu_avx512vnni() && __builtin_cpu_supports("avx512vbmi");
}
#endif
)";

// The tables of one shape: per output vector, the start of its window in
// X's plane, the mask of the window's bytes inside the plane, and per quad
// the 64 vpermt2b indices (bytes 4 l .. 4 l + 3 for output lane l; 64
// selects the pad vector).
struct Windows {
  int64_t nv = 0, nd = 0;
  std::vector<int32_t> base;
  std::vector<uint64_t> load_mask;
  std::vector<uint8_t> index;
};

bool plan_windows(const Plane& g, Windows& p) {
  const int64_t K = g.KH * g.KW, n = g.OH * g.OW, plane = g.H * g.W;
  p.nv = (n + kLanes - 1) / kLanes;
  p.nd = (K + 3) / 4;
  if (p.nv * p.nd * kWindow > kMaxIndexBytes) return false;
  // X's flat index read by tap t of output q, or -1 in the padding.
  auto at = [&](int64_t q, int64_t t) -> int64_t {
    if (q >= n || t >= K) return -1;
    const int64_t ih = q / g.OW * g.SH + t / g.KW * g.DH - g.PT,
                  iw = q % g.OW * g.SW + t % g.KW * g.DW - g.PL;
    return ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? ih * g.W + iw : -1;
  };
  for (int64_t v = 0; v < p.nv; ++v) {
    int64_t lo = INT64_MAX, hi = -1;
    for (int64_t q = v * kLanes; q < (v + 1) * kLanes; ++q)
      for (int64_t t = 0; t < K; ++t)
        if (const int64_t f = at(q, t); f >= 0) lo = std::min(lo, f), hi = std::max(hi, f);
    if (hi < 0) lo = 0;  // every tap in the padding
    if (hi - lo >= kWindow) return false;
    p.base.push_back((int32_t)lo);
    const int64_t inside = std::min(kWindow, plane - lo);
    p.load_mask.push_back(inside >= kWindow ? ~0ull : (1ull << inside) - 1);
    for (int64_t d = 0; d < p.nd; ++d)
      for (int64_t l = 0; l < kLanes; ++l)
        for (int64_t b = 0; b < 4; ++b) {
          const int64_t f = at(v * kLanes + l, 4 * d + b);
          p.index.push_back((uint8_t)(f >= 0 ? f - lo : kWindow));
        }
  }
  return true;
}

std::string kernel_text(const std::string& name, const Plane& g, const Windows& p, bool flip, int pad,
                        bool add) {
  const int64_t n = g.OH * g.OW, tail = n - kLanes * (p.nv - 1);
  CWriter w;
  w.line("static const uint8_t {}_index[{}] __attribute__((aligned(64))) = {{", name, p.index.size());
  for (size_t i = 0; i < p.index.size(); i += 32) {
    std::string row;
    for (size_t j = i; j < std::min(i + 32, p.index.size()); ++j) row += fmt::format("{},", p.index[j]);
    w.line("  {}", row);
  }
  w.line("}};");
  std::string base, masks;
  for (int64_t v = 0; v < p.nv; ++v) {
    base += fmt::format("{}, ", p.base[v]);
    masks += fmt::format("0x{:x}ull, ", p.load_mask[v]);
  }
  w.line("static const int32_t {}_base[{}] = {{ {} }};", name, p.nv, base);
  w.line("static const unsigned long long {}_load[{}] = {{ {} }};", name, p.nv, masks);
  w.open(
      "WEEC_Q8_VBMI void {}(int32_t C, const void* xv, void* yv, const int32_t* wq, const int32_t* bias, "
      "const int32_t* m0, const int32_t* right, int32_t lo, int32_t hi, int32_t zp) {{",
      name);
  w.line("const uint8_t* x = (const uint8_t*)xv;");
  w.line("uint8_t* y = (uint8_t*)yv;");
  w.line("const __m512i flip = _mm512_set1_epi8({}), pad = _mm512_set1_epi8((char){});",
         flip ? "(char)0x80" : "0", pad);
  w.line("int32_t c, v;");
  w.open("for (c = 0; c < C; ++c, x += {}, y += {}) {{", g.H * g.W, n);
  w.line("WEEC_Q8V_RQ{}_CONSTS(c);", add ? "A" : "");
  w.line("const __m512i vb = _mm512_set1_epi32(bias[c]);");
  for (int64_t d = 0; d < p.nd; ++d)
    w.line("const __m512i w{} = _mm512_set1_epi32(wq[c * {} + {}]);", d, p.nd, d);
  w.open("for (v = 0; v < {}; ++v) {{", p.nv);
  w.line(
      "const __m512i win = _mm512_xor_si512(_mm512_maskz_loadu_epi8({0}_load[v], (const void*)(x + "
      "{0}_base[v])), flip);",
      name);
  w.line("const __m512i* ix = (const __m512i*)(const void*)({}_index + v * {});", name, p.nd * kWindow);
  w.line("__m512i s = vb;");
  for (int64_t d = 0; d < p.nd; ++d)
    w.line(
        "s = _mm512_dpbusd_epi32(s, _mm512_permutex2var_epi8(win, _mm512_load_si512(ix + {0}), pad), w{0});",
        d);
  w.line(
      "_mm512_mask_cvtepi32_storeu_epi8((void*)(y + v * 16), v < {} ? (__mmask16)0xffff : (__mmask16)0x{:x}, "
      "WEEC_Q8V_RQ{}(s));",
      p.nv - 1, (1u << tail) - 1, add ? "A" : "");
  w.close();
  w.close();
  w.close();
  return w.text();
}

}  // namespace

bool emit_q8_depthwise_vbmi(CEmitContext& c, const QConvSpec& s, const std::vector<int64_t>& bias,
                            const std::vector<int64_t>& bound) {
  const Plane g = plane_of(s.p.w);
  const DType xt = c.input_dtype(0);
  const Tensor* wc = c.input_constant(1);
  const Graph* owner = c.node.owner;
  // A fused group's epilogue would need Y through store(): top-level nodes only.
  if (!owner || owner->parent || !wc || s.p.group != s.p.c_in || s.p.c_out != s.p.c_in || !is_q8(xt) ||
      !is_q8(s.rq.out) || !requant_simd_ok(s.rq) || g.OH * g.OW == 0)
    return false;
  for (int64_t b : bound)
    if (b > INT32_MAX) return false;
  Windows p;
  if (!plan_windows(g, p)) return false;
  const int64_t C = s.p.c_out, K = g.KH * g.KW;
  const bool flip = xt == DType::I8;
  const int8_t* w = wc->data<int8_t>();
  bool add = true;
  std::vector<int32_t> m0, right, vbias;
  for (int64_t oc = 0; oc < C; ++oc) {
    const size_t i = s.rq.per_channel() ? (size_t)oc : 0;
    add = add && rq_add_ok(bound[oc], s.rq.shift[i], s.rq.zp);
    m0.push_back(s.rq.m0[i]);
    right.push_back(-s.rq.shift[i]);
    int64_t sum = 0;
    for (int64_t q = 0; q < K; ++q) sum += w[oc * K + q];
    // Wraps like the kernel's sums: exact where the true sum fits int32.
    vbias.push_back((int32_t)(uint32_t)(uint64_t)(bias[oc] - (flip ? 128 * sum : 0)));
  }
  const int pad = flip ? s.x_zp + 128 : s.x_zp;
  const std::string name =
      fmt::format("weec_q8v_dw_{}x{}_k{}x{}_s{}x{}_d{}x{}_p{}x{}_o{}x{}_{}{}{}", g.H, g.W, g.KH, g.KW, g.SH,
                  g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW, flip ? "s8_pad" : "u8_pad", pad, add ? "a" : "");
  vnni_rescale(c, add);
  std::string prelude = kPrelude;
  for (size_t at; (at = prelude.find("%T")) != std::string::npos;) prelude.replace(at, 2, kTarget);
  c.helper("weec_q8_vbmi_prelude", vnni_guarded(prelude));
  c.helper(name, vnni_guarded(kernel_text(name, g, p, flip, pad, add)));
  const std::string wq = avx2_table(c, "wq", pack_quads(w, C, K), true),
                    vb = avx2_table(c, "vbias", vbias, true), m0t = avx2_table(c, "m0", m0, true),
                    rt = avx2_table(c, "right", right, true);
  const RqBounds bd = rq_bounds(s.rq);
  const std::string nv = c.var("n");
  c.w.line("#if defined(WEEC_SIMD_VNNI)");
  c.w.open("if (weec_cpu_avx512vbmi()) {{");
  c.w.line(
      "for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}({3}, {4} + {0} * {5}, {6} + {0} * {7}, {8}, {9}, {10}, "
      "{11}, {12}, {13}, {14});",
      nv, s.p.batch, name, C, c.in(0), C * g.H * g.W, c.out(0), C * g.OH * g.OW, wq, vb, m0t, rt,
      lit32(bd.lo), lit32(bd.hi), lit32(s.rq.zp));
  c.w.close();
  c.w.line("else");
  c.w.line("#endif");
  return true;
}

}  // namespace weec::qop
