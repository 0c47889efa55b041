// eliminate-dead-code: removes nodes none of whose outputs reach a graph
// output (directly, or through values read by later nodes' subgraphs), then
// the values and constants nothing uses any more. No op has side effects in
// weec, so liveness is purely data flow. Subgraph bodies are cleaned first
// (bottom-up), so an outer value read only by a dead subgraph node dies too.
#include <unordered_set>

#include "passes/passes.h"

namespace weec {

namespace {

struct DceStats {
  int nodes = 0;
  size_t values = 0;
};

void eliminate(Graph& g, DceStats& stats) {
  for (auto& n : g.nodes())
    for (auto& [key, a] : n->attrs) {
      if (a.g) eliminate(*a.g, stats);
      for (auto& sg : a.graphs) eliminate(*sg, stats);
    }

  std::unordered_set<const Value*> live(g.outputs.begin(), g.outputs.end());
  std::vector<Node*> dead;
  const auto& nodes = g.nodes();
  for (size_t i = nodes.size(); i-- > 0;) {
    const Node& n = *nodes[i];
    bool used = false;
    for (const Value* out : n.outputs) used |= out && live.count(out);
    if (!used) {
      dead.push_back(nodes[i].get());
      continue;
    }
    for (const Value* v : values_read_by(n)) live.insert(v);
  }
  for (Node* n : dead) g.remove_node(n);
  stats.nodes += (int)dead.size();

  size_t before = g.values().size();
  g.remove_unused_values();
  stats.values += before - g.values().size();
}

class EliminateDeadCodePass : public Pass {
 public:
  std::string_view name() const override { return "eliminate-dead-code"; }
  Status run(Graph& g, PassContext& ctx) override {
    DceStats stats;
    eliminate(g, stats);
    ctx.remarks.push_back(
        fmt::format("eliminate-dead-code: removed {} nodes and {} values", stats.nodes, stats.values));
    return Status::ok();
  }
};

}  // namespace

std::unique_ptr<Pass> make_eliminate_dead_code_pass() { return std::make_unique<EliminateDeadCodePass>(); }

}  // namespace weec
