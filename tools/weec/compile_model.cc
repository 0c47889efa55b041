#include "compile_model.h"

#include <cctype>
#include <chrono>

#include "ops/registry.h"

namespace weec::cli {

void add_model_options(CLI::App& sub, ModelArgs& a, bool quant_options) {
  sub.add_option("model", a.model, "Model: .onnx or .wir text IR")->required();
  sub.add_option("--input-shape", a.input_shapes, "Bind an input's dims, e.g. image=1x1x28x28 (repeatable)");
  add_pipeline_options(sub, a.pipeline);
  if (quant_options) add_quant_options(sub, a.quant);
}

Expected<PreparedModel> prepare_model(const ModelArgs& a, const std::vector<const Tensor*>* bind_from) {
  auto t0 = std::chrono::steady_clock::now();
  PreparedModel p;
  WEEC_ASSIGN_OR_RETURN(p.model, load_model(a.model, a.input_shapes));
  Graph& g = *p.model.graph;
  // A symbolic batch axis (PyTorch's dynamic axes, `weec train`'s models)
  // with every other dim known, no --input-shape for it and no data to bind
  // it from: batch 1, as compiled code and eval run one sample at a time.
  bool bound = false;
  for (Value* in : bind_from ? std::vector<Value*>{} : g.inputs) {
    Shape& s = in->type.shape;
    if (!s.rank_known || s.rank() < 1 || s.dims[0].is_known()) continue;
    bool rest = true, given = false;
    for (int64_t d = 1; d < s.rank(); ++d) rest = rest && s.dims[d].is_known();
    for (const std::string& spec : a.input_shapes) given = given || spec.rfind(in->name + "=", 0) == 0;
    if (!rest || given) continue;
    s.dims[0] = Dim::known(1);
    bound = true;
  }
  if (bound) WEEC_TRY(infer_graph(g));
  if (bind_from) {
    if (bind_from->size() != g.inputs.size())
      return error("the data has {} inputs, the model takes {}", bind_from->size(), g.inputs.size());
    for (size_t i = 0; i < g.inputs.size(); ++i)
      if (!g.inputs[i]->type.shape.is_static()) g.inputs[i]->type.shape = Shape::of((*bind_from)[i]->dims());
  }
  PipelineOptions po = a.pipeline;
  po.input_shapes = a.input_shapes;
  if (a.quant.enabled() || !a.quant.calib.empty() || a.quant.int_io) {
    // Calibration samples take the input's shape: bind it first.
    for (const std::string& spec : a.input_shapes) {
      WEEC_ASSIGN_OR_RETURN(auto b, parse_input_shape(spec));
      for (Value* in : g.inputs)
        if (in->name == b.first && !in->type.shape.is_static()) in->type.shape = Shape::of(b.second);
    }
    WEEC_TRY(setup_quantization(a.quant, g, p.ctx, po));
  }
  WEEC_TRY(run_pipeline(g, po, p.ctx));
  p.pipeline_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return p;
}

std::string code_summary(const CCodegenResult& r) {
  std::string libm;
  for (auto& f : r.libm)
    if (!std::isupper((unsigned char)f[0]))
      libm += (libm.empty() ? "" : ", ") + f;  // skip INFINITY, NAN macros
  return fmt::format("arena {} B (lower bound {} B) · weights {} B · {} MACs · libm: {}", r.plan.arena_bytes,
                     r.plan.lower_bound, r.weight_bytes, r.macs, libm.empty() ? "none" : libm);
}

}  // namespace weec::cli
