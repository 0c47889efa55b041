#include "frontend/onnx/export.h"

#include <onnx/onnx_pb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "frontend/onnx/export_forms.h"
#include "frontend/onnx/tensor_proto.h"
#include "ops/registry.h"

namespace weec {

namespace {

void write_type(const TensorType& t, onnx::TypeProto& tp) {
  auto* tt = tp.mutable_tensor_type();
  tt->set_elem_type(dtype_to_onnx(t.dtype));
  if (!t.shape.rank_known) return;
  auto* shape = tt->mutable_shape();  // present even for scalars: rank 0 is known
  for (const Dim& d : t.shape.dims) {
    auto* dim = shape->add_dim();
    if (d.is_known())
      dim->set_dim_value(d.value);
    else if (!d.symbol.empty())
      dim->set_dim_param(d.symbol);
  }
}

// Every value a graph (and its subgraphs) owns, for forgetting names of a
// Fused body that is inlined more than once (bodies may be shared).
void collect_values(const Graph& g, std::vector<const Value*>& out) {
  for (auto& v : g.values()) out.push_back(v.get());
  for (auto& n : g.nodes())
    for (auto& [key, a] : n->attrs) {
      if (a.g) collect_values(*a.g, out);
      for (auto& sg : a.graphs) collect_values(*sg, out);
    }
}

// Opsets of the non-default domains the graph uses: the lowest until_opset
// of their ops, so every op of the domain is inside its range if it can be.
void collect_domains(const Graph& g, std::map<std::string, int64_t>& out) {
  for (auto& n : g.nodes()) {
    const OpSchema& s = op_schema(n->op);
    if (!s.domain.empty()) {
      auto [it, fresh] = out.emplace(std::string(s.domain), s.until_opset);
      if (!fresh) it->second = std::min<int64_t>(it->second, s.until_opset);
    }
    for (auto& [key, a] : n->attrs) {
      if (a.g) collect_domains(*a.g, out);
      for (auto& sg : a.graphs) collect_domains(*sg, out);
    }
  }
}

class Exporter : public OnnxGraphSink {
 public:
  explicit Exporter(const ExportOptions& opt) : opt_(opt) {}

  Status export_model(const Graph& g, onnx::ModelProto& m);

  // OnnxGraphSink: additions go to the graph being written.
  std::string add_constant(const std::string& hint, const Tensor& t) override {
    std::string name = claim(hint);
    tensor_to_proto(t, name, *current_->add_initializer());
    return name;
  }
  std::string add_node(const std::string& op_type, const std::vector<std::string>& inputs,
                       const std::string& hint) override {
    std::string out = claim(hint);
    onnx::NodeProto& np = *current_->add_node();
    np.set_op_type(op_type);
    for (auto& in : inputs) np.add_input(in);
    np.add_output(out);
    return out;
  }

 private:
  std::string claim(const std::string& want);
  std::string define(const Value* v);
  Expected<std::string> use(const Value* v, const Node* reader);
  Status export_graph(const Graph& g, onnx::GraphProto& gp, bool is_main);
  Status export_nodes(const Graph& g, onnx::GraphProto& gp);
  Status export_node(const Node& n, onnx::GraphProto& gp);
  Status inline_fused(const Node& n, onnx::GraphProto& gp);
  Status write_attr(const std::string& name, const Attribute& a, onnx::AttributeProto& ap);
  std::string identity(const std::string& from, const std::string& hint, onnx::GraphProto& gp) {
    onnx::GraphProto* saved = current_;
    current_ = &gp;
    std::string out = add_node("Identity", {from}, hint);
    current_ = saved;
    return out;
  }

  const ExportOptions& opt_;
  std::unordered_set<std::string> used_names_;
  std::unordered_map<const Value*, std::string> names_;
  std::unordered_set<const Value*> emitted_;                    // constants already written
  std::unordered_set<const Value*> constant_nodes_;             // constants written as Constant nodes
  std::unordered_map<const Graph*, onnx::GraphProto*> protos_;  // where a graph's constants go
  std::unordered_set<std::string> node_names_;
  std::map<std::string, int64_t> domains_;  // non-default domains used -> opset
  onnx::GraphProto* current_ = nullptr;
  int64_t counter_ = 0;
};

// A model-wide unique name: ONNX forbids a subgraph from redefining a name
// its enclosing graphs define, and initializers share the node-output space.
std::string Exporter::claim(const std::string& want) {
  std::string base = want.empty() ? "v" : want;
  std::string name = base;
  if (want.empty()) name = base + std::to_string(counter_++);
  for (int k = 1; used_names_.count(name); ++k)
    name = want.empty() ? base + std::to_string(counter_++) : fmt::format("{}_{}", base, k);
  used_names_.insert(name);
  return name;
}

std::string Exporter::define(const Value* v) {
  auto it = names_.find(v);
  if (it != names_.end()) return it->second;
  return names_[v] = claim(v->name);
}

// The ONNX name to read `v` by; a constant's initializer is written on first
// use, into the graph that owns it (so unused constants are not exported).
Expected<std::string> Exporter::use(const Value* v, const Node* reader) {
  if (v->is_constant() && !emitted_.count(v)) {
    auto it = protos_.find(v->owner);
    if (it == protos_.end())
      return error("{}: reads constant '{}' of a graph that is not being exported",
                   reader ? reader->describe() : "graph output", v->name);
    tensor_to_proto(*v->constant, define(v), *it->second->add_initializer());
    emitted_.insert(v);
  }
  auto it = names_.find(v);
  if (it == names_.end())
    return error("{}: reads value '{}', which is not defined before it",
                 reader ? reader->describe() : "graph output", v->name);
  return it->second;
}

Status Exporter::write_attr(const std::string& name, const Attribute& a, onnx::AttributeProto& ap) {
  using A = onnx::AttributeProto;
  ap.set_name(name);
  switch (a.kind) {
    case Attribute::Kind::Int:
      ap.set_type(A::INT);
      ap.set_i(a.i);
      break;
    case Attribute::Kind::Float:
      ap.set_type(A::FLOAT);
      ap.set_f(a.f);
      break;
    case Attribute::Kind::String:
      ap.set_type(A::STRING);
      ap.set_s(a.s);
      break;
    case Attribute::Kind::Tensor:
      ap.set_type(A::TENSOR);
      tensor_to_proto(a.t, "", *ap.mutable_t());
      break;
    case Attribute::Kind::Graph:
      ap.set_type(A::GRAPH);
      if (!a.g) return error("attribute '{}' has no graph", name);
      WEEC_TRY(export_graph(*a.g, *ap.mutable_g(), false));
      break;
    case Attribute::Kind::Ints:
      ap.set_type(A::INTS);
      for (int64_t v : a.ints) ap.add_ints(v);
      break;
    case Attribute::Kind::Floats:
      ap.set_type(A::FLOATS);
      for (float v : a.floats) ap.add_floats(v);
      break;
    case Attribute::Kind::Strings:
      ap.set_type(A::STRINGS);
      for (auto& s : a.strings) ap.add_strings(s);
      break;
    case Attribute::Kind::Tensors:
      ap.set_type(A::TENSORS);
      for (auto& t : a.tensors) tensor_to_proto(t, "", *ap.add_tensors());
      break;
    case Attribute::Kind::Graphs:
      ap.set_type(A::GRAPHS);
      for (auto& sg : a.graphs) {
        if (!sg) return error("attribute '{}' has a null graph", name);
        WEEC_TRY(export_graph(*sg, *ap.add_graphs(), false));
      }
      break;
  }
  return Status::ok();
}

Status Exporter::export_graph(const Graph& g, onnx::GraphProto& gp, bool is_main) {
  protos_[&g] = &gp;
  gp.set_name(g.name.empty() ? "main" : g.name);
  for (Value* in : g.inputs) {
    auto* vi = gp.add_input();
    vi->set_name(define(in));
    write_type(in->type, *vi->mutable_type());
  }
  // A constant that is itself an output becomes a Constant node, so it is
  // produced by a node of this graph and (in the main graph) keeps its name.
  for (Value* out : g.outputs) {
    if (!out || !out->is_constant() || out->owner != &g || emitted_.count(out)) continue;
    onnx::NodeProto& np = *gp.add_node();
    np.set_op_type("Constant");
    np.add_output(define(out));
    auto* ap = np.add_attribute();
    ap->set_name("value");
    ap->set_type(onnx::AttributeProto::TENSOR);
    tensor_to_proto(*out->constant, "", *ap->mutable_t());
    emitted_.insert(out);
    constant_nodes_.insert(out);
  }
  WEEC_TRY(export_nodes(g, gp));
  // ONNX names graph outputs by value: a value listed twice, or (in a
  // subgraph) one the subgraph does not produce, goes through an Identity.
  std::unordered_set<const Value*> seen;
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const Value* v = g.outputs[k];
    if (!v) return error("graph '{}': output {} is missing", g.name, k);
    WEEC_ASSIGN_OR_RETURN(std::string name, use(v, nullptr));
    bool produced_here = v->owner == &g && (v->producer || constant_nodes_.count(v));
    if (!seen.insert(v).second || (!is_main && !produced_here)) name = identity(name, v->name, gp);
    auto* vi = gp.add_output();
    vi->set_name(name);
    write_type(v->type, *vi->mutable_type());
  }
  return Status::ok();
}

Status Exporter::export_nodes(const Graph& g, onnx::GraphProto& gp) {
  for (auto& n : g.nodes()) WEEC_TRY(export_node(*n, gp));
  return Status::ok();
}

// The body's formal inputs read the node's inputs; each body output that a
// body node produces takes the name of the node's output, others (inputs,
// constants, repeats) reach it through an Identity.
Status Exporter::inline_fused(const Node& n, onnx::GraphProto& gp) {
  const Attribute* body_attr = n.attr("body");
  if (!body_attr || !body_attr->g) return error("{}: has no body graph to inline", n.describe());
  const Graph& body = *body_attr->g;
  if (body.inputs.size() != n.inputs.size() || body.outputs.size() != n.outputs.size())
    return error("{}: body has {} inputs and {} outputs, the node {} and {}", n.describe(),
                 body.inputs.size(), body.outputs.size(), n.inputs.size(), n.outputs.size());
  std::vector<const Value*> body_values;
  collect_values(body, body_values);
  for (const Value* v : body_values) {
    names_.erase(v);
    emitted_.erase(v);
  }
  for (size_t i = 0; i < body.inputs.size(); ++i) {
    if (!n.inputs[i]) return error("{}: input {} is omitted but its body reads it", n.describe(), i);
    WEEC_ASSIGN_OR_RETURN(names_[body.inputs[i]], use(n.inputs[i], &n));
  }
  std::vector<bool> direct(body.outputs.size(), false);
  std::unordered_set<const Value*> aliased;
  for (size_t k = 0; k < body.outputs.size(); ++k) {
    const Value* bv = body.outputs[k];
    if (!n.outputs[k] || !bv || !bv->producer || bv->owner != &body || !aliased.insert(bv).second) continue;
    names_[bv] = define(n.outputs[k]);
    direct[k] = true;
  }
  protos_[&body] = &gp;
  WEEC_TRY(export_nodes(body, gp));
  for (size_t k = 0; k < body.outputs.size(); ++k) {
    if (direct[k] || !n.outputs[k]) continue;
    if (!body.outputs[k]) return error("{}: body output {} is missing", n.describe(), k);
    WEEC_ASSIGN_OR_RETURN(std::string from, use(body.outputs[k], &n));
    onnx::NodeProto& np = *gp.add_node();
    np.set_op_type("Identity");
    np.add_input(from);
    np.add_output(define(n.outputs[k]));
  }
  return Status::ok();
}

Status Exporter::export_node(const Node& n, onnx::GraphProto& gp) {
  if (n.op == OpKind::Fused) return inline_fused(n, gp);
  const OpSchema& s = op_schema(n.op);
  if (s.onnx_type.empty())
    return error("{}: '{}' is a weec-internal op with no ONNX equivalent; it cannot be exported",
                 n.describe(), op_name(n.op));
  int64_t opset = s.domain.empty() ? kExportOpset : domains_.at(std::string(s.domain));
  if (opset < s.since_opset || opset > s.until_opset)
    return error("{}: ONNX opset {} has no {} (weec reads it from opsets {}..{} only)", n.describe(), opset,
                 s.onnx_type, s.since_opset, s.until_opset);

  OnnxNodeDraft d;
  d.op_type = std::string(s.onnx_type);
  d.domain = std::string(s.domain);
  d.attrs = n.attrs;
  for (const Value* in : n.inputs) {
    d.input_values.push_back(in);
    if (!in) {
      d.inputs.emplace_back();
      continue;
    }
    // A constant's initializer is written only if the rewrite keeps it.
    if (in->is_constant()) {
      d.inputs.push_back(define(in));
      continue;
    }
    WEEC_ASSIGN_OR_RETURN(std::string name, use(in, &n));
    d.inputs.push_back(name);
  }
  current_ = &gp;
  WEEC_TRY(to_onnx_form(n, opset, d, *this));
  for (size_t i = 0; i < d.inputs.size(); ++i)
    if (d.input_values[i] && d.input_values[i]->is_constant()) WEEC_TRY(use(d.input_values[i], &n).status());
  while (!d.inputs.empty() && d.inputs.back().empty()) d.inputs.pop_back();

  onnx::NodeProto& np = *gp.add_node();
  np.set_op_type(d.op_type);
  if (!d.domain.empty()) np.set_domain(d.domain);
  if (!n.name.empty()) {
    std::string name = n.name;
    for (int k = 1; !node_names_.insert(name).second; ++k) name = fmt::format("{}_{}", n.name, k);
    np.set_name(name);
  }
  for (auto& in : d.inputs) np.add_input(in);
  std::vector<std::string> outs;
  for (const Value* out : n.outputs) outs.push_back(out ? define(out) : std::string());
  while (!outs.empty() && outs.back().empty()) outs.pop_back();
  for (auto& o : outs) np.add_output(o);
  for (auto& [key, a] : d.attrs) {
    Status st = write_attr(key, a, *np.add_attribute());
    if (!st) return st.message().rfind("node ", 0) == 0 ? st : st.with_context(n.describe());
  }
  return Status::ok();
}

Status Exporter::export_model(const Graph& g, onnx::ModelProto& m) {
  // Main-graph names first, so the model's interface keeps its names even
  // when a subgraph or an inlined body uses the same ones.
  for (Value* v : g.inputs) define(v);
  for (Value* v : g.outputs)
    if (v) define(v);
  for (auto& v : g.values()) define(v.get());
  collect_domains(g, domains_);
  WEEC_TRY(export_graph(g, *m.mutable_graph(), true));
  m.set_ir_version(kExportIrVersion);
  m.set_producer_name(opt_.producer_name);
  m.set_producer_version(opt_.producer_version);
  if (!opt_.doc_string.empty()) m.set_doc_string(opt_.doc_string);
  auto* oi = m.add_opset_import();
  oi->set_domain("");
  oi->set_version(kExportOpset);
  for (auto& [domain, version] : domains_) {
    auto* o = m.add_opset_import();
    o->set_domain(domain);
    o->set_version(version);
  }
  return Status::ok();
}

}  // namespace

Expected<onnx::ModelProto> export_onnx(const Graph& g, const ExportOptions& opt) {
  onnx::ModelProto m;
  Exporter ex(opt);
  WEEC_TRY(ex.export_model(g, m));
  return m;
}

Status write_onnx(const Graph& g, const std::string& path, const ExportOptions& opt, ExportSummary* summary) {
  WEEC_ASSIGN_OR_RETURN(onnx::ModelProto m, export_onnx(g, opt));
  size_t size = m.ByteSizeLong();
  if (size > (size_t)INT32_MAX)
    return error("'{}': the model is {} bytes, over protobuf's 2 GB limit (external data is not written)",
                 path, size);
  std::string bytes;
  if (!m.SerializeToString(&bytes)) return error("'{}': cannot serialise the model", path);
  // Write next to the target and rename: readers never see a partial file.
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return error("cannot write '{}': {}", path, std::strerror(errno));
  fchmod(fd, 0644);  // mkstemp makes the file private; a model is an ordinary file
  auto fail = [&](const std::string& what) {
    int e = errno;
    close(fd);
    std::remove(tmpl.c_str());
    return error("cannot write '{}': {}: {}", path, what, std::strerror(e));
  };
  for (size_t done = 0; done < bytes.size();) {
    ssize_t k = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (k < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    done += (size_t)k;
  }
  if (fsync(fd) != 0) return fail("fsync");
  if (close(fd) != 0) {
    std::remove(tmpl.c_str());
    return error("cannot write '{}': close: {}", path, std::strerror(errno));
  }
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmpl.c_str());
    return error("cannot write '{}': rename: {}", path, std::strerror(e));
  }
  if (summary) {
    summary->nodes = m.graph().node_size();
    summary->initializers = m.graph().initializer_size();
    summary->bytes = (int64_t)bytes.size();
  }
  return Status::ok();
}

}  // namespace weec
