#include "frontend/onnx/importer.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "frontend/onnx/precheck.h"
#include "frontend/onnx/proto_scan.h"
#include "frontend/onnx/tensor_proto.h"
#include "ops/registry.h"

namespace weec {

namespace {

// Name -> Value for one graph; subgraphs look names up in enclosing scopes.
struct Scope {
  std::unordered_map<std::string, Value*> names;
  const Scope* parent = nullptr;
  Value* find(const std::string& n) const {
    for (const Scope* s = this; s; s = s->parent) {
      auto it = s->names.find(n);
      if (it != s->names.end()) return it->second;
    }
    return nullptr;
  }
};

class Importer {
 public:
  Importer(const onnx::ModelProto& model, std::string base_dir)
      : model_(model), base_dir_(std::move(base_dir)) {
    for (auto& oi : model.opset_import()) opsets_[oi.domain() == "ai.onnx" ? "" : oi.domain()] = oi.version();
    for (auto& f : model.functions()) functions_[f.domain() + "::" + f.name()] = &f;
  }

  Status import_graph(const onnx::GraphProto& gp, Graph& g, const Scope* parent);
  int64_t opset(const std::string& domain) const {
    auto it = opsets_.find(domain == "ai.onnx" ? "" : domain);
    return it == opsets_.end() ? 0 : it->second;
  }

 private:
  Status import_node(const onnx::NodeProto& np, Graph& g, Scope& scope, const std::string& prefix,
                     const std::map<std::string, int64_t>& opsets);
  // `schema` (for ONNX-defined function ops) supplies attribute defaults.
  Status inline_function(const onnx::NodeProto& call, const onnx::FunctionProto& fn, Graph& g, Scope& scope,
                         const std::string& prefix, const onnx::OpSchema* schema = nullptr);
  Expected<Attribute> convert_attr(const onnx::AttributeProto& ap, Graph& g, const Scope& scope);
  Expected<TensorType> convert_type(const onnx::TypeProto& tp, const std::string& what);

  const onnx::ModelProto& model_;
  std::string base_dir_;
  std::map<std::string, int64_t> opsets_;
  std::map<std::string, const onnx::FunctionProto*> functions_;
  int inline_depth_ = 0;
  // Dtypes for untyped inputs of the next subgraph imported (Loop/Scan bodies
  // may leave their inputs untyped; the enclosing node's inputs decide them).
  std::vector<std::optional<DType>> subgraph_input_dtypes_;
};

// Loop body inputs: (iteration i64, cond bool, carried = node inputs 2..);
// Scan body inputs: node inputs in order (states, then scan elements).
std::vector<std::optional<DType>> body_input_dtypes(const std::string& op, const std::vector<Value*>& ins) {
  std::vector<std::optional<DType>> out;
  auto dt = [&](size_t i) -> std::optional<DType> {
    return i < ins.size() && ins[i] ? std::optional<DType>(ins[i]->type.dtype) : std::nullopt;
  };
  if (op == "Loop") {
    out = {DType::I64, DType::Bool};
    for (size_t i = 2; i < ins.size(); ++i) out.push_back(dt(i));
  } else if (op == "Scan") {
    for (size_t i = 0; i < ins.size(); ++i) out.push_back(dt(i));
  }
  return out;
}

Expected<TensorType> Importer::convert_type(const onnx::TypeProto& tp, const std::string& what) {
  if (!tp.has_tensor_type()) {
    const char* kind = tp.has_sequence_type()        ? "sequence"
                       : tp.has_optional_type()      ? "optional"
                       : tp.has_map_type()           ? "map"
                       : tp.has_sparse_tensor_type() ? "sparse tensor"
                                                     : "non-tensor";
    return error("{} has {} type, which weec does not support (only tensors)", what, kind);
  }
  const auto& tt = tp.tensor_type();
  auto dt = dtype_from_onnx(tt.elem_type());
  if (!dt)
    return error("{} has dtype {}, which weec does not support", what, onnx_dtype_name(tt.elem_type()));
  TensorType t;
  t.dtype = *dt;
  if (tt.has_shape()) {
    t.shape.rank_known = true;
    for (auto& d : tt.shape().dim()) {
      if (d.has_dim_value() && d.dim_value() < 0)
        return error("{} has a negative dim {}", what, d.dim_value());
      if (d.has_dim_value())
        t.shape.dims.push_back(Dim::known(d.dim_value()));
      else if (d.has_dim_param() && !d.dim_param().empty())
        t.shape.dims.push_back(Dim::named(d.dim_param()));
      else
        t.shape.dims.push_back(Dim::unknown());
    }
  }
  return t;
}

Expected<Attribute> Importer::convert_attr(const onnx::AttributeProto& ap, Graph& g, const Scope& scope) {
  using A = onnx::AttributeProto;
  auto sub = [&](const onnx::GraphProto& gp) -> Expected<std::shared_ptr<Graph>> {
    auto sg = std::make_shared<Graph>();
    sg->parent = &g;
    WEEC_TRY(import_graph(gp, *sg, &scope));
    return sg;
  };
  switch (ap.type()) {
    case A::INT:
      return Attribute::of_int(ap.i());
    case A::FLOAT:
      return Attribute::of_float(ap.f());
    case A::STRING:
      return Attribute::of_string(ap.s());
    case A::INTS:
      return Attribute::of_ints({ap.ints().begin(), ap.ints().end()});
    case A::FLOATS:
      return Attribute::of_floats({ap.floats().begin(), ap.floats().end()});
    case A::STRINGS:
      return Attribute::of_strings({ap.strings().begin(), ap.strings().end()});
    case A::TENSOR: {
      WEEC_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(ap.t(), base_dir_));
      return Attribute::of_tensor(std::move(t));
    }
    case A::TENSORS: {
      Attribute a;
      a.kind = Attribute::Kind::Tensors;
      for (auto& tp : ap.tensors()) {
        WEEC_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(tp, base_dir_));
        a.tensors.push_back(std::move(t));
      }
      return a;
    }
    case A::GRAPH: {
      WEEC_ASSIGN_OR_RETURN(auto sg, sub(ap.g()));
      return Attribute::of_graph(std::move(sg));
    }
    case A::GRAPHS: {
      Attribute a;
      a.kind = Attribute::Kind::Graphs;
      for (auto& gp : ap.graphs()) {
        WEEC_ASSIGN_OR_RETURN(auto sg, sub(gp));
        a.graphs.push_back(std::move(sg));
      }
      return a;
    }
    default:
      return error("attribute '{}' has type {}, which weec does not support", ap.name(),
                   A::AttributeType_Name(ap.type()));
  }
}

// A Constant node becomes a constant value; no node remains.
Expected<Tensor> constant_node_value(const onnx::NodeProto& np, const std::string& base_dir) {
  for (auto& a : np.attribute()) {
    const std::string& k = a.name();
    if (k == "value") return tensor_from_proto(a.t(), base_dir);
    if (k == "value_float") return Tensor::scalar<float>(a.f());
    if (k == "value_int") return Tensor::scalar<int64_t>(a.i());
    if (k == "value_floats")
      return Tensor::from_vector<float>({(int64_t)a.floats_size()}, {a.floats().begin(), a.floats().end()});
    if (k == "value_ints")
      return Tensor::from_vector<int64_t>({(int64_t)a.ints_size()}, {a.ints().begin(), a.ints().end()});
    if (k == "value_string") {
      Tensor t(DType::String, {});
      t.strings()[0] = a.s();
      return t;
    }
    if (k == "value_strings") {
      Tensor t(DType::String, {(int64_t)a.strings_size()});
      for (int i = 0; i < a.strings_size(); ++i) t.strings()[i] = a.strings(i);
      return t;
    }
    if (k == "sparse_value") return error("sparse Constant values are not supported");
  }
  return error("Constant node has no value attribute");
}

Status Importer::import_graph(const onnx::GraphProto& gp, Graph& g, const Scope* parent) {
  Scope scope;
  scope.parent = parent;
  g.name = gp.name().empty() ? "main" : gp.name();
  for (auto& init : gp.initializer()) {
    auto t = tensor_from_proto(init, base_dir_);
    if (!t) return t.status().with_context(fmt::format("initializer '{}'", init.name()));
    if (scope.names.count(init.name())) return error("initializer '{}' is defined twice", init.name());
    scope.names[init.name()] = g.add_constant(init.name(), std::move(*t));
  }
  if (gp.sparse_initializer_size() > 0) return error("sparse initializers are not supported");
  std::vector<std::optional<DType>> hints = std::move(subgraph_input_dtypes_);
  subgraph_input_dtypes_.clear();
  for (int k = 0; k < gp.input_size(); ++k) {
    const auto& in = gp.input(k);
    if (auto it = scope.names.find(in.name()); it != scope.names.end()) {
      if (it->second->is_constant()) continue;  // IR < 4: initializers are listed as inputs too
      return error("graph input '{}' is declared twice", in.name());
    }
    if (parent && !in.type().has_tensor_type() && !in.type().has_sequence_type() &&
        !in.type().has_optional_type() && k < (int)hints.size() && hints[k]) {
      scope.names[in.name()] = g.add_input(in.name(), TensorType{*hints[k], Shape::unknown_rank()});
      continue;
    }
    std::string what = fmt::format("graph input '{}'", in.name());
    WEEC_ASSIGN_OR_RETURN(TensorType t, convert_type(in.type(), what));
    // Known dims alone may already be absurd: [N, 10^12] can never be run.
    Dims known;
    for (const Dim& d : t.shape.dims)
      if (d.is_known()) known.push_back(d.value);
    WEEC_TRY(check_tensor_size(t.dtype, known).with_context(what));
    scope.names[in.name()] = g.add_input(in.name(), t);
  }
  for (auto& np : gp.node()) {
    std::string where = fmt::format("node '{}' ({}, opset {})", np.name(), np.op_type(), opset(np.domain()));
    Status st = import_node(np, g, scope, "", opsets_);
    if (!st) return st.message().rfind("node '", 0) == 0 ? st : st.with_context(where);
  }
  for (auto& out : gp.output()) {
    Value* v = scope.find(out.name());
    if (!v) return error("graph output '{}' is not produced by any node", out.name());
    if (!out.type().has_tensor_type() && out.has_type())
      WEEC_TRY(convert_type(out.type(), fmt::format("graph output '{}'", out.name())).status());
    g.outputs.push_back(v);
  }
  return Status::ok();
}

Status Importer::import_node(const onnx::NodeProto& np, Graph& g, Scope& scope, const std::string& prefix,
                             const std::map<std::string, int64_t>& opsets) {
  std::string domain = np.domain() == "ai.onnx" ? "" : np.domain();
  auto oit = opsets.find(domain);
  int64_t op_version = oit == opsets.end() ? 0 : oit->second;
  std::string node_name = prefix + np.name();
  auto fail = [&](const std::string& msg) {
    return error("node '{}' ({}{}, opset {}): {}", node_name, domain.empty() ? "" : domain + ".",
                 np.op_type(), op_version, msg);
  };
  auto fresh = [&](const std::string& onnx_name) {
    return prefix.empty() ? onnx_name : g.unique_name(prefix + onnx_name);
  };

  if (domain.empty() && np.op_type() == "Constant") {
    auto t = constant_node_value(np, base_dir_);
    if (!t) return fail(t.status().message());
    if (np.output_size() != 1) return fail("Constant must have one output");
    if (scope.names.count(np.output(0)))
      return fail(
          fmt::format("output '{}' is already defined (every value must be assigned once)", np.output(0)));
    scope.names[np.output(0)] = g.add_constant(fresh(np.output(0)), std::move(*t));
    return Status::ok();
  }

  std::vector<Value*> ins;
  for (auto& name : np.input()) {
    if (name.empty()) {
      ins.push_back(nullptr);
      continue;
    }
    Value* v = scope.find(name);
    if (!v) return fail(fmt::format("input '{}' is not defined before this node", name));
    ins.push_back(v);
  }
  while (!ins.empty() && !ins.back()) ins.pop_back();  // trailing omitted inputs

  // A model-local function: inline its body.
  auto fit = functions_.find(np.domain() + "::" + np.op_type());
  if (fit != functions_.end()) return inline_function(np, *fit->second, g, scope, prefix);

  const OpSchema* schema = find_onnx_schema(domain, np.op_type());
  if (!schema) {
    // ONNX defines some ops as functions of others; expand those via libonnx.
    const onnx::OpSchema* os = onnx::OpSchemaRegistry::Schema(np.op_type(), (int)op_version,
                                                              domain.empty() ? onnx::ONNX_DOMAIN : domain);
    onnx::FunctionProto body;
    bool have_body = false;
    if (os && os->HasFunction() && os->GetFunction()) {
      body = *os->GetFunction();
      have_body = true;
    } else if (os && os->HasContextDependentFunction()) {
      std::vector<onnx::TypeProto> types;
      for (Value* v : ins) {
        onnx::TypeProto tp;
        if (v) {
          tp.mutable_tensor_type()->set_elem_type(dtype_to_onnx(v->type.dtype));
          if (v->type.shape.rank_known) {
            auto* shp = tp.mutable_tensor_type()->mutable_shape();
            for (auto& d : v->type.shape.dims) {
              auto* dim = shp->add_dim();
              if (d.is_known()) dim->set_dim_value(d.value);
            }
          }
        }
        types.push_back(tp);
      }
      onnx::FunctionBodyBuildContextImpl ctx(np, types);
      have_body = os->BuildContextDependentFunction(ctx, body);
    }
    if (have_body) {
      if (body.name().empty()) body.set_name(np.op_type());
      return inline_function(np, body, g, scope, prefix, os);
    }
    return fail("unsupported op");
  }
  if (op_version < schema->since_opset || op_version > schema->until_opset)
    return fail(
        fmt::format("weec supports this op for opsets {}..{}", schema->since_opset, schema->until_opset));

  AttrMap attrs;
  for (auto& ap : np.attribute()) {
    if (ap.name() == "consumed_inputs") continue;  // legacy memory hint, no semantics
    if (!ap.ref_attr_name().empty())
      return fail(fmt::format("attribute '{}' refers to an outer attribute", ap.name()));
    if (ap.name() == "body") subgraph_input_dtypes_ = body_input_dtypes(np.op_type(), ins);
    auto a = convert_attr(ap, g, scope);
    if (!a) return a.status().message().rfind("node '", 0) == 0 ? a.status() : fail(a.status().message());
    attrs[ap.name()] = std::move(*a);
  }
  std::vector<Value*> outs;
  for (auto& name : np.output()) {
    if (name.empty()) {
      outs.push_back(nullptr);
      continue;
    }
    if (scope.names.count(name))
      return fail(fmt::format("output '{}' is already defined (every value must be assigned once)", name));
    Value* v = g.add_value(fresh(name));
    scope.names[name] = v;
    outs.push_back(v);
  }
  while (!outs.empty() && !outs.back()) outs.pop_back();

  ImportContext ctx(g, (int)op_version, node_name, ins, outs, attrs);
  size_t first_new = g.nodes().size();
  if (schema->import) {
    Status st = schema->import(ctx);
    if (!st) return fail(st.message());
  } else {
    ctx.emit(schema->kind, ins, outs, attrs);
  }
  // Infer as we go, so import hooks of later nodes see their inputs' types
  // (legacy broadcasting and opset<13 Softmax depend on ranks).
  for (size_t i = first_new; i < g.nodes().size(); ++i) {
    Status st = validate_node(*g.nodes()[i]);
    if (st.is_ok()) st = infer_node(*g.nodes()[i]);
    if (!st) {
      // fail() names the node with its opset; drop the shorter prefix.
      std::string msg = st.message(), prefix = g.nodes()[i]->describe() + ": ";
      return fail(msg.rfind(prefix, 0) == 0 ? msg.substr(prefix.size()) : msg);
    }
  }
  return Status::ok();
}

Status Importer::inline_function(const onnx::NodeProto& call, const onnx::FunctionProto& fn, Graph& g,
                                 Scope& scope, const std::string& prefix, const onnx::OpSchema* schema) {
  if (++inline_depth_ > 32) return error("function '{}' nests too deeply (recursive?)", fn.name());
  // Formal inputs/outputs map to the call's actual values; everything else is
  // renamed under the call's name so inlined values never collide.
  Scope inner;
  for (int i = 0; i < fn.input_size(); ++i) {
    Value* v = i < call.input_size() && !call.input(i).empty() ? scope.find(call.input(i)) : nullptr;
    if (v) inner.names[fn.input(i)] = v;
  }
  std::map<std::string, const onnx::AttributeProto*> call_attrs;
  if (schema)
    for (auto& [name, spec] : schema->attributes())
      if (spec.default_value.type() != onnx::AttributeProto::UNDEFINED)
        call_attrs[name] = &spec.default_value;
  for (auto& a : call.attribute()) call_attrs[a.name()] = &a;
  std::map<std::string, int64_t> fn_opsets = opsets_;
  for (auto& oi : fn.opset_import()) fn_opsets[oi.domain() == "ai.onnx" ? "" : oi.domain()] = oi.version();
  std::string inner_prefix = prefix + (call.name().empty() ? call.op_type() : call.name()) + "/";

  for (const auto& fnode : fn.node()) {
    onnx::NodeProto n = fnode;
    // Substitute attribute references (ref_attr_name) with the call's values.
    auto* attrs = n.mutable_attribute();
    for (int i = attrs->size() - 1; i >= 0; --i) {
      auto* a = attrs->Mutable(i);
      if (a->ref_attr_name().empty()) continue;
      auto it = call_attrs.find(a->ref_attr_name());
      if (it == call_attrs.end()) {
        attrs->DeleteSubrange(i, 1);  // not given: the op's default applies
      } else {
        std::string name = a->name();
        *a = *it->second;
        a->set_name(name);
      }
    }
    Status st = import_node(n, g, inner, inner_prefix, fn_opsets);
    if (!st) {
      --inline_depth_;
      return st.with_context(fmt::format("in function '{}' called by node '{}'", fn.name(), call.name()));
    }
  }
  for (int i = 0; i < fn.output_size() && i < call.output_size(); ++i) {
    if (call.output(i).empty()) continue;
    Value* v = inner.find(fn.output(i));
    if (!v) return error("function '{}' does not produce its output '{}'", fn.name(), fn.output(i));
    scope.names[call.output(i)] = v;
  }
  --inline_depth_;
  return Status::ok();
}

// Every node was validated and inferred as it was imported, so the graph is
// complete once the last node is in.
Expected<ImportedModel> import_parsed(const onnx::ModelProto& model, const std::string& base_dir) {
  Importer imp(model, base_dir);
  auto g = std::make_unique<Graph>();
  WEEC_TRY(imp.import_graph(model.graph(), *g, nullptr));
  ImportedModel m;
  m.graph = std::move(g);
  m.ir_version = model.ir_version();
  m.opset = imp.opset("");
  m.producer = model.producer_name();
  return m;
}

Status parse_model(std::string_view bytes, onnx::ModelProto& model) {
  if (bytes.size() > (size_t)INT32_MAX)
    return error("not a valid ONNX model: {} bytes is more than protobuf can parse (2 GiB)", bytes.size());
  if (!model.ParseFromArray(bytes.data(), (int)bytes.size()))
    return error("not a valid ONNX model: {}", diagnose_unparsable_model(bytes));
  if (!model.has_graph()) return error("not a valid ONNX model: it has no graph");
  return Status::ok();
}

// libonnx's checker reports problems by throwing; turn that into a Status.
template <typename F>
Status run_checker(F&& check) {
  try {
    check();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return error("the ONNX checker rejected the model: {}", msg);
  }
  return Status::ok();
}

}  // namespace

Expected<ImportedModel> import_onnx_bytes(std::string_view bytes, const std::string& base_dir,
                                          const ImportOptions& options) {
  onnx::ModelProto model;
  WEEC_TRY(parse_model(bytes, model));
  WEEC_TRY(precheck_tensors(model, base_dir));
  if (options.run_checker) WEEC_TRY(run_checker([&] { onnx::checker::check_model(model); }));
  return import_parsed(model, base_dir);
}

Expected<ImportedModel> import_onnx_file(const std::string& path, const ImportOptions& options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return error("cannot open '{}'", path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string bytes = ss.str();
  onnx::ModelProto model;
  WEEC_TRY(parse_model(bytes, model).with_context(path));
  std::string base_dir = std::filesystem::path(path).parent_path().string();
  WEEC_TRY(precheck_tensors(model, base_dir).with_context(path));
  // The checker resolves external data relative to the model only when it is
  // given the path (it reads the file itself; the public API has no other way).
  if (options.run_checker)
    WEEC_TRY(run_checker([&] { onnx::checker::check_model(path); }).with_context(path));
  auto m = import_parsed(model, base_dir);
  if (!m) return m.status().with_context(path);
  return m;
}

}  // namespace weec
