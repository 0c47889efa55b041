// NonMaxSuppression, RoiAlign, GridSample, DFT/STFT, StringNormalizer and
// TfIdfVectorizer on tiny cases. Expected values are hand-derived (the
// derivation is in the comments); the ONNX node tests cover the rest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec {
namespace {

// Runs a one-node graph. nullptr inputs are omitted optional inputs; inputs
// listed in `consts` become constants (so inference sees their values).
Expected<Tensor> run(OpKind op, std::vector<const Tensor*> ins, AttrMap attrs = {},
                     std::vector<size_t> consts = {}, TensorType* inferred = nullptr) {
  Graph g;
  Builder b(g, infer_node);
  std::vector<Value*> vals;
  std::vector<const Tensor*> feeds;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!ins[i]) {
      vals.push_back(nullptr);
    } else if (std::find(consts.begin(), consts.end(), i) != consts.end()) {
      vals.push_back(b.constant("c" + std::to_string(i), *ins[i]));
    } else {
      vals.push_back(
          b.input("x" + std::to_string(i), TensorType{ins[i]->dtype(), Shape::of(ins[i]->dims())}));
      feeds.push_back(ins[i]);
    }
  }
  b.output(b.op(op, vals, std::move(attrs)));
  if (!b.status()) return b.status();
  if (inferred) *inferred = g.outputs[0]->type;
  auto out = run_graph(g, feeds);
  if (!out) return out.status();
  return (*out)[0];
}

std::vector<float> floats(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "at " << i;
}

TEST(OpsMisc, NmsSuppressesOverlapsAndKeepsScoreOrder) {
  // Box 0: [0,0]-[1,1]; box 1: [0,0.1]-[1,1.1] overlaps it with IoU 0.9/1.1;
  // box 2: [0,5]-[1,6] is disjoint. Scores pick box 1 first, which removes box 0.
  Tensor boxes = Tensor::from_vector<float>({1, 3, 4}, {0, 0, 1, 1, 0.1f, 0, 1.1f, 1, 5, 0, 6, 1});
  Tensor scores = Tensor::from_vector<float>({1, 1, 3}, {0.8f, 0.9f, 0.7f});
  Tensor max_out = Tensor::scalar<int64_t>(10), iou = Tensor::scalar<float>(0.5f);
  TensorType t;
  auto r = run(OpKind::NonMaxSuppression, {&boxes, &scores, &max_out, &iou}, {}, {}, &t);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(type_str(t), "i64[?,3]");
  EXPECT_EQ(r->to_int_vector(), (std::vector<int64_t>{0, 0, 1, 0, 0, 2}));
  // A score threshold of 0.75 leaves boxes 0 and 1 only; one box per class at most.
  Tensor score_th = Tensor::scalar<float>(0.75f), one = Tensor::scalar<int64_t>(1);
  r = run(OpKind::NonMaxSuppression, {&boxes, &scores, &one, &iou, &score_th});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->to_int_vector(), (std::vector<int64_t>{0, 0, 1}));
  // max_output_boxes_per_class defaults to 0: nothing is selected.
  r = run(OpKind::NonMaxSuppression, {&boxes, &scores});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->dims(), (Dims{0, 3}));
}

TEST(OpsMisc, RoiAlignAveragesBilinearSamples) {
  Tensor x = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor rois = Tensor::from_vector<float>({1, 4}, {0, 0, 2, 2});
  Tensor batch = Tensor::from_vector<int64_t>({1}, {0});
  // half_pixel: the RoI is [-0.5, 1.5]^2; one sample at its centre (0.5, 0.5)
  // interpolates all four pixels equally: 2.5.
  AttrMap attrs = {{"sampling_ratio", Attribute::of_int(1)}};
  TensorType t;
  auto r = run(OpKind::RoiAlign, {&x, &rois, &batch}, attrs, {}, &t);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(type_str(t), "f32[1,1,1,1]");
  expect_near(floats(*r), {2.5f});
  // output_half_pixel, 2x2 bins of size 1, one sample each at 0.5 / 1.5:
  // (0.5,0.5) -> 2.5; (0.5,1.5) -> x clamps to the last column: 3; (1.5,0.5) -> 3.5; (1.5,1.5) -> 4.
  attrs["coordinate_transformation_mode"] = Attribute::of_string("output_half_pixel");
  attrs["output_height"] = Attribute::of_int(2);
  attrs["output_width"] = Attribute::of_int(2);
  r = run(OpKind::RoiAlign, {&x, &rois, &batch}, attrs);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  expect_near(floats(*r), {2.5f, 3.f, 3.5f, 4.f});
  Tensor bad_batch = Tensor::from_vector<int64_t>({1}, {1});
  EXPECT_FALSE(run(OpKind::RoiAlign, {&x, &rois, &bad_batch}).has_value());
}

TEST(OpsMisc, GridSampleModesAndPadding) {
  Tensor x = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  // Grid points (0, 0) and (-1, -1). align_corners=0 maps them to pixel
  // coordinates (0.5, 0.5) and (-0.5, -0.5).
  Tensor grid = Tensor::from_vector<float>({1, 1, 2, 2}, {0, 0, -1, -1});
  auto sample = [&](const char* mode, const char* padding) {
    return run(OpKind::GridSample, {&x, &grid},
               {{"mode", Attribute::of_string(mode)}, {"padding_mode", Attribute::of_string(padding)}});
  };
  // Bilinear: centre = mean of all = 2.5; the corner point weighs pixel (0,0)
  // by 0.25 and three zero-padded pixels by 0.25 each.
  auto r = sample("bilinear", "zeros");
  ASSERT_TRUE(r.has_value()) << r.status().message();
  expect_near(floats(*r), {2.5f, 0.25f});
  // Border padding clamps the corner point to pixel (0,0).
  r = sample("bilinear", "border");
  ASSERT_TRUE(r.has_value()) << r.status().message();
  expect_near(floats(*r), {2.5f, 1.f});
  // Nearest rounds half to even: 0.5 -> 0 and -0.5 -> -0 (both pixel (0,0)).
  r = sample("nearest", "zeros");
  ASSERT_TRUE(r.has_value()) << r.status().message();
  expect_near(floats(*r), {1.f, 1.f});
}

TEST(OpsMisc, ExtremeCoordinatesDoNotBreakSampling) {
  Tensor x = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  // Points far outside read only zero padding; border padding clamps them to
  // the bottom-right pixel; reflection must simply not crash.
  Tensor grid = Tensor::from_vector<float>({1, 1, 2, 2}, {1e30f, 1e30f, INFINITY, INFINITY});
  for (const char* mode : {"bilinear", "nearest", "bicubic"}) {
    auto r = run(OpKind::GridSample, {&x, &grid}, {{"mode", Attribute::of_string(mode)}});
    ASSERT_TRUE(r.has_value()) << r.status().message();
    expect_near(floats(*r), {0, 0});
    r = run(OpKind::GridSample, {&x, &grid},
            {{"mode", Attribute::of_string(mode)}, {"padding_mode", Attribute::of_string("border")}});
    ASSERT_TRUE(r.has_value()) << r.status().message();
    expect_near(floats(*r), {4, 4});
    r = run(OpKind::GridSample, {&x, &grid},
            {{"mode", Attribute::of_string(mode)}, {"padding_mode", Attribute::of_string("reflection")}});
    ASSERT_TRUE(r.has_value()) << r.status().message();
  }
  // An RoI spanning 1e30 pixels would need ~1e30 samples per bin: an error.
  Tensor rois = Tensor::from_vector<float>({1, 4}, {0, 0, 1e30f, 1e30f});
  Tensor batch = Tensor::from_vector<int64_t>({1}, {0});
  EXPECT_FALSE(run(OpKind::RoiAlign, {&x, &rois, &batch}).has_value());
}

TEST(OpsMisc, DftOfRealAndComplexSignals) {
  // DFT of [1, 2, 3, 4] is [10, -2+2i, -2, -2-2i].
  Tensor x = Tensor::from_vector<float>({1, 4, 1}, {1, 2, 3, 4});
  TensorType t;
  auto r = run(OpKind::DFT, {&x}, {}, {}, &t);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(type_str(t), "f32[1,4,2]");
  expect_near(floats(*r), {10, 0, -2, 2, -2, 0, -2, -2});
  // onesided keeps bins 0..n/2.
  r = run(OpKind::DFT, {&x}, {{"onesided", Attribute::of_int(1)}}, {}, &t);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(type_str(t), "f32[1,3,2]");
  expect_near(floats(*r), {10, 0, -2, 2, -2, 0});
  // The inverse of that spectrum gives the signal back (imaginary parts 0).
  Tensor spec = Tensor::from_vector<float>({1, 4, 2}, {10, 0, -2, 2, -2, 0, -2, -2});
  r = run(OpKind::DFT, {&spec}, {{"inverse", Attribute::of_int(1)}});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  expect_near(floats(*r), {1, 0, 2, 0, 3, 0, 4, 0});
  // dft_length 2 truncates to [1, 2]: [3, -1]. As a constant it fixes the shape.
  Tensor len = Tensor::scalar<int64_t>(2);
  r = run(OpKind::DFT, {&x, &len}, {}, {1}, &t);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(type_str(t), "f32[1,2,2]");
  expect_near(floats(*r), {3, 0, -1, 0});
}

TEST(OpsMisc, StftFramesTheSignal) {
  // Frames of length 2, step 1 over [1, 2, 3]: [1,2] -> (3, -1), [2,3] -> (5, -1).
  Tensor sig = Tensor::from_vector<float>({1, 3, 1}, {1, 2, 3});
  Tensor step = Tensor::scalar<int64_t>(1), len = Tensor::scalar<int64_t>(2);
  TensorType t;
  auto r = run(OpKind::STFT, {&sig, &step, nullptr, &len}, {}, {1, 3}, &t);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(type_str(t), "f32[1,2,2,2]");
  expect_near(floats(*r), {3, 0, -1, 0, 5, 0, -1, 0});
}

Tensor strings(Dims dims, std::vector<std::string> v) {
  Tensor t(DType::String, std::move(dims));
  t.strings() = std::move(v);
  return t;
}

TEST(OpsMisc, StringNormalizerStopWordsAndCase) {
  Tensor x = strings({3}, {"Stop", "Abc", "stop"});
  AttrMap attrs = {{"stopwords", Attribute::of_strings({"STOP"})},
                   {"case_change_action", Attribute::of_string("LOWER")}};
  auto r = run(OpKind::StringNormalizer, {&x}, attrs);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->strings(), (std::vector<std::string>{"abc"}));
  // Case-sensitive: "STOP" matches nothing; UPPER changes the rest.
  attrs["is_case_sensitive"] = Attribute::of_int(1);
  attrs["case_change_action"] = Attribute::of_string("UPPER");
  r = run(OpKind::StringNormalizer, {&x}, attrs);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->strings(), (std::vector<std::string>{"STOP", "ABC", "STOP"}));
  // Everything removed from a [1, C] input: one empty string, shape [1, 1].
  Tensor all = strings({1, 2}, {"a", "a"});
  r = run(OpKind::StringNormalizer, {&all}, {{"stopwords", Attribute::of_strings({"a"})}});
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->dims(), (Dims{1, 1}));
  EXPECT_EQ(r->strings(), (std::vector<std::string>{""}));
}

TEST(OpsMisc, TfIdfCountsNgramsWithSkips) {
  // Pool: unigram [1] -> output 0, bigram [1, 2] -> output 1.
  AttrMap attrs = {
      {"mode", Attribute::of_string("TF")},          {"min_gram_length", Attribute::of_int(1)},
      {"max_gram_length", Attribute::of_int(2)},     {"max_skip_count", Attribute::of_int(0)},
      {"ngram_counts", Attribute::of_ints({0, 1})},  {"ngram_indexes", Attribute::of_ints({0, 1})},
      {"pool_int64s", Attribute::of_ints({1, 1, 2})}};
  // [1, 2, 1, 3, 2]: "1" twice; adjacent "1 2" once.
  Tensor x = Tensor::from_vector<int32_t>({5}, {1, 2, 1, 3, 2});
  TensorType t;
  auto r = run(OpKind::TfIdfVectorizer, {&x}, attrs, {}, &t);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(type_str(t), "f32[2]");
  expect_near(floats(*r), {2, 1});
  // Skip 1 also finds "1 _ 2" (positions 2, 4); unigrams still count once.
  attrs["max_skip_count"] = Attribute::of_int(1);
  r = run(OpKind::TfIdfVectorizer, {&x}, attrs);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  expect_near(floats(*r), {2, 2});
  // TFIDF scales counts by weights; IDF replaces non-zero counts by them.
  attrs["weights"] = Attribute::of_floats({0.5f, 3.f});
  attrs["mode"] = Attribute::of_string("TFIDF");
  r = run(OpKind::TfIdfVectorizer, {&x}, attrs);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  expect_near(floats(*r), {1, 6});
  attrs["mode"] = Attribute::of_string("IDF");
  r = run(OpKind::TfIdfVectorizer, {&x}, attrs);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  expect_near(floats(*r), {0.5f, 3});
  // 2-D input: rows are independent ("1 2" does not span rows).
  Tensor x2 = Tensor::from_vector<int64_t>({2, 2}, {2, 1, 2, 9});
  attrs["mode"] = Attribute::of_string("TF");
  r = run(OpKind::TfIdfVectorizer, {&x2}, attrs);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_EQ(r->dims(), (Dims{2, 2}));
  expect_near(floats(*r), {1, 0, 0, 0});
}

}  // namespace
}  // namespace weec
