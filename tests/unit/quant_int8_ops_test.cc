// The float ops an int8 graph keeps as they are (MaxPool, Relu, Reshape,
// Flatten, Transpose, Concat, Squeeze) on int8 and uint8 data (Relu int8 only,
// as ONNX): the
// interpreter against a reference written here, and the C against the
// interpreter.
#include "quant_test_util.h"

namespace weec::qtest {
namespace {

Tensor i64s(const std::vector<int64_t>& v) { return Tensor::from_vector<int64_t>({(int64_t)v.size()}, v); }

void movement_chain(DType t, uint32_t seed) {
  QNet n(seed);
  Tensor x = n.random(t, {1, 3, 6, 7}), z = n.random(t, {1, 5});
  // Reference: 2x2/2 max pool -> [1,3,3,3], relu, NCHW -> NHWC, flatten
  // to [1, 27], concat with z -> [1, 32], as [1, 1, 32], squeezed to [1, 32].
  std::vector<int64_t> pooled(27);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t w = 0; w < 3; ++w) {
        int64_t m = std::numeric_limits<int64_t>::min();
        for (int64_t dh = 0; dh < 2; ++dh)
          for (int64_t dw = 0; dw < 2; ++dw)
            m = std::max(m, x.get_int((c * 6 + 2 * h + dh) * 7 + 2 * w + dw));
        pooled[(h * 3 + w) * 3 + c] = std::max<int64_t>(m, 0);  // relu (a no-op on uint8), stored NHWC
      }
  Tensor want(t, {1, 32});
  for (int64_t i = 0; i < 27; ++i) want.set_double(i, (double)pooled[i]);
  for (int64_t i = 0; i < 5; ++i) want.set_double(27 + i, (double)z.get_int(i));

  Value* p = n.b.op(OpKind::MaxPool, {n.in("x", x)},
                    {{"kernel_shape", Attribute::of_ints({2, 2})}, {"strides", Attribute::of_ints({2, 2})}});
  // ONNX's Relu has no uint8 form (weec follows it); uint8 data skips it.
  Value* r = t == DType::U8 ? p : n.b.op(OpKind::Relu, {p});
  Value* tr = n.b.op(OpKind::Transpose, {r}, {{"perm", Attribute::of_ints({0, 2, 3, 1})}});
  Value* f = n.b.op(OpKind::Flatten, {tr}, {{"axis", Attribute::of_int(1)}});
  Value* cat = n.b.op(OpKind::Concat, {f, n.in("z", z)}, {{"axis", Attribute::of_int(1)}});
  Value* rs = n.b.op(OpKind::Reshape, {cat, n.cst("shape", i64s({1, 1, 32}))});
  n.out(n.b.op(OpKind::Squeeze, {rs, n.cst("axes", i64s({1}))}), want);
  expect_interp(n);
  expect_c_matches_interp(n);
}

TEST(QuantInt8Ops, MovementAndMaxPoolOnInt8) { movement_chain(DType::I8, 121); }
TEST(QuantInt8Ops, MovementAndMaxPoolOnUint8) { movement_chain(DType::U8, 122); }

}  // namespace
}  // namespace weec::qtest
