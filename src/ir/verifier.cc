#include "ir/verifier.h"

#include <fmt/format.h>

#include <unordered_map>
#include <unordered_set>

#include "ir/printer.h"

namespace weec {

namespace {

// Deeper nesting than any real model; mostly guards against a graph that is
// (indirectly) its own subgraph.
constexpr int kMaxDepth = 256;

struct Scope {
  const Graph* graph = nullptr;
  std::unordered_set<const Value*> defined;  // so far, in node order
  const Scope* parent = nullptr;
  // Ancestors of a subgraph verified on its own: their node order is not
  // being walked, so every value they own counts as defined.
  bool all_defined = false;

  bool has(const Value* v) const { return all_defined ? v->owner == graph : defined.count(v) > 0; }
};

bool defined_in(const Scope* s, const Value* v) {
  for (; s; s = s->parent)
    if (s->has(v)) return true;
  return false;
}

const Scope* scope_of(const Scope* s, const Graph* g) {
  for (; s; s = s->parent)
    if (s->graph == g) return s;
  return nullptr;
}

template <typename F>
void for_each_subgraph(const Node& n, F&& f) {
  for (auto& [key, a] : n.attrs) {
    if (a.kind == Attribute::Kind::Graph && a.g) f(key, *a.g);
    if (a.kind == Attribute::Kind::Graphs)
      for (auto& sg : a.graphs)
        if (sg) f(key, *sg);
  }
}

// Values node `n` reads, including outer-scope reads of its subgraphs.
void collect_reads(const Node& n, std::vector<const Value*>& out, int depth = 0) {
  for (Value* in : n.inputs)
    if (in) out.push_back(in);
  if (depth > kMaxDepth) return;
  for_each_subgraph(n, [&](const std::string&, const Graph& sg) {
    for (auto& sn : sg.nodes()) collect_reads(*sn, out, depth + 1);
  });
}

// Whether `from` (transitively, through producers in g) reads an output of `target`.
bool depends_on(const Graph& g, const Node* from, const Node* target) {
  std::unordered_set<const Node*> in_graph;
  for (auto& n : g.nodes()) in_graph.insert(n.get());
  std::unordered_set<const Node*> seen;
  std::vector<const Node*> stack = {from};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    std::vector<const Value*> reads;
    collect_reads(*n, reads);
    for (const Value* v : reads) {
      if (!v->producer || !in_graph.count(v->producer)) continue;
      if (v->producer == target) return true;
      stack.push_back(v->producer);
    }
  }
  return false;
}

std::string ref(const Value* v) { return value_ref(v->name); }

// How a value was first defined in g, for "defined twice" messages.
std::string first_definition(const Graph& g, const Value* v) {
  for (Value* in : g.inputs)
    if (in == v) return "a graph input";
  if (v->is_constant()) return "a constant";
  for (auto& n : g.nodes())
    for (Value* o : n->outputs)
      if (o == v) return "an output of " + n->describe();
  return "?";
}

class Verifier {
 public:
  explicit Verifier(const VerifyOptions& options) : opt_(options) {}

  Status graph(const Graph& g, const Scope* outer, int depth) {
    if (depth > kMaxDepth)
      return error("subgraphs nested more than {} deep (is a graph its own subgraph?)", kMaxDepth);
    Scope scope;
    scope.graph = &g;
    scope.parent = outer;
    std::unordered_set<const Value*> owned;
    std::unordered_set<const Node*> nodes;
    for (auto& n : g.nodes()) {
      nodes.insert(n.get());
      if (n->owner != &g) return error("{}: its owner is not graph '{}'", n->describe(), g.name);
    }
    for (auto& vp : g.values()) {
      const Value* v = vp.get();
      owned.insert(v);
      if (v->owner != &g) return error("value {}: its owner is not graph '{}'", ref(v), g.name);
      if (!v->producer) continue;
      if (!nodes.count(v->producer))
        return error("value {}: its producer is not a node of graph '{}'", ref(v), g.name);
      const auto& outs = v->producer->outputs;
      if (v->output_index < 0 || v->output_index >= (int)outs.size() || outs[v->output_index] != v)
        return error("value {}: its producer {} does not have it as output {}", ref(v),
                     v->producer->describe(), v->output_index);
      if (v->is_constant())
        return error("value {} is both a constant and an output of {}", ref(v), v->producer->describe());
    }

    std::unordered_map<std::string, const Value*> names;
    // `producer`: the node defining v as an output, else null and `as` says how
    // v is defined. Messages are built only on failure: describe() is O(n).
    auto define = [&](const Value* v, const char* as, const Node* producer = nullptr) -> Status {
      auto how = [&] { return producer ? "an output of " + producer->describe() : std::string(as); };
      if (!owned.count(v)) return error("{} {} is not a value of graph '{}'", how(), ref(v), g.name);
      if (scope.defined.count(v))
        return error("value {} is defined twice: as {} and as {}", ref(v), first_definition(g, v), how());
      auto [it, inserted] = names.emplace(v->name, v);
      if (!inserted) return error("graph '{}' has two values named {}", g.name, ref(v));
      scope.defined.insert(v);
      return Status::ok();
    };

    for (size_t i = 0; i < g.inputs.size(); ++i) {
      const Value* v = g.inputs[i];
      if (!v) return error("graph '{}': input {} is null", g.name, i);
      WEEC_TRY(define(v, "a graph input"));
      if (v->producer)
        return error("graph input {} is also an output of {}", ref(v), v->producer->describe());
    }
    for (auto& vp : g.values()) {
      const Value* v = vp.get();
      if (!v->is_constant()) continue;
      WEEC_TRY(define(v, "a constant"));
      const Tensor& c = *v->constant;
      TensorType data_type{c.dtype(), Shape::of(c.dims())};
      if (v->type != data_type)
        return error("constant {} has type {} but its data is {}", ref(v), type_text(v->type),
                     type_text(data_type));
      int64_t stored = c.dtype() == DType::String
                           ? (int64_t)c.strings().size()
                           : (int64_t)(c.nbytes() / std::max<size_t>(1, dtype_size(c.dtype())));
      if (stored != c.numel())
        return error("constant {} holds {} elements but its dims {} need {}", ref(v), stored,
                     dims_str(c.dims()), c.numel());
    }

    for (size_t idx = 0; idx < g.nodes().size(); ++idx) {
      const Node& n = *g.nodes()[idx];
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        const Value* in = n.inputs[i];
        if (in && !scope.defined.count(in) && !defined_in(outer, in))
          return use_error(g, scope, n, idx, i, in);
      }
      for (auto& [key, a] : n.attrs) {
        bool null_graph = a.kind == Attribute::Kind::Graph && !a.g;
        for (auto& sg : a.graphs) null_graph |= a.kind == Attribute::Kind::Graphs && !sg;
        if (null_graph) return error("{}: attribute '{}' holds a null graph", n.describe(), key);
      }
      Status st;
      for_each_subgraph(n, [&](const std::string& key, const Graph& sg) {
        if (!st) return;
        if (sg.parent != &g) {
          st = error("{}: subgraph '{}' (attribute '{}') does not have graph '{}' as its parent",
                     n.describe(), sg.name, key, g.name);
          return;
        }
        st = graph(sg, &scope, depth + 1);
        if (!st)
          st = st.with_context(
              fmt::format("in subgraph '{}' (attribute '{}') of {}", sg.name, key, n.describe()));
      });
      WEEC_TRY(st);
      for (size_t j = 0; j < n.outputs.size(); ++j) {
        const Value* out = n.outputs[j];
        if (!out) continue;
        WEEC_TRY(define(out, nullptr, &n));
        if (out->producer && out->producer != &n && out->producer->owner == &g)
          return error("value {} is defined twice: as an output of {} and as an output of {}", ref(out),
                       n.describe(), out->producer->describe());
        if (out->producer != &n || out->output_index != (int)j)
          return error("{}: output {} {} does not record this node as its producer (output {})", n.describe(),
                       j, ref(out), j);
      }
      if (opt_.check_node) WEEC_TRY(opt_.check_node(n));
    }

    for (size_t i = 0; i < g.outputs.size(); ++i) {
      const Value* v = g.outputs[i];
      if (!v) return error("graph '{}': output {} is null", g.name, i);
      if (!scope.defined.count(v) && !defined_in(outer, v))
        return error(
            "graph '{}': output {} {} is not defined (no graph input, constant or node defines it{})", g.name,
            i, ref(v), v->owner && v->owner != &g ? " in scope" : "");
    }
    return Status::ok();
  }

 private:
  // Why input i of node n (at index idx of g) is not defined at that point.
  Status use_error(const Graph& g, const Scope& scope, const Node& n, size_t idx, size_t i, const Value* in) {
    std::string what = fmt::format("{}: input {} {}", n.describe(), i, ref(in));
    if (in->owner == &g) {
      if (in->producer && in->producer->owner == &g && g.index_of(in->producer) >= idx) {
        if (depends_on(g, in->producer, &n))
          return error("{} comes from {}, which depends on this node: the graph has a cycle", what,
                       in->producer->describe());
        return error("{} is used before its definition by {} (nodes are not in topological order)", what,
                     in->producer->describe());
      }
      return error("{} is not defined (no graph input, constant or node defines it)", what);
    }
    if (!in->owner) return error("{} belongs to no graph", what);
    if (scope_of(scope.parent, in->owner))
      return error("{} of enclosing graph '{}' is used before its definition there", what, in->owner->name);
    return error("{} belongs to graph '{}', which does not enclose this node", what, in->owner->name);
  }

  const VerifyOptions& opt_;
};

}  // namespace

Status verify_graph(const Graph& g, const VerifyOptions& options) {
  // A subgraph verified on its own may read any value of its ancestors.
  std::vector<std::unique_ptr<Scope>> ancestors;
  const Scope* outer = nullptr;
  std::unordered_set<const Graph*> seen = {&g};
  std::vector<const Graph*> chain;
  for (const Graph* p = g.parent; p && seen.insert(p).second; p = p->parent) chain.push_back(p);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    auto s = std::make_unique<Scope>();
    s->graph = *it;
    s->parent = outer;
    s->all_defined = true;
    outer = s.get();
    ancestors.push_back(std::move(s));
  }
  return Verifier(options).graph(g, outer, 0);
}

}  // namespace weec
