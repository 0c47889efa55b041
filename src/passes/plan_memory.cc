// plan-memory: static storage for every top-level value (see memory_plan.h).
//
// 1. Storage classes, in node order: graph inputs -> Input, constants ->
//    Constant, graph outputs -> Output (first index), other node outputs ->
//    Arena. A view node (OpSchema::view) makes output 0 share the buffer of
//    input 0's root, unless its output is a graph output: then it is still a
//    view if the root is an arena intermediate, which is promoted to that
//    Output (its producer writes straight into the caller's buffer);
//    otherwise the backend copies.
// 2. Liveness of each arena root: from its producer's step to the last step
//    reading it or any of its views (values_read_by, so subgraph reads count).
//    A value nobody reads still occupies its buffer during its producer's step.
// 3. In-place: an output may take over the buffer of an input root that dies
//    at that node (same dtype and bytes) when the node reads that root at the
//    output's own flat index only (see inplace_safe); the two become one
//    buffer. Same dtype, not just size: C strict aliasing.
// 4. Packing of the arena buffers and per-node scratch (liveness.h).
#include <fmt/format.h>

#include <unordered_map>

#include "ir/printer.h"
#include "ops/registry.h"
#include "passes/fusion_rules.h"
#include "passes/liveness.h"
#include "passes/passes.h"

namespace weec {

namespace {

using Kind = Storage::Kind;

int64_t value_bytes(const Value* v) {
  return numel_of(v->type.shape.static_dims()) * (int64_t)dtype_size(v->type.dtype);
}
int64_t align_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

// Whether every read `n` makes of buffer `root` (through the inputs in
// `reads_root`) is at the output's own flat index, before that index is written.
bool inplace_safe(const Node& n, const std::vector<size_t>& reads_root) {
  const Dims out = n.outputs[0]->type.shape.static_dims();
  if (is_scalar_op(n)) {
    for (size_t i : reads_root)
      if (n.inputs[i]->type.shape.static_dims() != out) return false;
    return true;
  }
  if (n.op != OpKind::Fused) return false;
  const Attribute* body_attr = n.attr("body");
  const Attribute* pattern = n.attr("pattern");
  if (!body_attr || !body_attr->g || !pattern || (pattern->s != "elementwise" && pattern->s != "anchor"))
    return false;
  const Graph& body = *body_attr->g;
  if (body.inputs.size() != n.inputs.size()) return false;
  for (size_t i : reads_root) {
    const Value* formal = body.inputs[i];
    if (!formal->type.shape.is_static() || formal->type.shape.static_dims() != out) return false;
    // Epilogue/scalar nodes read one element per output element; an anchor reads anywhere.
    for (auto& bn : body.nodes())
      for (const Value* in : bn->inputs)
        if (in == formal && !is_scalar_op(*bn)) return false;
  }
  return true;
}

class Planner {
 public:
  Planner(const Graph& g, const PlanOptions& opt) : g_(g), opt_(opt) {}

  Expected<MemoryPlan> run() {
    if (opt_.alignment <= 0) return error("plan-memory: alignment must be positive, got {}", opt_.alignment);
    WEEC_TRY(assign_roots());
    compute_lifetimes();
    if (opt_.inplace) merge_inplace();
    WEEC_TRY(pack());
    return std::move(plan_);
  }

 private:
  Status check_static(const Value* v) const {
    if (v->type.shape.is_static()) return Status::ok();
    std::string what = v->producer ? "output of " + v->producer->describe() : std::string("graph input");
    return error("plan-memory: value {} ({}) has type {}; memory planning needs static shapes",
                 value_ref(v->name), what, type_text(v->type));
  }

  // Step 1: the root of every value and the storage class of every root.
  Status assign_roots() {
    for (size_t k = 0; k < g_.outputs.size(); ++k) output_index_.emplace(g_.outputs[k], (int)k);
    for (size_t i = 0; i < g_.inputs.size(); ++i) {
      const Value* v = g_.inputs[i];
      WEEC_TRY(check_static(v));
      if (root_.count(v)) continue;
      root_[v] = v;
      kind_[v] = {Kind::Input, 0, (int)i, v};
    }
    for (auto& v : g_.values())
      if (v->is_constant() && !root_.count(v.get())) {
        root_[v.get()] = v.get();
        kind_[v.get()] = {Kind::Constant, 0, 0, v.get()};
      }
    for (size_t s = 0; s < g_.nodes().size(); ++s) {
      const Node& n = *g_.nodes()[s];
      step_[&n] = (int64_t)s;
      for (const Value* o : n.outputs)
        if (o) WEEC_TRY(check_static(o));
      if (try_view(n)) continue;
      for (const Value* o : n.outputs) {
        if (!o) continue;
        root_[o] = o;
        auto out = output_index_.find(o);
        kind_[o] = out != output_index_.end() ? Storage{Kind::Output, 0, out->second, o}
                                              : Storage{Kind::Arena, 0, 0, o};
      }
    }
    return Status::ok();
  }

  bool try_view(const Node& n) {
    if (!op_schema(n.op).view || n.outputs.empty() || !n.outputs[0] || !n.has_input(0)) return false;
    const Value* in = n.inputs[0];
    const Value* out = n.outputs[0];
    for (size_t k = 1; k < n.outputs.size(); ++k)
      if (n.outputs[k]) return false;
    if (!root_.count(in) || in->type.dtype != out->type.dtype || value_bytes(in) != value_bytes(out))
      return false;
    const Value* r = root_.at(in);
    auto out_k = output_index_.find(out);
    if (out_k != output_index_.end()) {
      // Only an arena intermediate can move into the caller's output buffer.
      if (kind_.at(r).kind != Kind::Arena) return false;
      kind_[r] = {Kind::Output, 0, out_k->second, r};
    }
    root_[out] = r;
    plan_.views.push_back(&n);
    return true;
  }

  // Step 2: [first, last] step of each arena root, views included.
  void compute_lifetimes() {
    for (auto& [v, st] : kind_)
      if (st.kind == Kind::Arena) life_[v] = {step_.at(v->producer), step_.at(v->producer)};
    for (auto& n : g_.nodes()) {
      int64_t s = step_.at(n.get());
      for (const Value* v : values_read_by(*n)) {
        auto r = root_.find(v);
        if (r == root_.end()) continue;  // a subgraph's own value
        auto l = life_.find(r->second);
        if (l != life_.end()) l->second.second = std::max(l->second.second, s);
      }
    }
    for (auto& [v, l] : life_) group_[v] = v;
  }

  const Value* group_of(const Value* v) {
    while (group_[v] != v) v = group_[v] = group_[group_[v]];
    return v;
  }

  // Step 3.
  void merge_inplace() {
    std::unordered_map<const Node*, bool> is_view;
    for (const Node* n : plan_.views) is_view[n] = true;
    for (auto& np : g_.nodes()) {
      const Node& n = *np;
      if (is_view.count(&n) || n.outputs.size() != 1 || !n.outputs[0]) continue;
      const Value* out = n.outputs[0];
      if (!life_.count(out)) continue;  // not an arena buffer
      int64_t s = step_.at(&n);
      std::vector<const Value*> tried;
      for (const Value* in : n.inputs) {
        if (!in || !root_.count(in)) continue;
        const Value* r = root_.at(in);
        if (!life_.count(r) || life_.at(r).second != s ||
            std::find(tried.begin(), tried.end(), r) != tried.end())
          continue;
        tried.push_back(r);
        if (r->type.dtype != out->type.dtype || value_bytes(r) != value_bytes(out)) continue;
        std::vector<size_t> reads;
        for (size_t i = 0; i < n.inputs.size(); ++i)
          if (n.inputs[i] && root_.count(n.inputs[i]) && root_.at(n.inputs[i]) == r) reads.push_back(i);
        if (!inplace_safe(n, reads)) continue;
        group_[out] = group_of(r);
        ++plan_.inplace_count;
        break;
      }
    }
  }

  // Step 4: one LiveBuffer per in-place group and per scratch request.
  Status pack() {
    std::unordered_map<const Value*, size_t> buffer_of_group;
    std::vector<LiveBuffer> buffers;
    // Deterministic order: node order, not hash order.
    std::vector<const Value*> roots;
    for (auto& n : g_.nodes())
      for (const Value* o : n->outputs)
        if (o && life_.count(o)) roots.push_back(o);
    for (const Value* r : roots) {
      const Value* gr = group_of(r);
      auto [it, fresh] = buffer_of_group.emplace(gr, buffers.size());
      LiveBuffer b{life_.at(r).first, life_.at(r).second, align_up(value_bytes(r), opt_.alignment)};
      if (fresh) {
        buffers.push_back(b);
        continue;
      }
      LiveBuffer& m = buffers[it->second];
      m.start = std::min(m.start, b.start);
      m.end = std::max(m.end, b.end);
      m.size = std::max(m.size, b.size);
    }
    std::vector<std::pair<const Node*, size_t>> scratch;
    for (auto& n : g_.nodes()) {
      auto it = opt_.scratch_bytes.find(n.get());
      if (it == opt_.scratch_bytes.end()) continue;
      if (it->second < 0)
        return error("plan-memory: {} asks for {} scratch bytes", n->describe(), it->second);
      int64_t s = step_.at(n.get());
      scratch.push_back({n.get(), buffers.size()});
      buffers.push_back({s, s, align_up(it->second, opt_.alignment)});
    }
    if (scratch.size() != opt_.scratch_bytes.size())
      return error("plan-memory: scratch requested for a node that is not in graph '{}'", g_.name);

    plan_.lower_bound = live_lower_bound(buffers);
    Packing p =
        pack_buffers(buffers, opt_.alignment, opt_.hill_climb_iterations, opt_.seed, plan_.lower_bound);
    plan_.arena_bytes = p.arena;
    for (auto& [v, r] : root_) {
      Storage st = kind_.at(r);
      if (st.kind == Kind::Arena) st.offset = p.offsets[buffer_of_group.at(group_of(r))];
      st.root = r;
      plan_.storage[v] = st;
    }
    for (auto& [n, b] : scratch) plan_.scratch_offset[n] = p.offsets[b];
    return Status::ok();
  }

  const Graph& g_;
  const PlanOptions& opt_;
  MemoryPlan plan_;
  std::unordered_map<const Value*, int> output_index_;   // first index as a graph output
  std::unordered_map<const Value*, const Value*> root_;  // value -> buffer owner
  std::unordered_map<const Value*, Storage> kind_;       // root -> storage class (offset later)
  std::unordered_map<const Node*, int64_t> step_;
  std::unordered_map<const Value*, std::pair<int64_t, int64_t>> life_;  // arena root -> [first, last]
  std::unordered_map<const Value*, const Value*> group_;  // in-place union-find over arena roots
};

class PlanMemoryPass : public Pass {
 public:
  std::string_view name() const override { return "plan-memory"; }
  std::vector<Requirement> requires_() const override { return {Requirement::StaticShapes}; }
  Status run(Graph& g, PassContext& ctx) override {
    WEEC_ASSIGN_OR_RETURN(MemoryPlan plan, plan_memory(g, ctx.plan_options));
    ctx.remarks.push_back("plan-memory: " + plan.summary());
    ctx.memory_plan = std::move(plan);
    return Status::ok();
  }
};

}  // namespace

Expected<MemoryPlan> plan_memory(const Graph& graph, const PlanOptions& options) {
  return Planner(graph, options).run();
}

std::string MemoryPlan::summary() const {
  return fmt::format("arena {} B (lower bound {} B), {} in-place, {} views", arena_bytes, lower_bound,
                     inplace_count, views.size());
}

std::unique_ptr<Pass> make_plan_memory_pass() { return std::make_unique<PlanMemoryPass>(); }

}  // namespace weec
