// The fixed-point arithmetic of integer-only inference (src/quant), bit-exact
// against the references of quant_test_util.h (exact products in __int128,
// rounding stated as floor(v + 1/2) or |v| rounded then signed, instead of
// gemmlowp's nudge/mask/threshold). Then the C text of the same functions,
// compiled with the system cc, against the C++ ones.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <vector>

#include "quant/fixed_point.h"
#include "quant_test_util.h"

namespace weec::quant {
namespace {

using namespace qtest;
constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
constexpr int kCases = 1'000'000;

// int32 values weighted toward the edges and rounding ties.
class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  int32_t any() {
    static const int32_t edges[] = {kMin, kMin + 1, -(1 << 30), -2, -1, 0, 1, 2, 1 << 30, kMax - 1, kMax};
    switch (pick(8)) {
      case 0:
        return edges[pick(std::size(edges))];
      case 1:
        return (int32_t)pick(512) - 256;
      case 2:  // +-2^k, +-2^k +- 1
        return (pick(2) ? 1 : -1) * (int32_t)((int64_t{1} << pick(31)) - 1 + pick(3));
      default:
        return (int32_t)rng_();
    }
  }
  // x with its low e bits at a rounding tie (1000..0) or next to one.
  int32_t tie(int e) {
    if (e == 0) return any();
    uint32_t low = (uint32_t)(int64_t{1} << (e - 1)) + (uint32_t)pick(3) - 1;
    uint32_t mask = (uint32_t)((int64_t{1} << e) - 1);
    return (int32_t)((rng_() & ~mask) | (low & mask));
  }
  uint32_t pick(uint32_t n) { return (uint32_t)(rng_() % n); }
  int shift() {  // [-31, 30], ends often
    static const int ends[] = {-31, -30, -1, 0, 1, 29, 30};
    return pick(4) == 0 ? ends[pick(std::size(ends))] : (int)pick(62) - 31;
  }
  int32_t multiplier() {  // m0 in [2^30, 2^31) mostly; 0 and edge values sometimes
    if (pick(16) == 0) return any();
    return (int32_t)((1u << 30) + (rng_() & ((1u << 30) - 1)));
  }

 private:
  std::mt19937 rng_;
};

TEST(QuantFixedPoint, SaturatingRoundingDoublingHighMul) {
  EXPECT_EQ(saturating_rounding_doubling_high_mul(kMin, kMin), kMax);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(kMin, kMax), -kMax);
  EXPECT_EQ(saturating_rounding_doubling_high_mul(1, 1 << 30), 1);   // 0.5 -> 1
  EXPECT_EQ(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0);  // -0.5 -> 0 (ties up)
  Gen g(1);
  for (int i = 0; i < kCases; ++i) {
    int32_t a = g.any(), b;
    if (g.pick(3) == 0) {  // a = +-2^j and b's low bits at a tie of 2ab/2^32
      int j = (int)g.pick(31);
      a = (g.pick(2) ? 1 : -1) * (int32_t)(int64_t{1} << j);
      b = g.tie(31 - j);
    } else {
      b = g.any();
    }
    ASSERT_EQ(saturating_rounding_doubling_high_mul(a, b), ref_srdhm(a, b)) << a << " * " << b;
  }
}

TEST(QuantFixedPoint, RoundingDivideByPot) {
  EXPECT_EQ(rounding_divide_by_pot(5, 1), 3);
  EXPECT_EQ(rounding_divide_by_pot(-5, 1), -3);
  EXPECT_EQ(rounding_divide_by_pot(kMin, 31), -1);
  EXPECT_EQ(rounding_divide_by_pot(kMax, 31), 1);
  Gen g(2);
  for (int i = 0; i < kCases; ++i) {
    int e = g.pick(4) == 0 ? (g.pick(2) ? 31 : 0) : (int)g.pick(32);
    int32_t x = g.pick(2) ? g.tie(e) : g.any();
    ASSERT_EQ(rounding_divide_by_pot(x, e), ref_rdbpot(x, e)) << x << " / 2^" << e;
  }
}

TEST(QuantFixedPoint, MultiplyByQuantizedMultiplier) {
  // kMax << 30 saturates to kMax; times m0 = 2^30 (0.5): 2^30 - 1/2, ties up.
  EXPECT_EQ(multiply_by_quantized_multiplier(kMax, 1 << 30, 30), 1 << 30);
  EXPECT_EQ(multiply_by_quantized_multiplier(-5, 1 << 30, 30), kMin / 2);  // -5 << 30 saturates to kMin
  EXPECT_EQ(multiply_by_quantized_multiplier(kMin, kMin, 0), kMax);
  EXPECT_EQ(multiply_by_quantized_multiplier(-3, 1 << 30, 0), -1);  // -1.5 -> -1 (ties up in srdhm)
  Gen g(3);
  for (int i = 0; i < kCases; ++i) {
    int32_t x = g.any(), m0 = g.multiplier();
    int s = g.shift();
    ASSERT_EQ(multiply_by_quantized_multiplier(x, m0, s), ref_mbqm(x, m0, s)) << x << " " << m0 << " " << s;
  }
}

// Reference: exponent from ilogb, mantissa by ldexp and llround.
QuantizedMultiplier ref_quantize(double m) {
  int e = std::ilogb(m) + 1;  // m / 2^e in [0.5, 1)
  int64_t m0 = std::llround(std::ldexp(m, 31 - e));
  if (m0 == int64_t{1} << 31) m0 >>= 1, ++e;
  if (e < -31) return {0, 0};
  if (e > 30) return {kMax, 30};
  return {(int32_t)m0, e};
}

TEST(QuantFixedPoint, QuantizeMultiplierRoundTrips) {
  EXPECT_FALSE(quantize_multiplier(-0.5).has_value());
  EXPECT_FALSE(quantize_multiplier(std::nan("")).has_value());
  EXPECT_FALSE(quantize_multiplier(INFINITY).has_value());
  auto check = [](double m, int32_t m0, int shift) {
    auto q = quantize_multiplier(m);
    ASSERT_TRUE(q.has_value());
    EXPECT_EQ(q->m0, m0) << m;
    EXPECT_EQ(q->shift, shift) << m;
  };
  check(0.0, 0, 0);
  check(1.0, 1 << 30, 1);
  check(0.5, 1 << 30, 0);
  check(1 - std::ldexp(1.0, -40), 1 << 30, 1);  // mantissa rounds up to 2^31: renormalised
  check(std::ldexp(1.0, -32), 1 << 30, -31);    // smallest representable
  check(std::ldexp(1.0, -33), 0, 0);            // too small
  check(std::ldexp(1.0, 31), kMax, 30);         // too large: saturates
  std::mt19937 rng(4);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  for (int i = 0; i < kCases; ++i) {
    double m = std::ldexp(mant(rng), (int)(rng() % 62) - 32);  // [2^-32, 2^30)
    auto q = quantize_multiplier(m);
    ASSERT_TRUE(q.has_value());
    QuantizedMultiplier r = ref_quantize(m);
    ASSERT_EQ(q->m0, r.m0) << m;
    ASSERT_EQ(q->shift, r.shift) << m;
    ASSERT_GE(q->m0, 1 << 30);
    double back = std::ldexp((double)q->m0, q->shift - 31);
    ASSERT_LT(std::fabs(back - m) / m, std::ldexp(1.0, -30)) << m;
  }
}

// Applied to integers, the quantised multiplier rounds x * M to within one.
TEST(QuantFixedPoint, MultiplierAppliedToIntegers) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> logm(-20, 10);
  for (int i = 0; i < 200000; ++i) {
    double m = std::exp2(logm(rng));
    auto q = quantize_multiplier(m);
    ASSERT_TRUE(q.has_value());
    int32_t x = (int32_t)(rng() % 2000001) - 1000000;
    double want = (double)x * m;
    if (std::fabs(want) > 1e9) continue;
    int32_t got = multiply_by_quantized_multiplier(x, q->m0, q->shift);
    ASSERT_LE(std::fabs(got - want), 1.0 + std::fabs(want) * 1e-9) << x << " * " << m;
  }
}

// TFLite's add rescaling reproduces the real sum to within half an LSB
// (plus the multipliers' 2^-31 relative error, negligible at these ranges).
TEST(QuantFixedPoint, AddParamsRescaleTheRealSum) {
  EXPECT_FALSE(qadd_params(0.1, -0.2, 0.3).has_value());
  std::mt19937 rng(6);
  std::uniform_real_distribution<double> ls(-8, 2);
  double worst = 0;
  for (int t = 0; t < 2000; ++t) {
    double sa = std::exp2(ls(rng)), sb = std::exp2(ls(rng)), sy = (sa + sb) * std::exp2(ls(rng) / 4);
    auto p = qadd_params(sa, sb, sy);
    ASSERT_TRUE(p.has_value());
    EXPECT_LE(p->a.shift, 0);  // input multipliers are <= 1/2
    EXPECT_LE(p->b.shift, 0);
    for (int i = 0; i < 200; ++i) {
      int32_t da = (int32_t)(rng() % 511) - 255, db = (int32_t)(rng() % 511) - 255;
      int32_t sum = multiply_by_quantized_multiplier(da * (1 << p->left_shift), p->a.m0, p->a.shift) +
                    multiply_by_quantized_multiplier(db * (1 << p->left_shift), p->b.m0, p->b.shift);
      int32_t got = multiply_by_quantized_multiplier(sum, p->y.m0, p->y.shift);
      double want = (sa * da + sb * db) / sy;
      worst = std::max(worst, std::fabs(got - want));
    }
  }
  EXPECT_LE(worst, 0.5 + 1e-3);
}

// ---- the C text, compiled with the system C compiler ----

std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "cannot start " + cmd};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

TEST(QuantFixedPoint, CTextMatchesCpp) {
  const std::string& text = c_helpers_text();
  EXPECT_EQ(text.find("float"), std::string::npos);
  EXPECT_EQ(text.find("double"), std::string::npos);
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "weec-fp-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  fs::path dir = tmpl;
  // Each record: a, b, e (rdbpot exponent), s (mbqm shift) -> srdhm(a, b),
  // rdbpot(a, e), mbqm(a, b, s).
  std::ofstream(dir / "fp.c") << "#include <stdint.h>\n#include <stdio.h>\n"
                              << text << R"(
int main(int argc, char** argv) {
  FILE* in = fopen(argv[1], "rb");
  FILE* out = fopen(argv[2], "wb");
  int32_t r[4], y[3];
  if (argc != 3 || !in || !out) return 2;
  while (fread(r, sizeof r, 1, in) == 1) {
    y[0] = weec_srdhm(r[0], r[1]);
    y[1] = weec_rdbpot(r[0], r[2]);
    y[2] = weec_mbqm(r[0], r[1], r[3]);
    if (fwrite(y, sizeof y, 1, out) != 1) return 3;
  }
  return fclose(out) != 0;
}
)";
  Gen g(7);
  std::vector<int32_t> rec;
  for (int i = 0; i < kCases; ++i) {
    int e = (int)g.pick(32);
    int32_t a = g.pick(2) ? g.tie(e) : g.any();
    rec.insert(rec.end(), {a, g.pick(2) ? g.multiplier() : g.any(), e, g.shift()});
  }
  std::ofstream(dir / "in.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(rec.data()), (std::streamsize)(rec.size() * 4));
  std::string d = dir.string();
  auto [rc, out] = run(
      "cd '" + d + "' && cc -std=c99 -Wall -Wextra -Werror -pedantic -O2 fp.c -o fp && ./fp in.bin out.bin");
  ASSERT_EQ(rc, 0) << out;
  std::vector<int32_t> got(3 * (size_t)kCases);
  std::ifstream f(dir / "out.bin", std::ios::binary);
  f.read(reinterpret_cast<char*>(got.data()), (std::streamsize)(got.size() * 4));
  ASSERT_EQ(f.gcount(), (std::streamsize)(got.size() * 4));
  for (int i = 0; i < kCases; ++i) {
    const int32_t* r = &rec[4 * (size_t)i];
    ASSERT_EQ(got[3 * i], saturating_rounding_doubling_high_mul(r[0], r[1])) << i;
    ASSERT_EQ(got[3 * i + 1], rounding_divide_by_pot(r[0], r[2])) << i;
    ASSERT_EQ(got[3 * i + 2], multiply_by_quantized_multiplier(r[0], r[1], r[3])) << i;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace weec::quant
