// weec show: the model as text IR plus the numbers a user wants first
// (inputs, outputs, parameters, MACs, ops used).
#include <fstream>
#include <map>

#include "commands.h"
#include "ir/dot.h"
#include "ir/printer.h"
#include "ops/registry.h"

namespace weec::cli {

namespace {

struct ShowArgs {
  std::string model;
  std::vector<std::string> input_shapes;
  std::string dot, output;
  int64_t elide = 16;
  bool full = false;
};

// MACs need static shapes: bind each still-symbolic input dim to 1 on a copy.
int64_t total_macs(const Graph& g, bool& assumed_batch_1) {
  auto copy = g.clone();
  assumed_batch_1 = false;
  for (Value* in : copy->inputs)
    for (Dim& d : in->type.shape.dims)
      if (!d.is_known()) {
        d = Dim::known(1);
        assumed_batch_1 = true;
      }
  if (!infer_graph(*copy)) return -1;
  int64_t macs = 0;
  for (auto& n : copy->nodes()) macs += node_macs(*n);
  return macs;
}

Status show(const ShowArgs& a) {
  WEEC_ASSIGN_OR_RETURN(ImportedModel m, load_model(a.model, a.input_shapes));
  const Graph& g = *m.graph;
  PrintOptions opts;
  if (!a.full) opts.elide_constants_over = a.elide;

  if (!a.output.empty()) {  // full text IR to a file, parseable by `weec show x.wir`
    std::ofstream f(a.output);
    if (!f) return error("cannot write '{}'", a.output);
    f << print_graph(g);
    if (!f) return error("error writing '{}'", a.output);
  }
  fmt::print("{}", print_graph(g, opts));

  int64_t params = 0, param_bytes = 0;
  for (Value* c : g.constants()) {
    params += c->constant->numel();
    param_bytes += c->constant->nbytes();
  }
  std::map<std::string, int> histogram;
  for (auto& n : g.nodes()) histogram[std::string(op_name(n->op))]++;
  std::vector<std::string> ops;
  for (auto& [name, count] : histogram) ops.push_back(count > 1 ? fmt::format("{} x{}", name, count) : name);
  bool batch1 = false;
  int64_t macs = total_macs(g, batch1);

  fmt::print("\n# model: {}", a.model);
  if (m.opset)
    fmt::print(" (ONNX IR v{}, opset {}{})", m.ir_version, m.opset,
               m.producer.empty() ? "" : ", from " + m.producer);
  fmt::print("\n# inputs:     ");
  for (size_t i = 0; i < g.inputs.size(); ++i)
    fmt::print("{}%{}: {}", i ? ", " : "", g.inputs[i]->name, type_str(g.inputs[i]->type));
  fmt::print("\n# outputs:    ");
  for (size_t i = 0; i < g.outputs.size(); ++i)
    fmt::print("{}%{}: {}", i ? ", " : "", g.outputs[i]->name, type_str(g.outputs[i]->type));
  fmt::print("\n# nodes:      {} ({})\n", g.nodes().size(), fmt::join(ops, ", "));
  fmt::print("# parameters: {} values in {} constants, {} bytes\n", params, g.constants().size(),
             param_bytes);
  if (macs >= 0) fmt::print("# MACs:       {}{}\n", macs, batch1 ? " (symbolic dims bound to 1)" : "");

  if (!a.dot.empty()) {
    std::ofstream f(a.dot);
    if (!f) return error("cannot write '{}'", a.dot);
    f << graph_to_dot(g);
    if (!f) return error("error writing '{}'", a.dot);
    fmt::print("# wrote Graphviz to {} (render: dot -Tsvg {} -o graph.svg)\n", a.dot, a.dot);
  }
  return Status::ok();
}

}  // namespace

Runner add_show(CLI::App& app) {
  auto a = std::make_shared<ShowArgs>();
  app.add_option("model", a->model, "Model: .onnx, or .wir text IR")->required();
  app.add_option("--input-shape", a->input_shapes, "Bind an input's symbolic dims, e.g. image=8x1x28x28");
  app.add_option("--dot", a->dot, "Also write the graph as Graphviz to this file");
  app.add_option("-o,--output", a->output,
                 "Also write the complete text IR (all constant data) to this .wir file");
  app.add_option("--elide", a->elide, "Print constants with more elements than this as <elided N x T>")
      ->capture_default_str();
  app.add_flag("--full", a->full, "Print every constant's data (output parses back with weec show x.wir)");
  return [a] { return show(*a); };
}

}  // namespace weec::cli
