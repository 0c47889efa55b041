// weec export: any model weec loads (.onnx, .wir) -> ONNX, optionally after
// the pass pipeline (Fused nodes are inlined back into ONNX ops).
#include <set>

#include "compile_model.h"
#include "frontend/onnx/export.h"

namespace weec::cli {

namespace {

struct ExportArgs {
  ModelArgs m;
  std::string output;
  CLI::App* app = nullptr;
  std::set<const CLI::Option*> own_options;  // not pipeline options
};

Status export_model(const ExportArgs& a) {
  // The pipeline runs only when one of its options is given (-O, --passes,
  // ...): by default the model is written as imported.
  bool optimise = false;
  for (const CLI::Option* o : a.app->get_options())
    if (o->count() > 0 && !a.own_options.count(o)) optimise = true;
  ImportedModel model;
  if (optimise) {
    WEEC_ASSIGN_OR_RETURN(auto p, prepare_model(a.m));
    model = std::move(p.model);
  } else {
    WEEC_ASSIGN_OR_RETURN(model, load_model(a.m.model, a.m.input_shapes));
  }
  ExportSummary s;
  WEEC_TRY(write_onnx(*model.graph, a.output, {}, &s));
  fmt::print("wrote {}: {} nodes, {} initializers, {} bytes (ONNX opset {}, IR version {}{})\n", a.output,
             s.nodes, s.initializers, s.bytes, kExportOpset, kExportIrVersion,
             optimise ? ", after the " + (a.m.pipeline.passes.empty() ? a.m.pipeline.opt_level : "given") +
                            " pipeline"
                      : "");
  return Status::ok();
}

}  // namespace

Runner add_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  a->app = &app;
  add_model_options(app, a->m);
  app.add_option("-o,--output", a->output, "The ONNX file to write")->required();
  for (const char* name : {"model", "--input-shape", "--output", "--help"})
    if (const CLI::Option* o = app.get_option_no_throw(name)) a->own_options.insert(o);
  return [a] { return export_model(*a); };
}

}  // namespace weec::cli
