#include "ops/registry.h"

#include <array>

namespace weec {

namespace {

using SchemaGetter = const OpSchema& (*)();
constexpr std::array<SchemaGetter, kNumOps> kSchemaGetters = {
#define WEEC_OP(name) &schema_##name,
#include "ops/ops.def"
#undef WEEC_OP
};

}  // namespace

std::string_view fusion_kind_name(FusionKind k) {
  switch (k) {
    case FusionKind::Elementwise:
      return "elementwise";
    case FusionKind::Broadcast:
      return "broadcast";
    case FusionKind::Injective:
      return "injective";
    case FusionKind::Reduce:
      return "reduce";
    case FusionKind::OutElementwiseFusable:
      return "out-elementwise-fusable";
    case FusionKind::Opaque:
      return "opaque";
  }
  return "?";
}

const OpSchema& op_schema(OpKind op) { return kSchemaGetters[(size_t)op](); }

const OpSchema* find_onnx_schema(std::string_view domain, std::string_view op_type) {
  if (domain == "ai.onnx") domain = "";
  if (op_type.empty()) return nullptr;  // weec-internal ops have no ONNX name
  for (size_t i = 0; i < kSchemaGetters.size(); ++i) {
    const OpSchema& s = kSchemaGetters[i]();
    if (s.onnx_type == op_type && s.domain == domain) return &s;
  }
  return nullptr;
}

Status validate_node(const Node& node) {
  const OpSchema& s = op_schema(node.op);
  int n_in = (int)node.inputs.size();
  if (n_in < s.min_inputs || (s.max_inputs >= 0 && n_in > s.max_inputs))
    return error("{}: has {} inputs, expected {}..{}", node.describe(), n_in, s.min_inputs,
                 s.max_inputs < 0 ? std::string("n") : std::to_string(s.max_inputs));
  for (int i = 0; i < std::min(n_in, s.min_inputs); ++i)
    if (!node.inputs[i]) return error("{}: required input {} is missing", node.describe(), i);
  int n_out = (int)node.outputs.size();
  if (n_out < s.min_outputs || (s.max_outputs >= 0 && n_out > s.max_outputs))
    return error("{}: has {} outputs, expected {}..{}", node.describe(), n_out, s.min_outputs,
                 s.max_outputs < 0 ? std::string("n") : std::to_string(s.max_outputs));
  for (auto& [name, a] : node.attrs) {
    const AttrSpec* spec = nullptr;
    for (auto& sp : s.attrs)
      if (sp.name == name) spec = &sp;
    if (!spec) return error("{}: unknown attribute '{}'", node.describe(), name);
    if (spec->kind != a.kind)
      return error("{}: attribute '{}' is {}, expected {}", node.describe(), name, attr_kind_name(a.kind),
                   attr_kind_name(spec->kind));
  }
  for (auto& sp : s.attrs)
    if (sp.required && !node.attr(sp.name))
      return error("{}: required attribute '{}' is missing", node.describe(), sp.name);
  return Status::ok();
}

Status infer_node(Node& node) {
  const OpSchema& s = op_schema(node.op);
  if (!s.infer) return error("{}: op has no type inference", node.describe());
  InferContext ctx(node, s);
  WEEC_TRY(s.infer(ctx));
  if (ctx.outputs.size() != node.outputs.size())
    return error("{}: inference produced {} types for {} outputs", node.describe(), ctx.outputs.size(),
                 node.outputs.size());
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    Value* out = node.outputs[i];
    if (!out || !ctx.outputs[i].shape.rank_known) continue;
    // Refuse absurd sizes here, before constant folding, the interpreter or
    // the memory plan allocates for them. Known dims alone decide it.
    Dims known;
    for (const Dim& d : ctx.outputs[i].shape.dims)
      if (d.is_known()) known.push_back(d.value);
    Status st = check_tensor_size(ctx.outputs[i].dtype, known);
    if (!st) return error("{}: output {} (%{}): {}", node.describe(), i, out->name, st.message());
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    Value* out = node.outputs[i];
    if (!out) continue;
    // Ops infer dtype and shape; a value's quantisation is set by the
    // quantisation passes and survives re-inference while the dtype holds.
    std::optional<QuantParams> quant = out->type.quant;
    out->type = ctx.outputs[i];
    if (!out->type.quant && quant && out->type.dtype == ctx.outputs[i].dtype && is_integer(out->type.dtype))
      out->type.quant = std::move(quant);
  }
  return Status::ok();
}

Status infer_graph(Graph& graph) {
  for (auto& n : graph.nodes()) {
    for (auto& [key, a] : n->attrs) {
      if (a.g) WEEC_TRY(infer_graph(*a.g));
      for (auto& sg : a.graphs) WEEC_TRY(infer_graph(*sg));
    }
    WEEC_TRY(infer_node(*n));
  }
  return Status::ok();
}

int64_t node_macs(const Node& node) {
  const OpSchema& s = op_schema(node.op);
  return s.macs ? s.macs(node) : 0;
}

// ---- AttrSpec helpers and AttrReader ----

AttrSpec attr_int(std::string name, int64_t def) {
  return {std::move(name), Attribute::Kind::Int, Attribute::of_int(def)};
}
AttrSpec attr_float(std::string name, float def) {
  return {std::move(name), Attribute::Kind::Float, Attribute::of_float(def)};
}
AttrSpec attr_string(std::string name, std::string def) {
  return {std::move(name), Attribute::Kind::String, Attribute::of_string(std::move(def))};
}
AttrSpec attr_ints(std::string name, std::vector<int64_t> def) {
  return {std::move(name), Attribute::Kind::Ints, Attribute::of_ints(std::move(def))};
}
AttrSpec attr_floats(std::string name, std::vector<float> def) {
  return {std::move(name), Attribute::Kind::Floats, Attribute::of_floats(std::move(def))};
}
AttrSpec attr_optional(std::string name, Attribute::Kind kind) {
  return {std::move(name), kind, std::nullopt, false};
}
AttrSpec attr_required(std::string name, Attribute::Kind kind) {
  return {std::move(name), kind, std::nullopt, true};
}

const Attribute* AttrReader::find(const std::string& name) const {
  if (const Attribute* a = node_.attr(name)) return a;
  for (auto& sp : schema_.attrs)
    if (sp.name == name && sp.default_value) return &*sp.default_value;
  return nullptr;
}

bool AttrReader::has(const std::string& name) const { return node_.attr(name) != nullptr; }

namespace {
const Attribute& empty_attr() {
  static const Attribute a;
  return a;
}
}  // namespace

int64_t AttrReader::i(const std::string& n) const {
  auto* a = find(n);
  return a ? a->i : 0;
}
float AttrReader::f(const std::string& n) const {
  auto* a = find(n);
  return a ? a->f : 0.f;
}
const std::string& AttrReader::s(const std::string& n) const {
  auto* a = find(n);
  return (a ? *a : empty_attr()).s;
}
const std::vector<int64_t>& AttrReader::ints(const std::string& n) const {
  auto* a = find(n);
  return (a ? *a : empty_attr()).ints;
}
const std::vector<float>& AttrReader::floats(const std::string& n) const {
  auto* a = find(n);
  return (a ? *a : empty_attr()).floats;
}
const std::vector<std::string>& AttrReader::strings(const std::string& n) const {
  auto* a = find(n);
  return (a ? *a : empty_attr()).strings;
}
const Tensor* AttrReader::tensor(const std::string& n) const {
  auto* a = find(n);
  return a ? &a->t : nullptr;
}
const Graph* AttrReader::graph(const std::string& n) const {
  auto* a = find(n);
  return a ? a->g.get() : nullptr;
}

std::string NodeContext::input_desc(size_t i) const {
  const Value* v = node.input(i);
  return v ? fmt::format("input {} (%{})", i, v->name) : fmt::format("input {}", i);
}

InferContext::InferContext(const Node& node, const OpSchema& schema) : NodeContext(node, schema) {
  outputs.resize(node.outputs.size());
}

Node* ImportContext::emit(OpKind op, std::vector<Value*> ins, std::vector<Value*> outs, AttrMap a) {
  return graph.add_node(op, std::move(ins), std::move(outs), std::move(a), node_name);
}
Value* ImportContext::constant(const std::string& hint, Tensor data) {
  return graph.add_constant(graph.unique_name(node_name.empty() ? hint : node_name + "/" + hint),
                            std::move(data));
}
Value* ImportContext::temp(const std::string& hint) {
  return graph.add_value(graph.unique_name(node_name.empty() ? hint : node_name + "/" + hint));
}

}  // namespace weec
