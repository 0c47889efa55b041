// infer-shapes: binds PassContext::input_shapes into the graph inputs' types
// and re-runs every op's type inference, so static shapes reach every value.
// A symbol bound through one input ("N" -> 1) is bound in every other input
// that uses it too: the interpreter requires a symbol to mean one number.
#include <unordered_map>

#include "ops/registry.h"
#include "passes/passes.h"

namespace weec {

namespace {

Status bind_input(Value& in, const Dims& dims, std::unordered_map<std::string, int64_t>& symbols) {
  const Shape& declared = in.type.shape;
  if (declared.rank_known && declared.rank() != (int64_t)dims.size())
    return error("input shape {} for '{}' has rank {}, but the input is {}", dims_str(dims), in.name,
                 dims.size(), type_str(in.type));
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) return error("input shape {} for '{}' has a negative dim", dims_str(dims), in.name);
    if (!declared.rank_known) continue;
    const Dim& d = declared.dims[i];
    if (d.is_known() && d.value != dims[i])
      return error("input shape {} for '{}' disagrees with its type {} at dim {}", dims_str(dims), in.name,
                   type_str(in.type), i);
    if (!d.is_known() && !d.symbol.empty()) {
      auto [it, inserted] = symbols.emplace(d.symbol, dims[i]);
      if (!inserted && it->second != dims[i])
        return error("input shape {} for '{}' binds '{}' to {}, but it is already {}", dims_str(dims),
                     in.name, d.symbol, dims[i], it->second);
    }
  }
  in.type.shape = Shape::of(dims);
  return Status::ok();
}

class InferShapesPass : public Pass {
 public:
  std::string_view name() const override { return "infer-shapes"; }
  Status run(Graph& g, PassContext& ctx) override {
    std::unordered_map<std::string, int64_t> symbols;
    for (auto& [name, dims] : ctx.input_shapes) {
      Value* in = nullptr;
      for (Value* v : g.inputs)
        if (v->name == name) in = v;
      if (!in) {
        std::vector<std::string> names;
        for (Value* v : g.inputs) names.push_back(v->name);
        return error("input shape given for '{}', but the graph's inputs are {}", name,
                     names.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(names, ", ")));
      }
      WEEC_TRY(bind_input(*in, dims, symbols));
    }
    // Other inputs sharing a bound symbol get the same number.
    for (Value* v : g.inputs)
      for (Dim& d : v->type.shape.dims)
        if (!d.is_known() && !d.symbol.empty()) {
          auto it = symbols.find(d.symbol);
          if (it != symbols.end()) d = Dim::known(it->second);
        }
    return infer_graph(g);
  }
};

}  // namespace

std::unique_ptr<Pass> make_infer_shapes_pass() { return std::make_unique<InferShapesPass>(); }

}  // namespace weec
