// fold-constants: evaluates at compile time every node whose inputs are all
// constants, with the op's reference kernel (the interpreter's semantics by
// construction), and turns its outputs into constants that keep their value
// names. Shape and Size fold from static types alone, even when their input
// is computed at run time: once input shapes are bound, that collapses the
// Shape -> Gather -> Concat -> Reshape chains exporters emit. Nodes are
// re-inferred as the sweep reaches them, so a Reshape whose shape input just
// became constant gets a static output type.
#include <algorithm>
#include <set>

#include "ops/registry.h"
#include "passes/passes.h"

namespace weec {

namespace {

// Folded tensors larger than this stay computed at run time: a constant costs
// binary size, an op costs a few cycles.
constexpr int64_t kMaxFoldedBytes = int64_t(1) << 24;

bool has_subgraph(const Node& n) {
  for (auto& [key, a] : n.attrs)
    if (a.g || !a.graphs.empty()) return true;
  return false;
}

Status refresh_types(Node& n) {
  for (auto& [key, a] : n.attrs) {
    if (a.g) WEEC_TRY(infer_graph(*a.g));
    for (auto& sg : a.graphs) WEEC_TRY(infer_graph(*sg));
  }
  return infer_node(n);
}

// Replaces `node` by constants holding `results` (one per output).
void make_outputs_constant(Graph& g, Node* node, std::vector<Tensor> results) {
  for (size_t k = 0; k < node->outputs.size(); ++k) {
    Value* out = node->outputs[k];
    if (!out) continue;
    out->type = TensorType{results[k].dtype(), Shape::of(results[k].dims())};
    out->constant = std::make_shared<const Tensor>(std::move(results[k]));
  }
  g.remove_node(node);
}

// Shape/Size whose answer the input's static type already gives.
std::optional<Tensor> fold_from_type(const Node& n) {
  const Value* in = n.input(0);
  if (!in || !in->type.shape.rank_known) return std::nullopt;
  const Shape& s = in->type.shape;
  if (n.op == OpKind::Size) {
    if (!s.is_static()) return std::nullopt;
    return Tensor::scalar<int64_t>(numel_of(s.static_dims()));
  }
  // Shape's [start, end) with ONNX's clamping (as in the Shape kernel).
  const int64_t rank = s.rank();
  const Attribute* a_start = n.attr("start");
  const Attribute* a_end = n.attr("end");
  int64_t start = a_start ? a_start->i : 0, end = a_end ? a_end->i : rank;
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::max(start, std::clamp<int64_t>(end, 0, rank));
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) {
    if (!s.dims[i].is_known()) return std::nullopt;
    dims.push_back(s.dims[i].value);
  }
  return Tensor::from_vector<int64_t>({(int64_t)dims.size()}, dims);
}

bool too_big_by_type(const Node& n) {
  for (const Value* out : n.outputs)
    if (out && out->type.shape.is_static() &&
        numel_of(out->type.shape.static_dims()) * (int64_t)dtype_size(out->type.dtype) > kMaxFoldedBytes)
      return true;
  return false;
}

struct FoldStats {
  int kernel_folds = 0, shape_folds = 0;
  // Nodes left alone, by node (a later sweep meets them again).
  std::set<const Node*> too_big;
  std::set<const Node*> failures;
  std::string first_failure;
};

// Tries to fold one node; true if it was replaced by constants.
Expected<bool> fold_node(Graph& g, Node* n, FoldStats& stats) {
  if (n->op == OpKind::Shape || n->op == OpKind::Size) {
    if (auto t = fold_from_type(*n)) {
      make_outputs_constant(g, n, {std::move(*t)});
      stats.shape_folds++;
      return true;
    }
  }
  const OpSchema& schema = op_schema(n->op);
  // No kernel: nothing to evaluate with. Subgraphs (If/Loop/Scan, Fused) may
  // read outer values the sweep does not track; they stay.
  if (!schema.kernel || n->op == OpKind::Fused || has_subgraph(*n)) return false;
  std::vector<const Tensor*> inputs;
  for (Value* in : n->inputs) {
    if (in && !in->is_constant()) return false;
    inputs.push_back(in ? in->constant.get() : nullptr);
  }
  if (too_big_by_type(*n)) {
    stats.too_big.insert(n);
    return false;
  }
  KernelContext kc(*n, schema, std::move(inputs));
  Status st = schema.kernel(kc);
  if (!st) {
    // The same error would happen at run time; leave the node so it does.
    if (stats.failures.insert(n).second && stats.first_failure.empty()) stats.first_failure = st.message();
    return false;
  }
  for (size_t k = 0; k < n->outputs.size(); ++k) {
    const Value* out = n->outputs[k];
    if (!out) continue;
    const Tensor& t = kc.outputs[k];
    if ((int64_t)t.nbytes() > kMaxFoldedBytes) {
      stats.too_big.insert(n);
      return false;
    }
    if (!type_compatible(out->type, TensorType{t.dtype(), Shape::of(t.dims())}))
      return error("{}: output {} (%{}) computed as {}{} but inferred as {}", n->describe(), k, out->name,
                   dtype_name(t.dtype()), dims_str(t.dims()), type_str(out->type));
  }
  make_outputs_constant(g, n, std::move(kc.outputs));
  stats.kernel_folds++;
  return true;
}

class FoldConstantsPass : public Pass {
 public:
  std::string_view name() const override { return "fold-constants"; }
  Status run(Graph& g, PassContext& ctx) override {
    FoldStats stats;
    // One sweep in order reaches the fixed point (a fold only makes later
    // nodes foldable); the loop is a guard should inference refine types of
    // earlier nodes.
    for (int sweep = 0; sweep < 100; ++sweep) {
      bool changed = false;
      std::vector<Node*> order;
      for (auto& n : g.nodes()) order.push_back(n.get());
      for (Node* n : order) {
        WEEC_TRY(refresh_types(*n));
        WEEC_ASSIGN_OR_RETURN(bool folded, fold_node(g, n, stats));
        changed |= folded;
      }
      if (!changed) break;
    }
    std::string remark = fmt::format("fold-constants: folded {} nodes ({} from static shapes)",
                                     stats.kernel_folds + stats.shape_folds, stats.shape_folds);
    if (!stats.too_big.empty())
      remark +=
          fmt::format(", {} left unfolded (result over {} bytes)", stats.too_big.size(), kMaxFoldedBytes);
    if (!stats.failures.empty())
      remark += fmt::format(", {} left unfolded (kernel error, e.g. {})", stats.failures.size(),
                            stats.first_failure);
    ctx.remarks.push_back(std::move(remark));
    return Status::ok();
  }
};

}  // namespace

std::unique_ptr<Pass> make_fold_constants_pass() { return std::make_unique<FoldConstantsPass>(); }

}  // namespace weec
