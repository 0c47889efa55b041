// NonMaxSuppression: greedy per-(batch, class) box selection by score,
// dropping boxes whose IoU with an already selected box exceeds iou_threshold.
// Output: int64 [num_selected, 3] rows of (batch, class, box), batch-major,
// then class, then selection order. The selection follows ONNX Runtime (which
// produced the reference data): candidates need score > score_threshold, are
// taken by descending score (ties: lower box index first), and a box is
// suppressed when IoU > iou_threshold. Corners may come in either order.
#include <algorithm>

#include "ops/op_util.h"

namespace weec {

namespace {

struct Box {
  float x_min, y_min, x_max, y_max;
};

Box read_box(const float* b, bool center_point) {
  if (center_point) {  // [x_center, y_center, width, height]
    float hw = b[2] / 2, hh = b[3] / 2;
    return {b[0] - hw, b[1] - hh, b[0] + hw, b[1] + hh};
  }
  // [y1, x1, y2, x2], any diagonal pair of corners.
  return {std::min(b[1], b[3]), std::min(b[0], b[2]), std::max(b[1], b[3]), std::max(b[0], b[2])};
}

// Same order of comparisons and early exits as ONNX Runtime's SuppressByIOU,
// so degenerate boxes (zero area) are never suppressed.
bool suppress(const Box& a, const Box& b, float iou_threshold) {
  float ix_min = std::max(a.x_min, b.x_min), ix_max = std::min(a.x_max, b.x_max);
  if (ix_max <= ix_min) return false;
  float iy_min = std::max(a.y_min, b.y_min), iy_max = std::min(a.y_max, b.y_max);
  if (iy_max <= iy_min) return false;
  float inter = (ix_max - ix_min) * (iy_max - iy_min);
  if (inter <= 0.f) return false;
  float area_a = (a.x_max - a.x_min) * (a.y_max - a.y_min);
  float area_b = (b.x_max - b.x_min) * (b.y_max - b.y_min);
  float uni = area_a + area_b - inter;
  if (area_a <= 0.f || area_b <= 0.f || uni <= 0.f) return false;
  return inter / uni > iou_threshold;
}

// Optional scalar input (shape [] or [1]); `def` when omitted.
Expected<double> scalar_input(const KernelContext& ctx, size_t i, const char* what, double def) {
  if (!ctx.has_input(i)) return def;
  const Tensor& t = ctx.input(i);
  if (t.numel() == 0) return def;
  if (t.numel() != 1) return ctx.error("{} must be a scalar, got shape {}", what, dims_str(t.dims()));
  if (t.dtype() == DType::String) return ctx.error("{} must be numeric", what);
  return t.get_double(0);
}

Status nms_kernel(KernelContext& ctx) {
  const Tensor& boxes0 = ctx.input(0);
  const Tensor& scores0 = ctx.input(1);
  if (boxes0.rank() != 3 || boxes0.dim(2) != 4)
    return ctx.error("boxes must have shape [batches, boxes, 4], got {}", dims_str(boxes0.dims()));
  if (scores0.rank() != 3 || scores0.dim(0) != boxes0.dim(0) || scores0.dim(2) != boxes0.dim(1))
    return ctx.error("scores shape {} does not match boxes shape {}", dims_str(scores0.dims()),
                     dims_str(boxes0.dims()));
  if (!is_float(boxes0.dtype()) || !is_float(scores0.dtype()))
    return ctx.error("boxes and scores must be float");
  WEEC_ASSIGN_OR_RETURN(double max_out_d, scalar_input(ctx, 2, "max_output_boxes_per_class", 0));
  WEEC_ASSIGN_OR_RETURN(double iou_d, scalar_input(ctx, 3, "iou_threshold", 0));
  bool has_score_threshold = ctx.has_input(4) && ctx.input(4).numel() > 0;
  WEEC_ASSIGN_OR_RETURN(double score_d, scalar_input(ctx, 4, "score_threshold", 0));
  const int64_t max_out = max_out_d < 0 ? 0 : (int64_t)max_out_d;
  const float iou_threshold = (float)iou_d, score_threshold = (float)score_d;
  bool center_point = ctx.attrs.i("center_point_box") != 0;

  Tensor boxes = convert(boxes0, DType::F32), scores = convert(scores0, DType::F32);
  const int64_t num_batches = boxes.dim(0), num_boxes = boxes.dim(1), num_classes = scores.dim(1);
  const float* bp = boxes.data<float>();
  const float* sp = scores.data<float>();
  std::vector<int64_t> rows;
  std::vector<int64_t> candidates;
  std::vector<Box> selected;
  for (int64_t b = 0; b < num_batches && max_out > 0; ++b) {
    std::vector<Box> batch_boxes(num_boxes);
    for (int64_t i = 0; i < num_boxes; ++i)
      batch_boxes[i] = read_box(bp + (b * num_boxes + i) * 4, center_point);
    for (int64_t c = 0; c < num_classes; ++c) {
      const float* s = sp + (b * num_classes + c) * num_boxes;
      candidates.clear();
      for (int64_t i = 0; i < num_boxes; ++i)
        if (!has_score_threshold || s[i] > score_threshold) candidates.push_back(i);
      // NaN scores (possible only without a threshold) go last instead of breaking the ordering.
      auto key = [&](int64_t i) { return std::isnan(s[i]) ? -INFINITY : s[i]; };
      std::stable_sort(candidates.begin(), candidates.end(),
                       [&](int64_t x, int64_t y) { return key(x) > key(y); });
      selected.clear();
      int64_t taken = 0;
      for (int64_t i : candidates) {
        if (taken >= max_out) break;
        bool keep = true;
        for (const Box& prev : selected)
          if (suppress(batch_boxes[i], prev, iou_threshold)) {
            keep = false;
            break;
          }
        if (!keep) continue;
        selected.push_back(batch_boxes[i]);
        rows.insert(rows.end(), {b, c, i});
        ++taken;
      }
    }
  }
  ctx.outputs[0] = Tensor::from_vector<int64_t>({(int64_t)rows.size() / 3, 3}, rows);
  return Status::ok();
}

Status infer_nms(InferContext& ctx) {
  for (size_t i : {0, 1}) {
    const TensorType& t = ctx.input_type(i);
    if (!is_float(t.dtype)) return ctx.error("{} must be float", ctx.input_desc(i));
    if (t.shape.rank_known && t.shape.rank() != 3) return ctx.error("{} must have rank 3", ctx.input_desc(i));
  }
  Shape s = Shape::of_rank(2);
  s.dims[1] = Dim::known(3);
  ctx.outputs[0] = TensorType{DType::I64, s};
  return Status::ok();
}

}  // namespace

const OpSchema& schema_NonMaxSuppression() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::NonMaxSuppression, "NonMaxSuppression"};
    m.since_opset = 10;
    m.min_inputs = 2;
    m.max_inputs = 5;
    m.attrs = {attr_int("center_point_box", 0)};
    m.infer = infer_nms;
    m.kernel = nms_kernel;
    m.doc = "greedy IoU-based box selection per batch and class; int64 [n, 3] (batch, class, box)";
    return m;
  }();
  return s;
}

}  // namespace weec
