// The ORT server of the harness: agrees with the interpreter on a WeeNet,
// counts what ORT cannot run as unsupported, and restarts nothing per seed.
#include <gtest/gtest.h>

#include "campaign.h"
#include "ops/registry.h"
#include "weenet/weenet.h"

namespace weec::diff {
namespace {

std::unique_ptr<OrtServer> server() {
  std::string why;
  Options o;
  return start_ort(o, why);
}

Case net_case(weenet::WeeNet& net, OrtServer* ort) {
  Case c;
  c.graph = net.graph.get();
  c.feeds = net.feeds;
  c.calib = net.calib;
  c.ort = ort;
  return c;
}

TEST(Ort, AgreesOnFloatAndQdqNets) {
  auto ort = server();
  if (!ort) GTEST_SKIP() << "onnxruntime-node is not installed";
  for (bool int8 : {false, true}) {
    weenet::Spec spec;
    spec.kind = weenet::Kind::Chain;
    spec.int8 = int8;
    auto net = weenet::generate(2, spec);
    ASSERT_TRUE(net) << net.status().message();
    OrtOutcome out;
    EXPECT_EQ(check(net_case(*net, ort.get()), &out), "");
    EXPECT_EQ(out.agreed, int8 ? 2 : 1);  // float, and the QDQ graph for int8
  }
}

TEST(Ort, DilatedSameConvIsUnsupportedNotFailed) {
  auto ort = server();
  if (!ort) GTEST_SKIP() << "onnxruntime-node is not installed";
  // ORT's Conv refuses dilations with auto_pad SAME_* (conv_attributes.h).
  auto g = std::make_unique<Graph>();
  Builder b(*g, infer_node);
  Value* x = b.input("x", {DType::F32, Shape::of({1, 1, 7}), std::nullopt});
  AttrMap a;
  a["auto_pad"] = Attribute::of_string("SAME_UPPER");
  a["dilations"] = Attribute::of_ints({2});
  b.output(b.op(OpKind::Conv, {x, b.constant("w", Tensor::from_vector<float>({1, 1, 3}, {1, 2, 3}))}, a));
  std::mt19937 rng(1);
  Case c;
  c.graph = g.get();
  c.feeds = random_inputs(*g, rng);
  c.ort = ort.get();
  OrtOutcome out;
  EXPECT_EQ(check(c, &out), "");
  EXPECT_EQ(out.unsupported, 1);
  EXPECT_NE(out.reason.find("Dilation not supported"), std::string::npos) << out.reason;
}

}  // namespace
}  // namespace weec::diff
