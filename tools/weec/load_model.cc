#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "ir/parser.h"
#include "ops/registry.h"
#include "ops/verify_ops.h"
#include "pipeline_options.h"

namespace weec::cli {

namespace {

// "image=1x1x28x28" -> bind the named input's dims (symbolic or unknown ones).
Status bind_input_shape(Graph& g, const std::string& spec) {
  WEEC_ASSIGN_OR_RETURN(auto binding, parse_input_shape(spec));
  auto& [name, dims] = binding;
  Value* in = nullptr;
  for (Value* v : g.inputs)
    if (v->name == name) in = v;
  if (!in) return error("--input-shape: the model has no input '{}'", name);
  WEEC_TRY(check_tensor_size(in->type.dtype, dims).with_context(fmt::format("--input-shape '{}'", spec)));
  const Shape& declared = in->type.shape;
  if (declared.rank_known && declared.rank() != (int64_t)dims.size())
    return error("--input-shape '{}': input '{}' has rank {}", spec, name, declared.rank());
  for (size_t i = 0; declared.rank_known && i < dims.size(); ++i)
    if (declared.dims[i].is_known() && declared.dims[i].value != dims[i])
      return error("--input-shape '{}': dim {} of '{}' is fixed at {}", spec, i, name,
                   declared.dims[i].value);
  in->type.shape = Shape::of(dims);
  return Status::ok();
}

}  // namespace

Expected<ImportedModel> load_model(const std::string& path, const std::vector<std::string>& input_shapes) {
  ImportedModel m;
  if (path.size() > 4 && path.substr(path.size() - 4) == ".wir") {
    std::ifstream f(path);
    if (!f) return error("cannot open '{}'", path);
    std::stringstream ss;
    ss << f.rdbuf();
    auto g = parse_graph(ss.str());
    if (!g) return g.status().with_context(path);
    m.graph = std::move(*g);
  } else {
    if (!std::filesystem::exists(path)) return error("'{}' does not exist", path);
    auto im = import_onnx_file(path);
    if (!im) return im.status();
    m = std::move(*im);
  }
  // Hand-written .wir text gets the same checks as an import: SSA, order,
  // arity, attributes, and types that agree with each op's inference.
  WEEC_TRY(verify_graph_with_ops(*m.graph).with_context(path));
  for (auto& spec : input_shapes) WEEC_TRY(bind_input_shape(*m.graph, spec));
  WEEC_TRY(infer_graph(*m.graph).with_context(path));
  return m;
}

}  // namespace weec::cli
