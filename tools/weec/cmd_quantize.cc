// weec quantize: post-training static quantisation to a QDQ ONNX model
// (QuantizeLinear/DequantizeLinear around float ops, int8 weights, int32
// biases) that ONNX Runtime and other tools load. `weec compile --quantize
// int8` runs the same calibration and then lowers to integer-only code.
#include "compile_model.h"
#include "frontend/onnx/export.h"

namespace weec::cli {

namespace {

struct QuantizeArgs {
  ModelArgs m;
  std::string output;
};

Status quantize_model(QuantizeArgs a) {
  if (a.m.pipeline.passes.empty()) {
    // The -O1 clean-up (folded BatchNorm, no Dropout) without memory
    // planning, then the quantize pass; no lowering: the QDQ form is the output.
    WEEC_ASSIGN_OR_RETURN(a.m.pipeline.passes, pipeline("O1"));
    a.m.pipeline.passes.back() = "quantize";
  }
  WEEC_ASSIGN_OR_RETURN(PreparedModel p, prepare_model(a.m));
  for (const std::string& r : p.ctx.remarks)
    if (r.rfind("quantize:", 0) == 0) fmt::print("{}\n", r);
  ExportSummary s;
  WEEC_TRY(write_onnx(*p.model.graph, a.output, {}, &s));
  fmt::print("wrote {}: {} nodes, {} initializers, {} bytes (QDQ, ONNX opset {}) in {:.0f} ms\n", a.output,
             s.nodes, s.initializers, s.bytes, kExportOpset, p.pipeline_ms);
  return Status::ok();
}

}  // namespace

Runner add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  add_model_options(app, a->m, false);
  add_quant_options(app, a->m.quant, true);
  app.add_option("-o,--output", a->output, "The QDQ ONNX file to write")->required();
  return [a] { return quantize_model(*a); };
}

}  // namespace weec::cli
