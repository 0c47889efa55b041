// The WeeNet generator: deterministic per seed, every net valid (verifies,
// static shapes, runs in the interpreter with finite outputs), and the
// sweeps reach every attribute family the issue names.
#include "weenet/weenet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "interp/interpreter.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace weec::weenet {
namespace {

std::string text_of(uint64_t seed, const Spec& spec) {
  auto net = generate(seed, spec);
  if (!net) return net.status().message();
  return describe(seed, *net) + "\n" + print_graph(*net->graph);
}

TEST(WeeNet, SameSeedSameNet) {
  for (Kind k : {Kind::Conv, Kind::Op, Kind::Chain, Kind::Residual, Kind::Any})
    for (uint64_t seed : {0ull, 1ull, 12345ull}) {
      Spec s;
      s.kind = k;
      EXPECT_EQ(text_of(seed, s), text_of(seed, s));
    }
  Spec s;
  EXPECT_NE(text_of(1, s), text_of(2, s));
}

// Builds, verifies and runs `count` nets of a kind; returns the layer lines seen.
std::vector<std::string> check_kind(Kind kind, bool int8, uint64_t count) {
  std::vector<std::string> lines;
  Spec spec;
  spec.kind = kind;
  spec.int8 = int8;
  for (uint64_t seed = 0; seed < count; ++seed) {
    auto net = generate(seed, spec);
    EXPECT_TRUE(net.has_value()) << net.status().message();
    if (!net) continue;
    const std::string what = describe(seed, *net);
    Status v = verify_graph(*net->graph);
    EXPECT_TRUE(v.is_ok()) << what << ": " << v.message();
    for (auto& val : net->graph->values())
      EXPECT_TRUE(val->type.shape.is_static()) << what << ": " << val->name;
    EXPECT_EQ(net->calib.size(), int8 ? 16u : 0u);
    std::vector<const Tensor*> feeds;
    for (auto& t : net->feeds) feeds.push_back(&t);
    auto out = run_graph(*net->graph, feeds);
    EXPECT_TRUE(out.has_value()) << what << ": " << out.status().message();
    if (out)
      for (auto& t : *out)
        for (int64_t i = 0; i < t.numel(); ++i)
          if (!std::isfinite(t.get_double(i))) {
            ADD_FAILURE() << what << ": output element " << i << " is " << t.get_double(i);
            break;
          }
    lines.insert(lines.end(), net->layers.begin(), net->layers.end());
  }
  return lines;
}

bool any_contains(const std::vector<std::string>& lines, const std::string& s) {
  for (auto& l : lines)
    if (l.find(s) != std::string::npos) return true;
  return false;
}

TEST(WeeNet, ConvSweepReachesEveryAttribute) {
  auto lines = check_kind(Kind::Conv, false, 300);
  for (const char* s : {"conv1d", "conv2d", "(depthwise)", "auto_pad=SAME_UPPER", "auto_pad=SAME_LOWER",
                        "auto_pad=VALID", " bias", "group=2", " s=2", " d=2", " d=3"})
    EXPECT_TRUE(any_contains(lines, s)) << "no conv with " << s;
  bool asymmetric = false;
  for (auto& l : lines) {
    auto at = l.find("pads=[");
    if (at == std::string::npos) continue;
    int a, b, c, d;
    if (std::sscanf(l.c_str() + at, "pads=[%d,%d,%d,%d]", &a, &b, &c, &d) == 4 && (a != c || b != d))
      asymmetric = true;
  }
  EXPECT_TRUE(asymmetric);
}

TEST(WeeNet, OpAndChainKindsReachEveryFamily) {
  auto lines = check_kind(Kind::Op, false, 300);
  auto chain = check_kind(Kind::Chain, false, 200);
  lines.insert(lines.end(), chain.begin(), chain.end());
  for (const char* s : {"conv_transpose", "maxpool", "avgpool", "global_", "gemm", "transA=true", "matmul",
                        "batchnorm", "Reduce", "flatten", "transpose perm", "reshape", "Softmax",
                        "LogSoftmax", "Div", "const[", "ceil_mode", "count_include_pad", "output_padding=1"})
    EXPECT_TRUE(any_contains(lines, s)) << "no layer with " << s;
}

TEST(WeeNet, ResidualAndInt8KindsAreValid) {
  auto lines = check_kind(Kind::Residual, false, 200);
  EXPECT_TRUE(any_contains(lines, "add (residual)"));
  EXPECT_TRUE(any_contains(lines, "concat (channels)"));
  auto q = check_kind(Kind::Any, true, 150);
  for (auto& l : q) {
    EXPECT_EQ(l.find("conv_transpose"), std::string::npos) << l;
    EXPECT_EQ(l.find("concat"), std::string::npos) << l;
  }
}

TEST(WeeNet, UnknownKindIsAnError) {
  EXPECT_FALSE(parse_kind("lstm").has_value());
  EXPECT_EQ(*parse_kind("residual"), Kind::Residual);
}

}  // namespace
}  // namespace weec::weenet
