#include "ir/graph.h"

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace weec {

Attribute Attribute::of_int(int64_t v) {
  Attribute a;
  a.kind = Kind::Int;
  a.i = v;
  return a;
}
Attribute Attribute::of_float(float v) {
  Attribute a;
  a.kind = Kind::Float;
  a.f = v;
  return a;
}
Attribute Attribute::of_string(std::string v) {
  Attribute a;
  a.kind = Kind::String;
  a.s = std::move(v);
  return a;
}
Attribute Attribute::of_tensor(Tensor v) {
  Attribute a;
  a.kind = Kind::Tensor;
  a.t = std::move(v);
  return a;
}
Attribute Attribute::of_graph(std::shared_ptr<Graph> v) {
  Attribute a;
  a.kind = Kind::Graph;
  a.g = std::move(v);
  return a;
}
Attribute Attribute::of_ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Kind::Ints;
  a.ints = std::move(v);
  return a;
}
Attribute Attribute::of_floats(std::vector<float> v) {
  Attribute a;
  a.kind = Kind::Floats;
  a.floats = std::move(v);
  return a;
}
Attribute Attribute::of_strings(std::vector<std::string> v) {
  Attribute a;
  a.kind = Kind::Strings;
  a.strings = std::move(v);
  return a;
}

std::string_view attr_kind_name(Attribute::Kind k) {
  switch (k) {
    case Attribute::Kind::Int:
      return "int";
    case Attribute::Kind::Float:
      return "float";
    case Attribute::Kind::String:
      return "string";
    case Attribute::Kind::Tensor:
      return "tensor";
    case Attribute::Kind::Graph:
      return "graph";
    case Attribute::Kind::Ints:
      return "ints";
    case Attribute::Kind::Floats:
      return "floats";
    case Attribute::Kind::Strings:
      return "strings";
    case Attribute::Kind::Tensors:
      return "tensors";
    case Attribute::Kind::Graphs:
      return "graphs";
  }
  return "?";
}

std::string Node::describe() const {
  if (!name.empty()) return fmt::format("node '{}' ({})", name, op_name(op));
  if (owner) return fmt::format("node #{} ({})", owner->index_of(this), op_name(op));
  return fmt::format("node ({})", op_name(op));
}

std::vector<Value*> Graph::constants() const {
  std::vector<Value*> out;
  for (auto& v : values_)
    if (v->is_constant()) out.push_back(v.get());
  return out;
}

Value* Graph::add_value(std::string name, TensorType type) {
  auto v = std::make_unique<Value>();
  v->name = std::move(name);
  v->type = std::move(type);
  v->owner = this;
  values_.push_back(std::move(v));
  return values_.back().get();
}

Value* Graph::add_constant(std::string name, Tensor data) {
  TensorType type{data.dtype(), Shape::of(data.dims())};
  Value* v = add_value(std::move(name), type);
  v->constant = std::make_shared<const Tensor>(std::move(data));
  return v;
}

Value* Graph::add_input(std::string name, TensorType type) {
  Value* v = add_value(std::move(name), std::move(type));
  inputs.push_back(v);
  return v;
}

Node* Graph::add_node(OpKind op, std::vector<Value*> ins, std::vector<Value*> outs, AttrMap attrs,
                      std::string name) {
  auto n = std::make_unique<Node>();
  n->op = op;
  n->inputs = std::move(ins);
  n->outputs = std::move(outs);
  n->attrs = std::move(attrs);
  n->name = std::move(name);
  n->owner = this;
  for (size_t i = 0; i < n->outputs.size(); ++i) {
    if (!n->outputs[i]) continue;
    n->outputs[i]->producer = n.get();
    n->outputs[i]->output_index = (int)i;
  }
  nodes_.push_back(std::move(n));
  return nodes_.back().get();
}

void Graph::remove_node(Node* node) {
  for (Value* out : node->outputs)
    if (out && out->producer == node) out->producer = nullptr;
  nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(),
                              [&](const std::unique_ptr<Node>& n) { return n.get() == node; }),
               nodes_.end());
}

// Uses inside subgraphs (outer-scope references) are replaced too.
static void replace_uses_in(Graph& g, Value* from, Value* to) {
  for (auto& n : g.nodes()) {
    for (auto& in : n->inputs)
      if (in == from) in = to;
    for (auto& [key, a] : n->attrs) {
      if (a.g) replace_uses_in(*a.g, from, to);
      for (auto& sg : a.graphs) replace_uses_in(*sg, from, to);
    }
  }
  for (auto& o : g.outputs)
    if (o == from) o = to;
}

void Graph::replace_all_uses(Value* from, Value* to) { replace_uses_in(*this, from, to); }

static void collect_reads(const Node& n, std::vector<const Value*>& out) {
  for (Value* in : n.inputs)
    if (in) out.push_back(in);
  for (auto& [key, a] : n.attrs) {
    std::vector<const Graph*> subs;
    if (a.g) subs.push_back(a.g.get());
    for (auto& sg : a.graphs) subs.push_back(sg.get());
    for (const Graph* sg : subs)
      for (auto& sn : sg->nodes()) collect_reads(*sn, out);
  }
}

std::vector<const Value*> values_read_by(const Node& node) {
  std::vector<const Value*> out;
  collect_reads(node, out);
  return out;
}

Status Graph::topological_sort() {
  std::unordered_map<const Value*, Node*> producer_in_graph;
  for (auto& n : nodes_)
    for (Value* o : n->outputs)
      if (o) producer_in_graph[o] = n.get();
  std::unordered_map<Node*, int> state;  // 0 new, 1 visiting, 2 done
  std::vector<std::unique_ptr<Node>> sorted;
  std::unordered_map<Node*, std::unique_ptr<Node>*> owner;
  for (auto& n : nodes_) owner[n.get()] = &n;
  Status st;
  std::function<bool(Node*)> visit = [&](Node* n) -> bool {
    if (state[n] == 2) return true;
    if (state[n] == 1) {
      st = error("graph '{}' has a cycle through {}", name, n->describe());
      return false;
    }
    state[n] = 1;
    for (const Value* v : values_read_by(*n)) {
      auto it = producer_in_graph.find(v);
      if (it != producer_in_graph.end() && !visit(it->second)) return false;
    }
    state[n] = 2;
    sorted.push_back(std::move(*owner[n]));
    return true;
  };
  std::vector<Node*> order;
  for (auto& n : nodes_) order.push_back(n.get());
  for (Node* n : order)
    if (!visit(n)) {
      // Restore whatever was moved out so the graph stays intact.
      for (auto& up : sorted) *owner[up.get()] = std::move(up);
      return st;
    }
  nodes_ = std::move(sorted);
  return Status::ok();
}

void Graph::remove_unused_values() {
  std::unordered_set<const Value*> keep(inputs.begin(), inputs.end());
  keep.insert(outputs.begin(), outputs.end());
  for (auto& n : nodes_) {
    std::vector<const Value*> reads = values_read_by(*n);
    keep.insert(reads.begin(), reads.end());
    keep.insert(n->outputs.begin(), n->outputs.end());
  }
  // Values of this graph may be read by nested subgraphs; those reads were collected above.
  values_.erase(std::remove_if(values_.begin(), values_.end(),
                               [&](const std::unique_ptr<Value>& v) { return !keep.count(v.get()); }),
                values_.end());
}

Value* Graph::find_value(const std::string& n) const {
  for (auto& v : values_)
    if (v->name == n) return v.get();
  return nullptr;
}

std::string Graph::unique_name(const std::string& prefix) const {
  std::unordered_set<std::string> used;
  for (auto& v : values_) used.insert(v->name);
  if (!used.count(prefix)) return prefix;
  for (int i = 1;; ++i) {
    std::string candidate = fmt::format("{}_{}", prefix, i);
    if (!used.count(candidate)) return candidate;
  }
}

std::vector<std::pair<Node*, int>> Graph::users(const Value* v) const {
  std::vector<std::pair<Node*, int>> out;
  for (auto& n : nodes_)
    for (size_t i = 0; i < n->inputs.size(); ++i)
      if (n->inputs[i] == v) out.push_back({n.get(), (int)i});
  return out;
}

size_t Graph::index_of(const Node* node) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].get() == node) return i;
  return nodes_.size();
}

static std::unique_ptr<Graph> clone_into(const Graph& src, Graph* parent,
                                         std::unordered_map<const Value*, Value*> map) {
  auto g = std::make_unique<Graph>();
  g->name = src.name;
  g->parent = parent;
  for (auto& v : src.values()) {
    Value* nv = g->add_value(v->name, v->type);
    nv->constant = v->constant;  // constant data is immutable: share it
    map[v.get()] = nv;
  }
  auto lookup = [&](Value* v) -> Value* {
    if (!v) return nullptr;
    auto it = map.find(v);
    return it == map.end() ? v : it->second;
  };
  for (Value* v : src.inputs) g->inputs.push_back(lookup(v));
  for (Value* v : src.outputs) g->outputs.push_back(lookup(v));
  for (auto& n : src.nodes()) {
    std::vector<Value*> ins, outs;
    for (Value* v : n->inputs) ins.push_back(lookup(v));
    for (Value* v : n->outputs) outs.push_back(lookup(v));
    AttrMap attrs = n->attrs;
    Node* nn = g->add_node(n->op, ins, outs, {}, n->name);
    for (auto& [key, a] : attrs) {
      if (a.g) a.g = clone_into(*a.g, g.get(), map);
      for (auto& sg : a.graphs) sg = clone_into(*sg, g.get(), map);
    }
    nn->attrs = std::move(attrs);
  }
  return g;
}

std::unique_ptr<Graph> Graph::clone() const { return clone_into(*this, parent, {}); }

Value* Builder::op(OpKind op, std::vector<Value*> inputs, AttrMap attrs, const std::string& name) {
  return op_n(op, std::move(inputs), 1, std::move(attrs), name)[0];
}

std::vector<Value*> Builder::op_n(OpKind op, std::vector<Value*> inputs, int num_outputs, AttrMap attrs,
                                  const std::string& name) {
  std::vector<Value*> outs;
  for (int i = 0; i < num_outputs; ++i)
    outs.push_back(g_.add_value(g_.unique_name(fmt::format("{}{}", op_name(op), g_.nodes().size()))));
  Node* n = g_.add_node(op, std::move(inputs), outs, std::move(attrs), name);
  if (infer_ && status_.is_ok()) status_ = infer_(*n);
  return outs;
}

}  // namespace weec
