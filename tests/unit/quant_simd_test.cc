// The AVX2 kernels of q8_avx2_*.cc called directly from a C program built
// with the system cc, against references written here: the vector rescale
// (per-lane parameters, per-row exact and rounding-add forms, the junk-column
// compaction before it) on over 10^6 values weighted toward INT32_MIN/MAX,
// rounding ties and shifts of 0 and 31 (the reference is quant_test_util.h's
// __int128 arithmetic); the GEMM and GEMV kernels on shapes with every row,
// column and K tail. Skipped where the CPU has no AVX2.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "ops/qop_util.h"
#include "ops/registry.h"
#include "quant_test_util.h"

namespace weec::qtest {
namespace {

namespace fs = std::filesystem;

// The kernels' C text, as the backend would write it into a model.
std::string kernels_text() {
  Graph g;
  Value* x = g.add_input("x", TensorType{DType::I8, Shape::of({1})});
  Node* node = g.add_node(OpKind::Relu, {x}, {g.add_value("y")});
  CModuleNeeds needs;
  CEmitBase base(*node, op_schema(OpKind::Relu), needs);
  qop::avx2_requant(base, true, true);
  qop::avx2_finish(base, false);
  qop::avx2_finish(base, true);
  for (DType t : {DType::I8, DType::U8, DType::I16}) qop::avx2_gemm(base, t);
  for (DType t : {DType::I8, DType::U8}) qop::avx2_gemv(base, t);
  std::string text;
  for (auto& [name, def] : needs.helpers) text += def + "\n";
  return text;
}

// Records of int32 values, each a kind and a header, then its data; every
// kernel's results go to the output file in order.
//   0 (weec_q8_rq_b_m_avx2), 1 (weec_q8_finish_avx2), 2 (finisha):
//     n bias m0 right lo hi zp rows w p, then n accumulators (kind 0: and n
//     each of bias, m0, right; kinds 1-2: rows of p, n = rows * p).
//   3, 4, 5 (weec_q8_gemm_avx2_s8/u8/p16): M N kp nb, then M * kp packed
//     pairs, nb values of b, 2 kp (p16: kp) offsets.
//   6, 7 (weec_q8_gemv_avx2_s8/u8): N K, then N * K weights, K values of x.
const char* kMain = R"(
static int32_t buf[4][4096];
static int8_t b8[8192], w8[8192];
static int16_t b16[8192];
static int get(FILE* in, int32_t* p, int32_t n) { return fread(p, sizeof(int32_t), (size_t)n, in) == (size_t)n; }
int main(int argc, char** argv) {
  FILE* in = argc == 3 ? fopen(argv[1], "rb") : 0;
  FILE* out = argc == 3 ? fopen(argv[2], "wb") : 0;
  int32_t h[12], n = 0, i;
  if (!in || !out) return 2;
#if defined(WEEC_SIMD_AVX2)
  if (!weec_cpu_avx2_fma()) return 77;
  while (get(in, h, 1)) {
    const int32_t kind = h[0];
    if (kind <= 2) {
      if (!get(in, h + 1, 10) || !get(in, buf[0], h[1])) return 3;
      if (kind == 0) {
        for (i = 1; i < 4; ++i)
          if (!get(in, buf[i], h[1])) return 3;
        weec_q8_rq_b_m_avx2(buf[0], h[1], buf[1], buf[2], buf[3], h[5], h[6], h[7]);
        n = h[1];
      } else {
        buf[1][0] = h[2], buf[2][0] = h[3], buf[3][0] = h[4];
        if (kind == 1)
          weec_q8_finish_avx2(buf[0], 1, 4096, h[8], h[9], h[10], buf[1], buf[2], buf[3], h[5], h[6], h[7]);
        else
          weec_q8_finisha_avx2(buf[0], 1, 4096, h[8], h[9], h[10], buf[1], buf[2], buf[3], h[5], h[6], h[7]);
        n = h[8] * h[9];
      }
    } else if (kind <= 5) {
      const int32_t M = (get(in, h + 1, 4), h[1]), N = h[2], kp = h[3], nb = h[4];
      if (!get(in, buf[1], M * kp) || !get(in, buf[2], nb) || !get(in, buf[3], kind == 5 ? kp : 2 * kp)) return 3;
      for (i = 0; i < nb; ++i) b8[i] = (int8_t)buf[2][i], b16[i] = (int16_t)buf[2][i];
      if (kind == 3) weec_q8_gemm_avx2_s8(M, N, kp, buf[1], b8, buf[3], buf[0], N);
      if (kind == 4) weec_q8_gemm_avx2_u8(M, N, kp, buf[1], (const uint8_t*)(const void*)b8, buf[3], buf[0], N);
      if (kind == 5) weec_q8_gemm_avx2_p16(M, N, kp, buf[1], b16, buf[3], buf[0], N);
      n = M * N;
    } else {
      const int32_t N = (get(in, h + 1, 2), h[1]), K = h[2];
      if (!get(in, buf[1], N * K) || !get(in, buf[2], K)) return 3;
      for (i = 0; i < N * K; ++i) w8[i] = (int8_t)buf[1][i];
      for (i = 0; i < K; ++i) b8[i] = (int8_t)buf[2][i];
      if (kind == 6) weec_q8_gemv_avx2_s8(N, K, b8, w8, buf[0]);
      if (kind == 7) weec_q8_gemv_avx2_u8(N, K, (const uint8_t*)(const void*)b8, w8, buf[0]);
      n = N;
    }
    if (fwrite(buf[0], sizeof(int32_t), (size_t)n, out) != (size_t)n) return 4;
  }
  return fclose(out) != 0;
#else
  return 77;
#endif
}
)";

std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "cannot start " + cmd};
  char b[4096];
  size_t n;
  while ((n = fread(b, 1, sizeof b, p)) > 0) out.append(b, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// Values weighted toward the int32 edges, powers of two and rounding ties.
struct Gen {
  std::mt19937 rng{17};
  uint32_t pick(uint32_t n) { return rng() % n; }
  int64_t range(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
  int32_t any() {
    static const int32_t edges[] = {INT32_MIN, INT32_MIN + 1, -(1 << 30),    -2,       -1, 0, 1,
                                    2,         1 << 30,       INT32_MAX - 1, INT32_MAX};
    switch (pick(8)) {
      case 0:
        return edges[pick(std::size(edges))];
      case 1:
        return (int32_t)range(-300, 300);
      case 2:
        return (pick(2) ? 1 : -1) * (int32_t)((int64_t{1} << pick(31)) - 1 + pick(3));
      default:
        return (int32_t)rng();
    }
  }
  // Near a tie of the final rounding: x * m0 / 2^(31 + right) close to k + 1/2.
  int32_t tie(int32_t m0, int right, int64_t bound) {
    if (m0 <= 0) return (int32_t)range(-bound, bound);
    const i128 k = range(-200, 200), d = (i128)1 << (31 + right);
    const i128 x = ((2 * k + 1) * d / 2) / m0 + range(-2, 2);
    return (int32_t)std::clamp<i128>(x, -bound, bound);
  }
  int32_t value(int32_t m0, int right, int64_t bound) {
    if (pick(3) == 0) return tie(m0, right, bound);
    const int64_t v = any();
    return (int32_t)(bound >= INT32_MAX ? v : std::clamp<int64_t>(v % (bound + 1), -bound, bound));
  }
  int32_t multiplier() {  // m0 in [2^30, 2^31) mostly; anything but INT32_MIN sometimes
    if (pick(8) == 0) {
      const int32_t m = any();
      return m == INT32_MIN ? INT32_MAX : m;
    }
    return (int32_t)((1u << 30) + (rng() & ((1u << 30) - 1)));
  }
  int right() {
    static const int ends[] = {0, 1, 30, 31};
    return pick(4) == 0 ? ends[pick(4)] : (int)pick(32);
  }
};

struct Out {
  int64_t lo, hi, zp;
};
Out out_range(Gen& g, bool narrow) {
  static const DType ts[] = {DType::I8, DType::U8, DType::I16, DType::I32};
  const DType t = ts[g.pick(narrow ? 3 : 4)];
  auto [lo, hi] = range_of(t);
  Out o{lo, hi, t == DType::I32 ? g.any() : g.range(lo, hi)};
  if (t == DType::I16) o.zp = g.range(-300, 300);
  if (g.pick(3) == 0) o.lo = std::max<int64_t>(lo, o.zp);  // a fused ReLU
  return o;
}
int32_t clip32(int64_t v) { return (int32_t)std::clamp<int64_t>(v, INT32_MIN, INT32_MAX); }
int32_t want(int64_t x, int32_t m0, int right, const Out& o) {
  return (int32_t)std::clamp<int64_t>(o.zp + ref_mbqm((int32_t)x, m0, -right), o.lo, o.hi);
}

struct Records {
  std::vector<int32_t> in, want;
  std::vector<size_t> record;  // per result: the index of its record's first value in `in`
  size_t first = 0;            // of the record being added
  void expect(int32_t v) { want.push_back(v), record.push_back(first); }
  void put(std::initializer_list<int64_t> v) {
    for (int64_t x : v) in.push_back((int32_t)x);
  }
  void put(const std::vector<int32_t>& v) { in.insert(in.end(), v.begin(), v.end()); }
};

// acc, bias with acc + bias == x and no int32 overflow in the sum.
std::pair<int32_t, int32_t> split(int32_t x, int32_t bias) {
  const int64_t acc = (int64_t)x - bias;
  return acc < INT32_MIN || acc > INT32_MAX ? std::pair{x, 0} : std::pair{(int32_t)acc, bias};
}

void rescale_records(Records& r, Gen& g) {
  for (int c = 0; c < 12000; ++c) {  // per-lane parameters
    const int32_t n = (int32_t)g.range(1, 37);
    r.first = r.in.size();
    Out o = out_range(g, false);
    std::vector<int32_t> acc(n), bias(n), m0(n), right(n);
    for (int32_t i = 0; i < n; ++i) {
      m0[i] = g.multiplier(), right[i] = g.right();
      auto [a, b] = split(g.value(m0[i], right[i], INT32_MAX), (int32_t)g.range(-5000, 5000));
      acc[i] = a, bias[i] = b;
      r.expect(want((int64_t)a + b, m0[i], right[i], o));
    }
    r.put({0, n, 0, 0, 0, clip32(o.lo - o.zp), clip32(o.hi - o.zp), o.zp, 1, n, n});
    for (auto* v : {&acc, &bias, &m0, &right}) r.put(*v);
  }
  for (int c = 0; c < 30000; ++c) {  // one row of rows x w from rows of p, exact or rounding-add form
    const bool add = c % 2;
    r.first = r.in.size();
    const int32_t rows = (int32_t)g.range(1, 6), w = (int32_t)g.range(1, 12),
                  p = w + (int32_t)g.range(0, 4) * (rows > 1);
    Out o = out_range(g, add);
    int32_t m0 = g.multiplier(), right = g.right();
    int64_t bound = INT32_MAX;
    if (add) {  // rq_add_ok: bound + 2^(right - 1) + |zp| * 2^right <= INT32_MAX
      while ((bound = INT32_MAX - (right ? int64_t{1} << (right - 1) : 0) -
                      std::abs(o.zp) * (int64_t{1} << right)) < 0)
        right = (int)g.pick(24);
      if (g.pick(2)) bound = std::min<int64_t>(bound, g.range(0, bound));
    }
    const int32_t bias = (int32_t)g.range(-(std::min<int64_t>(bound, 5000)), std::min<int64_t>(bound, 5000));
    std::vector<int32_t> acc(rows * p);
    for (int32_t q = 0; q < rows * p; ++q) {
      if (q % p >= w) {  // a junk column, dropped before the rescale
        acc[q] = (int32_t)g.rng();
        continue;
      }
      // acc + bias = t where t fits (|t| <= bound for the rounding-add form).
      const int32_t t = g.value(m0, right, add ? bound - std::abs((int64_t)bias) : INT32_MAX);
      acc[q] = clip32((int64_t)t - bias);
      r.expect(want((int64_t)acc[q] + bias, m0, right, o));
    }
    r.put(
        {add ? 2 : 1, rows * p, bias, m0, right, clip32(o.lo - o.zp), clip32(o.hi - o.zp), o.zp, rows, w, p});
    r.put(acc);
  }
}

void gemm_records(Records& r, Gen& g) {
  for (int c = 0; c < 600; ++c) {
    const int kind = 3 + c % 3;
    r.first = r.in.size();
    const int32_t M = (int32_t)g.range(1, 13), N = (int32_t)g.range(16, 70), K = (int32_t)g.range(1, 41);
    const int32_t kp = (K + 1) / 2, nb = N + 64;
    std::vector<int8_t> wt(M * K);
    for (auto& v : wt) v = (int8_t)g.range(-128, 127);
    const auto [lo, hi] = kind == 3   ? std::pair{-128, 127}
                          : kind == 4 ? std::pair{0, 255}
                                      : std::pair{-128, 255};
    std::vector<int32_t> b(nb), roff(kind == 5 ? kp : 2 * kp);
    for (auto& v : b) v = (int32_t)g.range(lo, hi);
    for (auto& v : roff) v = (int32_t)g.range(0, nb - N - (kind == 5));
    auto tap = [&](int32_t k) { return kind == 5 ? roff[k / 2] + k % 2 : roff[k]; };
    for (int32_t m = 0; m < M; ++m)
      for (int32_t j = 0; j < N; ++j) {
        int64_t s = 0;
        for (int32_t k = 0; k < K; ++k) s += (int64_t)wt[m * K + k] * b[tap(k) + j];
        r.expect((int32_t)s);
      }
    r.put({kind, M, N, kp, nb});
    r.put(qop::pack_pairs(wt.data(), M, K));
    r.put(b);
    r.put(roff);
  }
  for (int c = 0; c < 600; ++c) {
    const int kind = 6 + c % 2;
    r.first = r.in.size();
    const int32_t N = (int32_t)g.range(1, 13), K = c < 100 ? c % 50 + 1 : (int32_t)g.range(1, 200);
    std::vector<int32_t> wt(N * K), x(K);
    for (auto& v : wt) v = (int32_t)g.range(-128, 127);
    for (auto& v : x) v = (int32_t)(kind == 6 ? g.range(-128, 127) : g.range(0, 255));
    for (int32_t n = 0; n < N; ++n) {
      int64_t s = 0;
      for (int32_t k = 0; k < K; ++k) s += (int64_t)wt[n * K + k] * x[k];
      r.expect((int32_t)s);
    }
    r.put({kind, N, K});
    r.put(wt);
    r.put(x);
  }
}

TEST(QuantSimd, KernelsMatchReferences) {
  const std::string text = kernels_text();
  EXPECT_FALSE(std::regex_search(text, std::regex("\\b(float|double)\\b")));
  std::string tmpl = (fs::temp_directory_path() / "weec-simd-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const fs::path dir = tmpl;
  std::ofstream(dir / "k.c") << "#include <stdint.h>\n#include <stdio.h>\n" << text << kMain;
  Gen g;
  Records r;
  rescale_records(r, g);
  gemm_records(r, g);
  std::ofstream(dir / "in.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(r.in.data()), (std::streamsize)(r.in.size() * 4));
  const std::string d = dir.string(), flags = " -std=c99 -Wall -Wextra -Werror -pedantic -O2 ";
  auto [crc, cout] = run("cd '" + d + "' && clang" + flags + "-c k.c -o k_clang.o");
  EXPECT_EQ(crc, 0) << cout;
  auto [rc, out] = run("cd '" + d + "' && cc" + flags + "k.c -o k && ./k in.bin out.bin");
  if (rc == 77) {
    fs::remove_all(dir);
    GTEST_SKIP() << "this CPU has no AVX2";
  }
  ASSERT_EQ(rc, 0) << out;
  std::vector<int32_t> got(r.want.size());
  std::ifstream f(dir / "out.bin", std::ios::binary);
  f.read(reinterpret_cast<char*>(got.data()), (std::streamsize)(got.size() * 4));
  ASSERT_EQ(f.gcount(), (std::streamsize)(got.size() * 4));
  EXPECT_GE(r.want.size(), 1'000'000u);
  for (size_t i = 0; i < got.size(); ++i) {
    const int32_t* h = &r.in[r.record[i]];
    ASSERT_EQ(got[i], r.want[i]) << "result " << i << " of a record of kind " << h[0] << ", header " << h[1]
                                 << " " << h[2] << " " << h[3] << " " << h[4] << " " << h[5] << " " << h[6]
                                 << " " << h[7];
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace weec::qtest
