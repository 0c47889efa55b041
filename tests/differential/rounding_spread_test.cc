// The rounding spread that lets the harness tell an ill-conditioned net from
// a bug: large only where the net magnifies rounding, and a gap beyond it is
// still a failure.
#include <gtest/gtest.h>

#include <cmath>

#include "differential.h"
#include "ops/registry.h"

namespace weec::diff {
namespace {

Tensor f32_tensor(const std::vector<double>& v) {
  Tensor t(DType::F32, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.set_double(static_cast<int64_t>(i), v[i]);
  return t;
}

// y = 3 / (x - 1): ill-conditioned where x is near 1, benign where it is not.
struct Net {
  Graph g;
  std::vector<Tensor> feeds = {f32_tensor({1.0001, 2.0, -0.5})};
  Net() {
    Builder b(g, infer_node);
    Value* x = b.input("x", {DType::F32, Shape::of({3}), std::nullopt});
    Value* d = b.op(OpKind::Sub, {x, b.constant("one", f32_tensor({1, 1, 1}))});
    b.output(b.op(OpKind::Div, {b.constant("three", f32_tensor({3, 3, 3})), d}));
  }
};

TEST(RoundingSpread, LargeOnlyWhereTheNetMagnifiesRounding) {
  Net n;
  auto spread = rounding_spread(n.g, n.feeds);
  ASSERT_TRUE(spread) << spread.status().message();
  const Tensor& s = (*spread)[0];
  // y0 ~ 3e4: the constant 1's perturbation (~1e-7) moves x - 1 = 1e-4 by ~1e-3 relative.
  EXPECT_GT(s.get_double(0) / 3e4, 1e-4);
  EXPECT_LT(s.get_double(0) / 3e4, 1e-2);
  // y1 = 3 and y2 = -2: a few float32 ulps at most.
  EXPECT_LT(s.get_double(1) / 3, 1e-6);
  EXPECT_LT(s.get_double(2) / 2, 1e-6);
  EXPECT_GT(s.get_double(1), 0);  // the perturbation did run
}

TEST(RoundingSpread, ExplainsAGapOnlyWhereTheSpreadIsLarge) {
  Net n;
  auto spread = rounding_spread(n.g, n.feeds);
  ASSERT_TRUE(spread);
  const double s0 = (*spread)[0].get_double(0);
  const std::vector<Tensor> want = {f32_tensor({3 / 1.0001e-4, 3, -2})};
  auto moved = [&](int64_t i, double by) {
    std::vector<Tensor> t = {want[0]};
    t[0].set_double(i, t[0].get_double(i) + by);
    return t;
  };
  EXPECT_TRUE(within_rounding_spread(n.g, n.feeds, moved(0, s0), want, 1e-4));
  // Far beyond what rounding does, even where the net is ill-conditioned.
  EXPECT_FALSE(within_rounding_spread(n.g, n.feeds, moved(0, 100 * s0), want, 1e-4));
  // A 1e-3 relative gap where the net is well conditioned is a bug.
  EXPECT_FALSE(within_rounding_spread(n.g, n.feeds, moved(1, 3e-3), want, 1e-4));
  EXPECT_TRUE(within_rounding_spread(n.g, n.feeds, moved(1, 1e-5), want, 1e-4));  // within tolerance
}

}  // namespace
}  // namespace weec::diff
