// Deprecated ops that later ops subsume; each exists only as an import hook.
// Scatter (opsets 9-10) is ScatterElements without `reduction`. Upsample
// (opsets 7-9; 7-8 take `scales` as an attribute, 9 as an input) is Resize with
// asymmetric coordinates (x_in = x_out / scale) and, for nearest, floor
// rounding: exactly Upsample's definition. Neither op survives import, so their
// infer hooks only report that one was built by hand.
#include "ops/op_util.h"

namespace weec {

namespace {

Status import_scatter(ImportContext& ctx) {
  if (ctx.inputs.size() != 3) return ctx.error("Scatter takes data, indices and updates");
  AttrMap attrs;
  if (auto it = ctx.attrs.find("axis"); it != ctx.attrs.end()) attrs["axis"] = it->second;
  ctx.emit(OpKind::ScatterElements, ctx.inputs, ctx.outputs, attrs);
  return Status::ok();
}

Status import_upsample(ImportContext& ctx) {
  std::string mode = "nearest";
  if (auto it = ctx.attrs.find("mode"); it != ctx.attrs.end()) mode = it->second.s;
  if (mode == "bilinear") mode = "linear";  // the experimental Upsample-1 spelling
  if (mode != "nearest" && mode != "linear")
    return ctx.error("Upsample mode '{}' is not nearest or linear", mode);
  Value* scales = nullptr;
  if (ctx.opset < 9) {
    auto it = ctx.attrs.find("scales");
    if (it == ctx.attrs.end()) return ctx.error("Upsample-{} needs the `scales` attribute", ctx.opset);
    const std::vector<float>& s = it->second.floats;
    scales = ctx.constant("scales", Tensor::from_vector<float>({(int64_t)s.size()}, s));
    if (ctx.inputs.size() != 1) return ctx.error("Upsample-{} takes one input", ctx.opset);
  } else {
    if (ctx.inputs.size() != 2 || !ctx.inputs[1])
      return ctx.error("Upsample-{} takes X and scales", ctx.opset);
    if (ctx.attrs.count("scales"))
      return ctx.error("Upsample-{} takes scales as an input, not an attribute", ctx.opset);
    scales = ctx.inputs[1];
  }
  AttrMap attrs;
  attrs["mode"] = Attribute::of_string(mode);
  attrs["coordinate_transformation_mode"] = Attribute::of_string("asymmetric");
  if (mode == "nearest") attrs["nearest_mode"] = Attribute::of_string("floor");
  ctx.emit(OpKind::Resize, {ctx.inputs[0], nullptr, scales}, ctx.outputs, attrs);
  return Status::ok();
}

Status infer_rewritten(InferContext& ctx) {
  return ctx.error("{} is rewritten at import; it should not appear in a graph", ctx.schema.onnx_type);
}

}  // namespace

const OpSchema& schema_Scatter() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Scatter, "Scatter"};
    m.since_opset = 9;
    m.until_opset = 10;
    m.min_inputs = m.max_inputs = 3;
    m.attrs = {attr_int("axis", 0)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_rewritten;
    m.import = import_scatter;
    m.doc = "deprecated; imported as ScatterElements";
    return m;
  }();
  return s;
}

const OpSchema& schema_Upsample() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Upsample, "Upsample"};
    m.since_opset = 7;
    m.until_opset = 9;
    m.min_inputs = 1;
    m.max_inputs = 2;
    m.attrs = {attr_string("mode", "nearest"), attr_optional("scales", Attribute::Kind::Floats)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_rewritten;
    m.import = import_upsample;
    m.doc = "deprecated; imported as Resize (asymmetric coordinates, floor for nearest)";
    return m;
  }();
  return s;
}

}  // namespace weec
