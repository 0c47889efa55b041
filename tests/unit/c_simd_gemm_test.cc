// The SIMD paths of the C backend: the weec_sgemm helper behind float
// convolutions (AVX-512, AVX2+FMA, 4-wide vector extensions, plain C), the
// AVX-512 depthwise kernel and the AVX2 clones of large nodes. Each graph
// runs through the interpreter (unoptimised; the reference kernels compute
// in double: the oracle) and through the O2 pipeline and the C backend,
// built once per implementation (-DWEEC_NO_AVX512 leaves AVX2,
// -DWEEC_NO_AVX2 the vector extensions, -DWEEC_NO_SIMD plain C, -mavx2
// -mfma and -mavx512f -mfma the code without the run-time test; AVX-512
// runs only where the CPU has it) and with gcc and clang. Shapes are picked
// to reach every tile of the helper: row tiles of 6/4/2/1, column tiles of
// 4, 2 and 1 vectors with an overlapping or masked last tile, N below the
// vector width, and each input layout of the conv emitter (X itself,
// shifted copies with wrapped columns masked, a pitched padded plane,
// im2col), in one block of output rows or several.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "codegen/c/c_runner.h"
#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"
#include "passes/pass.h"

namespace weec {
namespace {

struct Net {
  Graph g;
  Builder b{g, infer_node};
  std::mt19937 rng{11};
  std::vector<Tensor> feeds;

  Tensor random(const Dims& d) {
    Tensor x(DType::F32, d);
    std::uniform_real_distribution<double> u(-2, 2);
    for (int64_t i = 0; i < x.numel(); ++i) x.set_double(i, u(rng));
    return x;
  }
  Value* in(const std::string& name, Dims d) {
    feeds.push_back(random(d));
    return b.input(name, static_type(DType::F32, d));
  }
  Value* cst(const std::string& name, Dims d) { return b.constant(name, random(d)); }
};

AttrMap conv_attrs(Dims pads, Dims strides = {}, Dims dilations = {}, int64_t group = 1) {
  AttrMap m;
  if (!pads.empty()) m["pads"] = Attribute::of_ints(pads);
  if (!strides.empty()) m["strides"] = Attribute::of_ints(strides);
  if (!dilations.empty()) m["dilations"] = Attribute::of_ints(dilations);
  if (group != 1) m["group"] = Attribute::of_int(group);
  return m;
}

// The optimised graph's C source, and a check of its outputs against the
// interpreter for every build variant.
std::string expect_all_builds_match(Net& n) {
  EXPECT_TRUE(n.b.status().is_ok()) << n.b.status().message();
  std::vector<const Tensor*> ptrs;
  for (auto& t : n.feeds) ptrs.push_back(&t);
  auto want = run_graph(n.g, ptrs);
  EXPECT_TRUE(want.has_value()) << want.status().message();
  if (!want) return "";
  auto c = n.g.clone();
  auto names = pipeline("O2");
  EXPECT_TRUE(names.has_value());
  PassContext ctx;
  Status st = PassManager(*names).run(*c, ctx);
  EXPECT_TRUE(st.is_ok()) << st.message();
  auto code = generate_c(*c);
  EXPECT_TRUE(code.has_value()) << code.status().message();
  if (!code) return "";
  std::vector<std::pair<std::string, std::vector<std::string>>> builds = {
      {"gcc", {"-O2"}},
      {"gcc", {"-O2", "-DWEEC_NO_AVX512"}},
      {"gcc", {"-O2", "-DWEEC_NO_AVX2"}},
      {"gcc", {"-O2", "-DWEEC_NO_SIMD"}},
      {"gcc", {"-O3", "-mavx2", "-mfma"}},
      {"clang", {"-O2"}},
      {"clang", {"-O2", "-DWEEC_NO_AVX512"}},
      {"clang", {"-O2", "-DWEEC_NO_AVX2"}}};
  // Built without the run-time test, AVX-512 code can only run on a CPU
  // that has it; elsewhere the dispatched builds above take the AVX2 path.
  if (__builtin_cpu_supports("avx512f")) builds.push_back({"gcc", {"-O3", "-mavx512f", "-mfma"}});
  for (auto& [cc, flags] : builds) {
    CBuildOptions opt;
    opt.cc = cc;
    opt.cflags = flags;
    std::string what = cc;
    for (auto& f : flags) what += " " + f;
    auto got = run_generated_c(*c, *code, ptrs, opt);
    EXPECT_TRUE(got.has_value()) << what << ": " << got.status().message();
    if (!got) continue;
    EXPECT_EQ(got->size(), want->size());
    for (size_t k = 0; k < want->size() && k < got->size(); ++k) {
      const Tensor &w = (*want)[k], &g = (*got)[k];
      EXPECT_EQ(g.dims(), w.dims()) << what;
      if (g.dims() != w.dims()) continue;
      int bad = 0;
      for (int64_t i = 0; i < w.numel() && bad < 5; ++i) {
        const double a = g.get_double(i), e = w.get_double(i);
        if (std::fabs(a - e) > 1e-5 + 1e-4 * std::fabs(e)) {
          ++bad;
          ADD_FAILURE() << what << ": output " << k << " element " << i << " is " << a << ", expected " << e;
        }
      }
    }
  }
  return code->source;
}

struct ConvCase {
  Dims x, w;
  AttrMap attrs;
};

// Conv (+ bias) + Relu, the epilogue fused, for each case: one graph, an
// input and an output per case (one C build per variant for all of them).
std::string conv_relu(const std::vector<ConvCase>& cases) {
  Net n;
  for (size_t i = 0; i < cases.size(); ++i) {
    const ConvCase& c = cases[i];
    const std::string k = std::to_string(i);
    Value* y =
        n.b.op(OpKind::Conv, {n.in("x" + k, c.x), n.cst("w" + k, c.w), n.cst("b" + k, {c.w[0]})}, c.attrs);
    n.b.output(n.b.op(OpKind::Relu, {y}));
  }
  return expect_all_builds_match(n);
}

TEST(CSimdGemm, PointwiseRowAndColumnTiles) {
  // M = oc: 6-row tiles plus each remainder; N = H*W: tiles of 1, 2 and 4
  // vectors, overlapping tails, and N below both vector widths.
  std::vector<ConvCase> cases;
  for (int64_t oc : {1, 2, 5, 7, 13, 16})
    for (Dims hw : {Dims{1, 3}, Dims{1, 6}, Dims{3, 4}, Dims{5, 5}, Dims{7, 9}})
      cases.push_back({{1, 5, hw[0], hw[1]}, {oc, 5, 1, 1}, {}});
  cases.push_back({{2, 64, 25, 5}, {64, 64, 1, 1}, {}});  // DS-CNN's pointwise conv, batch 2
  EXPECT_NE(conv_relu(cases).find("weec_sgemm("), std::string::npos);
}

TEST(CSimdGemm, ShiftedCopiesForSameWidthConvs) {
  conv_relu({
      {{1, 8, 25, 5}, {8, 1, 3, 3}, conv_attrs({1, 1, 1, 1}, {}, {}, 8)},  // depthwise
      {{1, 1, 28, 28}, {6, 1, 5, 5}, conv_attrs({2, 2, 2, 2})},            // LeNet's first conv
      {{1, 3, 9, 7}, {4, 3, 3, 3}, conv_attrs({0, 2, 2, 2}, {}, {1, 2})},  // dilated, rows padded below only
      {{1, 2, 6, 8}, {3, 2, 2, 4}, conv_attrs({1, 3, 0, 0})},              // PL = 3, PR = 0
      {{1, 2, 6, 4}, {3, 2, 3, 1}, conv_attrs({1, 0, 1, 0})},              // vertical padding only
      {{1, 4, 3, 11}, {6, 2, 1, 3}, conv_attrs({0, 1, 0, 1}, {}, {}, 2)},  // groups, one row
      {{1, 4, 48, 40}, {6, 4, 3, 3}, conv_attrs({1, 1, 1, 1})},            // several row blocks
  });
}

TEST(CSimdGemm, PitchedPlaneXAndIm2col) {
  conv_relu({
      {{1, 3, 10, 14}, {16, 3, 5, 5}, {}},                                 // X itself, dropped columns
      {{1, 2, 7, 3}, {4, 2, 3, 3}, conv_attrs({1, 4, 1, 0})},              // PL >= W: pitched plane
      {{1, 3, 8, 9}, {4, 3, 3, 3}, conv_attrs({0, 0, 1, 1})},              // OW != W: pitched plane
      {{1, 1, 49, 10}, {64, 1, 10, 4}, conv_attrs({5, 1, 5, 1}, {2, 2})},  // DS-CNN's strided conv
      {{1, 6, 40, 30}, {7, 6, 3, 3}, conv_attrs({1, 1, 1, 1}, {2, 2})},    // im2col row blocks
      {{1, 2, 17}, {3, 2, 4}, conv_attrs({2, 1})},                         // 1-D
  });
}

// A residual Add of the conv's shape: plan-memory may give the output the
// residual's buffer, so the GEMM must not write the output first.
TEST(CSimdGemm, ResidualEpilogueUsesScratch) {
  Net n;
  Value* x = n.in("x", {1, 24, 6, 5});  // 17,280 MACs: the AVX-512 GEMM too
  Value* r = n.b.op(OpKind::Relu, {n.in("r", {1, 24, 6, 5})});
  Value* y = n.b.op(OpKind::Conv, {x, n.cst("w", {24, 24, 1, 1}), n.cst("b", {24})});
  n.b.output(n.b.op(OpKind::Add, {y, r}));
  std::string src = expect_all_builds_match(n);
  EXPECT_NE(src.find("acc_"), std::string::npos) << "the GEMM should write a scratch block";
}

// Float MatMul through weec_sgemm: broadcast batches, 1-D promotion, and
// row blocks of a scratch (a same-shaped residual keeps the output unwritten).
TEST(CSimdGemm, MatMulBatchesVectorsAndRowBlocks) {
  Net n;
  n.b.output(n.b.op(OpKind::MatMul, {n.in("a", {2, 1, 5, 12}), n.in("b", {3, 12, 9})}));
  n.b.output(n.b.op(OpKind::MatMul, {n.in("v", {12}), n.in("m", {12, 40})}));
  n.b.output(n.b.op(OpKind::MatMul, {n.in("p", {7, 12}), n.in("q", {12})}));
  Value* big = n.b.op(OpKind::MatMul, {n.in("x", {300, 16}), n.cst("w", {16, 40})});
  n.b.output(n.b.op(OpKind::Add, {big, n.in("r", {300, 40})}));
  std::string src = expect_all_builds_match(n);
  EXPECT_NE(src.find("acc_"), std::string::npos) << "the last MatMul should use scratch row blocks";
}

// Every graph above has a node of at least 16,384 MACs, so its file has the
// AVX-512 GEMM too; a tiny graph's file does not.
TEST(CSimdGemm, Avx512GemmOnlyForLargeGraphs) {
  Net n;
  n.b.output(n.b.op(OpKind::MatMul, {n.in("a", {4, 12}), n.in("b", {12, 20})}));
  std::string src = expect_all_builds_match(n);
  EXPECT_NE(src.find("weec_sgemm("), std::string::npos);
  EXPECT_EQ(src.find("weec_sgemm_6x4_avx512"), std::string::npos);
}

// Depthwise convs of stride 1 and OW = W take the AVX-512 kernel: planes
// not a multiple of 16, taps beyond one vector, dilations, asymmetric and
// one-sided pads, 1-D, batches, and an epilogue reading a same-shaped
// residual (each plane through scratch).
TEST(CSimdGemm, DepthwiseKernel) {
  std::string src = conv_relu({
      {{2, 64, 25, 5}, {64, 1, 3, 3}, conv_attrs({1, 1, 1, 1}, {}, {}, 64)},    // DS-CNN's, batch 2
      {{1, 3, 7, 9}, {3, 1, 3, 3}, conv_attrs({1, 1, 1, 1}, {}, {}, 3)},        // 63 positions
      {{1, 4, 12, 20}, {4, 1, 5, 5}, conv_attrs({2, 2, 2, 2}, {}, {}, 4)},      // taps 42 apart
      {{1, 2, 11, 13}, {2, 1, 3, 3}, conv_attrs({2, 2, 2, 2}, {}, {2, 2}, 2)},  // dilated
      {{1, 3, 6, 8}, {3, 1, 3, 2}, conv_attrs({0, 1, 2, 0}, {}, {}, 3)},        // asymmetric, OH != H
      {{1, 5, 33}, {5, 1, 4}, conv_attrs({2, 1}, {}, {}, 5)},                   // 1-D
      {{1, 2, 1, 16}, {2, 1, 1, 3}, conv_attrs({0, 1, 0, 1}, {}, {}, 2)},       // one vector
      {{1, 8, 13, 11}, {8, 1, 2, 1}, conv_attrs({}, {}, {3, 1}, 8)},  // taps skip a vector (WeeNet 469)
  });
  EXPECT_NE(src.find("weec_dwconv_avx512_"), std::string::npos);
  EXPECT_NE(src.find("weec_sgemm_6x4_avx512"), std::string::npos);
  Net n;
  Value* y = n.b.op(OpKind::Conv, {n.in("x", {1, 40, 9, 7}), n.cst("w", {40, 1, 3, 3}), n.cst("b", {40})},
                    conv_attrs({1, 1, 1, 1}, {}, {}, 40));
  n.b.output(n.b.op(OpKind::Add, {y, n.b.op(OpKind::Relu, {n.in("r", {1, 40, 9, 7})})}));
  EXPECT_NE(expect_all_builds_match(n).find("dw_"), std::string::npos) << "planes should go through scratch";
}

// Large nodes get an AVX2 clone behind a CPU test; small ones do not.
TEST(CSimdGemm, AvxClonesOfLargeNodesOnly) {
  Net n;
  Value* h = n.b.op(OpKind::Gemm, {n.in("x", {1, 256}), n.cst("w1", {128, 256}), n.cst("b1", {128})},
                    {{"transB", Attribute::of_int(1)}});
  Value* a = n.b.op(OpKind::Relu, {h});
  n.b.output(
      n.b.op(OpKind::Gemm, {a, n.cst("w2", {4, 128}), n.cst("b2", {4})}, {{"transB", Attribute::of_int(1)}}));
  std::string src = expect_all_builds_match(n);
  // 32768 MACs (node 0, with its Relu): cloned; 512 MACs (node 1): not.
  const std::string attr = "__attribute__((target(\"avx2,fma\"))) void node";
  size_t clones = 0;
  for (size_t at = src.find(attr); at != std::string::npos; at = src.find(attr, at + 1)) ++clones;
  EXPECT_EQ(clones, 1u);
  EXPECT_NE(src.find(attr + "0_"), std::string::npos);
  EXPECT_NE(src.find("if (weec_cpu_avx2_fma())"), std::string::npos);
}

}  // namespace
}  // namespace weec
