// fuse: groups top-level nodes into Fused nodes (after TVM's FuseOps), so the
// C backend emits one loop nest per group and values inside a group never
// get a buffer. Roles of nodes are defined in fusion_rules.h.
//
// Patterns (the Fused node's `pattern` attribute):
//  * "anchor": an anchor (Conv, Gemm, MatMul, ...) and an epilogue of scalar
//    ops (bias Add, Relu, Clip, residual Add, Sigmoid*Mul, ...). Every
//    epilogue node reads at least one group value, has the anchor's output
//    shape, and the anchor's output feeds only the epilogue.
//  * "reduce": a reduce sink and a prologue of scalar ops feeding its input 0
//    (only input 0: the backend inlines the prologue in load(0, flat)).
//    Prologue outputs have the shape of that input, and every external input
//    of a prologue node has that shape or one element (the backend indexes
//    prologue inputs by flat index only).
//  * "elementwise": two or more scalar ops, all with the sink's output shape;
//    external inputs may broadcast.
// In every group, each value produced inside it except the sink (the output
// of its last node) is read only inside the group and is not a graph output,
// and nodes with subgraphs, several outputs, non-static shapes or
// F16/BF16/String data never join (see is_fusable_node). Single nodes stay.
//
// Greedy, in three sweeps so that the more valuable patterns claim nodes
// first: (1) each anchor grows forward, always taking the earliest node
// outside the group that reads a group value, while that node is a scalar op
// of the right shape; the last state whose only escaping value is the last
// node's output is kept. (2) Each reduction grows backward through producers
// of its data whose every reader is already in the group. (3) Remaining scalar
// ops grow forward like anchors.
//
// Rewrite: the sink node becomes the Fused node in place (so it keeps the
// sink's position, output Value, name and type, and downstream users and graph
// outputs are untouched); the other group nodes are removed. The body graph
// has one formal input per distinct external value, constants included (they
// stay top-level, where the backend finds their data), and copies of the
// group's nodes. One exception: constant non-data inputs of a reduce sink
// (axes) are copied into the body as constants, because the reduction's type
// inference and C emitter need their values at compile time. A group whose
// body does not re-infer to exactly the original types is left unfused.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "ops/registry.h"
#include "passes/fusion_rules.h"
#include "passes/passes.h"

namespace weec {

namespace {

// Keeps greedy growth (quadratic in the group size) cheap on long chains.
constexpr size_t kMaxGroupNodes = 128;

class Fuser {
 public:
  Fuser(Graph& g, const FusionRules& rules) : g_(g), rules_(rules) {
    for (size_t i = 0; i < g.nodes().size(); ++i) {
      Node* n = g.nodes()[i].get();
      index_[n] = i;
      // A read by a subgraph counts as a read by the node that owns it.
      for (const Value* v : values_read_by(*n)) {
        auto& rs = readers_[v];
        if (rs.empty() || rs.back() != n) rs.push_back(n);
      }
    }
    graph_outputs_.insert(g.outputs.begin(), g.outputs.end());
  }

  Expected<FuseStats> run() {
    std::vector<Node*> order;
    for (auto& n : g_.nodes()) order.push_back(n.get());
    for (Node* n : order)
      if (!grouped_.count(n) && is_anchor(*n, rules_)) claim(grow_forward(n), "anchor");
    for (Node* n : order)
      if (!grouped_.count(n) && is_reduce_sink(*n, rules_)) claim(grow_prologue(n), "reduce");
    for (Node* n : order)
      if (!grouped_.count(n) && is_scalar_op(*n, rules_)) claim(grow_forward(n), "elementwise");
    FuseStats stats;
    for (auto& [nodes, pattern] : groups_) {
      if (!rewrite(nodes, pattern)) continue;
      if (pattern == "anchor") ++stats.anchor;
      if (pattern == "reduce") ++stats.reduce;
      if (pattern == "elementwise") ++stats.elementwise;
    }
    if (stats.groups()) g_.remove_unused_values();  // the groups' inner values
    return stats;
  }

 private:
  static Dims dims(const Value* v) { return v->type.shape.static_dims(); }

  const std::vector<Node*>& readers(const Value* v) const {
    static const std::vector<Node*> none;
    auto it = readers_.find(v);
    return it == readers_.end() ? none : it->second;
  }

  bool escapes(const Value* v, const std::unordered_set<const Node*>& members) const {
    if (graph_outputs_.count(v)) return true;
    for (Node* r : readers(v))
      if (!members.count(r)) return true;
    return false;
  }

  // Only the last node's output (the sink) may be read outside the group.
  bool closed(const std::vector<Node*>& group, const std::unordered_set<const Node*>& members) const {
    for (size_t i = 0; i + 1 < group.size(); ++i)
      if (escapes(group[i]->outputs[0], members)) return false;
    return true;
  }

  // Anchor epilogues and elementwise chains: scalar ops with the seed's output shape.
  std::vector<Node*> grow_forward(Node* seed) {
    const Dims shape = dims(seed->outputs[0]);
    auto admit = [&](Node* u) {
      return !grouped_.count(u) && is_scalar_op(*u, rules_) && dims(u->outputs[0]) == shape;
    };
    std::vector<Node*> group = {seed}, best = {seed};
    std::unordered_set<const Node*> members = {seed};
    while (group.size() < kMaxGroupNodes) {
      Node* next = nullptr;
      for (Node* n : group)
        for (Node* r : readers(n->outputs[0]))
          if (!members.count(r) && (!next || index_.at(r) < index_.at(next))) next = r;
      if (!next || !admit(next)) break;
      auto pos = std::upper_bound(group.begin(), group.end(), next,
                                  [&](Node* a, Node* b) { return index_.at(a) < index_.at(b); });
      group.insert(pos, next);
      members.insert(next);
      if (closed(group, members)) best = group;
    }
    return best;
  }

  std::vector<Node*> grow_prologue(Node* sink) {
    const Value* data = sink->inputs[0];
    Dims shape = dims(data);
    std::vector<Node*> group = {sink};
    std::unordered_set<const Node*> members = {sink};
    auto can_add = [&](Node* p) {
      if (!p || p->owner != &g_ || members.count(p) || grouped_.count(p) || !is_scalar_op(*p, rules_))
        return false;
      const Value* out = p->outputs[0];
      if (dims(out) != shape || graph_outputs_.count(out)) return false;
      for (const Value* in : p->inputs)
        if (in && dims(in) != shape && numel_of(dims(in)) != 1) return false;
      for (size_t i = 1; i < sink->inputs.size(); ++i)
        if (sink->inputs[i] == out) return false;
      for (Node* r : readers(out))
        if (!members.count(r)) return false;
      return true;
    };
    for (bool changed = true; changed && group.size() < kMaxGroupNodes;) {
      changed = false;
      for (size_t k = 0; k < group.size() && !changed; ++k) {
        Node* q = group[k];
        size_t n_in = q == sink ? 1 : q->inputs.size();
        for (size_t i = 0; i < n_in && !changed; ++i) {
          Node* p = q->inputs[i] ? q->inputs[i]->producer : nullptr;
          if (!can_add(p)) continue;
          group.push_back(p);
          members.insert(p);
          changed = true;
        }
      }
    }
    std::sort(group.begin(), group.end(), [&](Node* a, Node* b) { return index_.at(a) < index_.at(b); });
    return group;
  }

  void claim(std::vector<Node*> group, const char* pattern) {
    if (group.size() < 2) return;
    for (Node* n : group) grouped_.insert(n);
    groups_.push_back({std::move(group), pattern});
  }

  // Builds the body and turns the group into one Fused node; false (graph
  // unchanged) if the body would not re-infer to the same types.
  bool rewrite(const std::vector<Node*>& nodes, const std::string& pattern) {
    Node* sink = nodes.back();
    auto body = std::make_shared<Graph>();
    const Node* first = nodes.front();
    body->name = "fused_" + (first->name.empty() ? std::string(op_name(first->op)) : first->name);
    body->parent = &g_;  // the verifier's rule for subgraphs; the body reads nothing from it
    std::unordered_map<const Value*, Value*> inner;
    std::vector<Value*> externals;
    for (Node* n : nodes) {
      std::vector<Value*> ins;
      for (size_t i = 0; i < n->inputs.size(); ++i) {
        Value* v = n->inputs[i];
        if (v && !inner.count(v)) {
          if (pattern == "reduce" && n == sink && i > 0 && v->is_constant()) {
            Value* c = body->add_value(v->name, v->type);
            c->constant = v->constant;
            inner[v] = c;
          } else {
            externals.push_back(v);
            inner[v] = body->add_input(v->name, v->type);
          }
        }
        ins.push_back(v ? inner.at(v) : nullptr);
      }
      Value* out = body->add_value(n->outputs[0]->name, n->outputs[0]->type);
      inner[n->outputs[0]] = out;
      body->add_node(n->op, std::move(ins), {out}, n->attrs, n->name);
    }
    body->outputs = {inner.at(sink->outputs[0])};
    for (auto& bn : body->nodes()) {
      const OpSchema& schema = op_schema(bn->op);
      InferContext ctx(*bn, schema);
      if (!schema.infer || !schema.infer(ctx) || ctx.outputs.size() != 1 ||
          ctx.outputs[0] != bn->outputs[0]->type)
        return false;
    }
    sink->op = OpKind::Fused;
    sink->name = first->name.empty() ? "" : "fused_" + first->name;
    sink->inputs = std::move(externals);
    sink->attrs = {{"body", Attribute::of_graph(std::move(body))},
                   {"pattern", Attribute::of_string(pattern)}};
    for (Node* n : nodes)
      if (n != sink) g_.remove_node(n);
    return true;
  }

  Graph& g_;
  const FusionRules& rules_;
  std::unordered_map<const Node*, size_t> index_;
  std::unordered_map<const Value*, std::vector<Node*>> readers_;
  std::unordered_set<const Value*> graph_outputs_;
  std::unordered_set<const Node*> grouped_;
  std::vector<std::pair<std::vector<Node*>, std::string>> groups_;
};

class FusePass : public Pass {
 public:
  std::string_view name() const override { return "fuse"; }
  Status run(Graph& g, PassContext& ctx) override {
    WEEC_ASSIGN_OR_RETURN(FuseStats stats, fuse_graph(g));
    ctx.remarks.push_back(stats.remark());
    return Status::ok();
  }
};

}  // namespace

Expected<FuseStats> fuse_graph(Graph& graph, const FusionRules& rules) { return Fuser(graph, rules).run(); }

std::unique_ptr<Pass> make_fuse_pass() { return std::make_unique<FusePass>(); }

}  // namespace weec
