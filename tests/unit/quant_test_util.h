// Shared by the quant_*_test.cc files: reference fixed-point arithmetic
// written independently of src/quant (exact products in __int128, rounding
// stated as floor(v + 1/2) or |v| rounded then signed, not gemmlowp's
// nudge/mask form), and a harness that builds small integer graphs, checks
// the interpreter against expected tensors and the generated C against the
// interpreter, bit for bit.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>

#include "codegen/c/c_runner.h"
#include "interp/interpreter.h"
#include "ops/registry.h"
#include "passes/pass.h"
#include "quant/fixed_point.h"

namespace weec::qtest {

using i128 = __int128;

inline i128 floor_div(i128 a, i128 b) {  // b > 0
  i128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
inline int32_t sat32(i128 v) { return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v; }
// 2ab / 2^32 rounded to nearest, ties toward +inf: floor(2ab / 2^32 + 1/2).
inline int32_t ref_srdhm(int32_t a, int32_t b) {
  return sat32(floor_div(2 * (i128)a * (i128)b + ((i128)1 << 31), (i128)1 << 32));
}
// x / 2^e rounded to nearest, ties away from zero: round |x|, restore the sign.
inline int32_t ref_rdbpot(int32_t x, int e) {
  if (e == 0) return x;
  int64_t mag = x < 0 ? -(int64_t)x : (int64_t)x;
  int64_t r = (mag + (int64_t{1} << (e - 1))) >> e;
  return (int32_t)(x < 0 ? -r : r);
}
inline int32_t ref_mbqm(int32_t x, int32_t m0, int shift) {
  if (shift > 0) return ref_srdhm(sat32((i128)x << shift), m0);
  return ref_rdbpot(ref_srdhm(x, m0), -shift);
}

// The output rule of every integer op: clamp(zp + mbqm(sat32(acc)), lo, hi).
struct Rescale {
  std::vector<int32_t> m0;
  std::vector<int32_t> shift;
  int64_t zp = 0, lo = -128, hi = 127;
  int64_t apply(i128 acc, size_t ch = 0) const {
    size_t i = m0.size() == 1 ? 0 : ch;
    int64_t y = zp + ref_mbqm(sat32(acc), m0[i], shift[i]);
    return std::min(hi, std::max(lo, y));
  }
};

inline std::pair<int64_t, int64_t> range_of(DType t) {
  switch (t) {
    case DType::I8:
      return {-128, 127};
    case DType::U8:
      return {0, 255};
    case DType::I16:
      return {-32768, 32767};
    default:
      return {INT32_MIN, INT32_MAX};
  }
}
inline int64_t onnx_code(DType t) {
  return t == DType::I8 ? 3 : t == DType::U8 ? 2 : t == DType::I16 ? 5 : 6;
}

struct QNet {
  Graph g;
  Builder b{g, infer_node};
  std::mt19937 rng;
  std::vector<Tensor> feeds, expected;
  explicit QNet(uint32_t seed) : rng(seed) {}

  int64_t uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
  Tensor random(DType t, const Dims& d, int64_t lo, int64_t hi) {
    Tensor x(t, d);
    for (int64_t i = 0; i < x.numel(); ++i) x.set_double(i, (double)uniform(lo, hi));
    return x;
  }
  Tensor random(DType t, const Dims& d) {
    auto [lo, hi] = range_of(t);
    return random(t, d, lo, hi);
  }
  Value* in(const std::string& name, Tensor t) {
    feeds.push_back(t);
    return b.input(name, TensorType{t.dtype(), Shape::of(t.dims())});
  }
  Value* cst(const std::string& name, Tensor t) { return b.constant(name, std::move(t)); }
  void out(Value* v, Tensor want) {
    b.output(v);
    expected.push_back(std::move(want));
  }
  // A multiplier near `scale` (times a random factor in [1/3, 3]).
  std::pair<int32_t, int32_t> multiplier(double scale) {
    auto q =
        quant::quantize_multiplier(scale * std::exp(std::uniform_real_distribution<double>(-1.1, 1.1)(rng)));
    return {q->m0, q->shift};
  }
  // Output dtype, zero point, multipliers (per tensor or `channels`) and,
  // sometimes, an activation range; `scale` ~ 1 / typical |acc| * 64.
  // `out`/`zp` fix the output dtype and zero point instead.
  Rescale rescale(AttrMap& attrs, size_t channels, double scale,
                  std::optional<DType> force_out = std::nullopt,
                  std::optional<int64_t> force_zp = std::nullopt) {
    static const DType outs[] = {DType::I8, DType::U8, DType::I8, DType::I16};
    DType out = force_out ? *force_out : outs[uniform(0, 3)];
    auto [lo, hi] = range_of(out);
    Rescale r;
    r.zp = out == DType::I16 ? uniform(-300, 300) : uniform(lo + 20, hi - 20);
    if (force_zp) r.zp = *force_zp;
    r.lo = lo;
    r.hi = hi;
    if (out == DType::I16) scale *= 50;
    for (size_t c = 0; c < channels; ++c) {
      auto [m0, sh] = multiplier(scale);
      r.m0.push_back(m0);
      r.shift.push_back(sh);
    }
    attrs["out_dtype"] = Attribute::of_int(onnx_code(out));
    attrs["y_zero_point"] = Attribute::of_int(r.zp);
    attrs["multiplier"] = Attribute::of_ints({r.m0.begin(), r.m0.end()});
    attrs["shift"] = Attribute::of_ints({r.shift.begin(), r.shift.end()});
    if (uniform(0, 2) == 0) {  // a fused ReLU-like floor, and a ceiling beyond the range
      attrs["act_min"] = Attribute::of_int(r.zp);
      attrs["act_max"] = Attribute::of_int(hi + 1000);
      r.lo = r.zp;
    }
    return r;
  }
};

inline std::vector<const Tensor*> ptrs(const std::vector<Tensor>& v) {
  std::vector<const Tensor*> p;
  for (auto& t : v) p.push_back(&t);
  return p;
}

inline void expect_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.dims(), want.dims()) << what;
  for (int64_t i = 0; i < want.numel(); ++i)
    ASSERT_EQ(got.get_int(i), want.get_int(i)) << what << " element " << i;
}

// The interpreter equals the expected (reference) outputs.
inline void expect_interp(QNet& n) {
  ASSERT_TRUE(n.b.status().is_ok()) << n.b.status().message();
  auto got = run_graph(n.g, ptrs(n.feeds));
  ASSERT_TRUE(got.has_value()) << got.status().message();
  ASSERT_EQ(got->size(), n.expected.size());
  for (size_t k = 0; k < got->size(); ++k)
    expect_identical((*got)[k], n.expected[k], "interp output " + std::to_string(k));
}

// The O2 pipeline and the C backend give the interpreter's outputs; returns
// the C source (and the number of Fused nodes after the pipeline). `cflags`
// are added to the default -O2 (e.g. -DWEEC_NO_SIMD: the plain C paths).
inline std::string expect_c_matches_interp(QNet& n, int* fused = nullptr, const std::string& cc = "cc",
                                           const std::vector<std::string>& cflags = {}) {
  auto want = run_graph(n.g, ptrs(n.feeds));
  EXPECT_TRUE(want.has_value()) << want.status().message();
  if (!want) return "";
  auto c = n.g.clone();
  PassContext ctx;
  Status st = PassManager(*pipeline("O2")).run(*c, ctx);
  EXPECT_TRUE(st.is_ok()) << st.message();
  if (fused) {
    *fused = 0;
    for (auto& node : c->nodes()) *fused += node->op == OpKind::Fused;
  }
  auto code = generate_c(*c);
  EXPECT_TRUE(code.has_value()) << code.status().message();
  if (!code) return "";
  CBuildOptions options;
  options.cc = cc;
  options.cflags.insert(options.cflags.end(), cflags.begin(), cflags.end());
  if (const char* dir = std::getenv("WEEC_QUANT_TEST_KEEP")) options.work_dir = dir;  // to read the C
  auto got = run_generated_c(*c, *code, ptrs(n.feeds), options);
  EXPECT_TRUE(got.has_value()) << got.status().message();
  if (!got) return "";
  EXPECT_EQ(got->size(), want->size());
  for (size_t k = 0; k < std::min(got->size(), want->size()); ++k)
    expect_identical((*got)[k], (*want)[k], "C output " + std::to_string(k));
  return code->header + code->source;
}

// Whether this machine runs the AVX-512 VNNI kernels: there the default
// build takes them, and -DWEEC_NO_AVX512 keeps the AVX2 ones tested too.
inline bool cpu_has_vnni() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}

// Whether this machine runs the AVX-512 VBMI depthwise kernel.
inline bool cpu_has_vbmi() {
#if defined(__x86_64__) && defined(__GNUC__)
  return cpu_has_vnni() && __builtin_cpu_supports("avx512vbmi");
#else
  return false;
#endif
}

// Every form of the generated C against the interpreter: as built (the
// VNNI or AVX2 kernels where the CPU has them), with -DWEEC_NO_AVX512 on
// VNNI machines (the AVX2 kernels) and with -DWEEC_NO_SIMD (plain C only).
// Returns the C source.
inline std::string expect_c_both_paths_match(QNet& n) {
  std::string code = expect_c_matches_interp(n);
  if (cpu_has_vnni()) expect_c_matches_interp(n, nullptr, "cc", {"-DWEEC_NO_AVX512"});
  expect_c_matches_interp(n, nullptr, "cc", {"-DWEEC_NO_SIMD"});
  return code;
}

// Whether this machine runs the AVX2 kernels (else only the plain C paths
// of the generated code are exercised here).
inline bool cpu_has_avx2() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

}  // namespace weec::qtest
