// The C backend's own float math (activations.cc's weec_tanhf): its outputs
// over a dense sweep of floats and the special values, from C built with gcc
// and clang, scalar and vectorised, against double-precision std::tanh.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "codegen/c/c_runner.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {
namespace {

// Distance of got from the exact value in units of the float spacing at the exact value.
double ulps(float got, double exact) {
  const float e = static_cast<float>(exact);
  const float up = std::nextafter(std::fabs(e), std::numeric_limits<float>::infinity());
  return std::fabs(static_cast<double>(got) - exact) / (static_cast<double>(up) - std::fabs(e));
}

TEST(CMath, TanhWithinTwoUlpsEverywhereWithoutLibm) {
  std::vector<float> xs = {0.0f,
                           -0.0f,
                           std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN(),
                           std::numeric_limits<float>::denorm_min(),
                           -std::numeric_limits<float>::min(),
                           0.625f,
                           std::nextafter(0.625f, 0.0f),
                           9.5f,
                           9.49f,
                           -20.0f,
                           1e30f,
                           -1e-30f};
  // Every 4999th float bit pattern below |x| = 12 (both signs): all exponents, mantissas spread.
  const uint32_t top = [] {
    uint32_t u;
    float twelve = 12.0f;
    std::memcpy(&u, &twelve, 4);
    return u;
  }();
  for (uint32_t u = 0; u < top; u += 4999)
    for (uint32_t sign : {0u, 0x80000000u}) {
      const uint32_t b = u | sign;
      float x;
      std::memcpy(&x, &b, 4);
      xs.push_back(x);
    }
  const Dims d = {static_cast<int64_t>(xs.size())};
  Graph g;
  Builder b{g, infer_node};
  Value* x = b.input("x", static_type(DType::F32, d));
  g.outputs.push_back(b.op(OpKind::Tanh, {x}));
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  const Tensor in = Tensor::from_vector<float>(d, xs);
  auto code = generate_c(g);
  ASSERT_TRUE(code.has_value()) << code.status().message();
  EXPECT_NE(code->source.find("weec_tanhf"), std::string::npos);
  auto count = [&](const std::string& what) {
    int n = 0;
    for (size_t at = code->source.find(what); at != std::string::npos; at = code->source.find(what, at + 1))
      ++n;
    return n;
  };
  EXPECT_EQ(count("tanhf("), count("weec_tanhf("));  // no libm tanhf
  const std::vector<std::pair<std::string, std::vector<std::string>>> builds = {
      {"gcc", {"-O0"}}, {"gcc", {"-O3"}}, {"gcc", {"-O3", "-mavx2", "-mfma"}}, {"clang", {"-O3", "-mavx2"}}};
  for (auto& [cc, flags] : builds) {
    CBuildOptions opt;
    opt.cc = cc;
    opt.cflags = flags;
    auto got = run_generated_c(g, *code, {&in}, opt);
    ASSERT_TRUE(got.has_value()) << cc << ": " << got.status().message();
    const float* y = (*got)[0].data<float>();
    double worst = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const double exact = std::tanh(static_cast<double>(xs[i]));
      if (std::isnan(xs[i])) {
        EXPECT_TRUE(std::isnan(y[i])) << cc;
      } else if (exact == 0 || std::fabs(exact) == 1) {  // zeros keep their sign; +-inf and beyond 9.5: +-1
        EXPECT_EQ(y[i], static_cast<float>(exact)) << cc << " x = " << xs[i];
        EXPECT_EQ(std::signbit(y[i]), std::signbit(xs[i])) << cc << " x = " << xs[i];
      } else {
        worst = std::max(worst, ulps(y[i], exact));
        EXPECT_LE(ulps(y[i], exact), 2.0) << cc << " x = " << xs[i] << ": " << y[i] << " vs " << exact;
      }
    }
    EXPECT_GT(worst, 0.0) << cc;  // the sweep reached values the approximation rounds differently
  }
}

}  // namespace
}  // namespace weec
