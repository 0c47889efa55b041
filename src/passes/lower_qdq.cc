// lower-qdq: the canonical lowering of QDQ patterns to integer ops.
//
//   DQ(x) , DQ(w) [, DQ(b)] -> Conv|Gemm|MatMul [-> Relu] -> Q   =>  QConv | QGemm
//   DQ(a) , DQ(b) -> Add|Mul [-> Relu] -> Q                       =>  QAdd | QMul
//   DQ(x) -> MaxPool|Reshape|Flatten|Transpose|... -> Q (same q)  =>  the op on integers
//   DQ(x) -> AveragePool|GlobalAveragePool -> Q                   =>  QAveragePool | QGlobalAveragePool
//   DQ(x) -> any unary elementwise op -> Q                        =>  QLookup (a 256-entry table)
//   Q(DQ(x)) with the same parameters                             =>  x
//
// Multipliers S_in*S_w/S_out become (M0, shift) pairs; a fused ReLU becomes
// the requantisation clamp. What matches no pattern stays float between its
// DQ and Q (still correct, not integer-only). With int_io the graph's inputs
// and outputs become the quantised values themselves.
#include <algorithm>

#include "ops/registry.h"
#include "passes/lower_qdq_patterns.h"
#include "passes/passes.h"

namespace weec {
namespace {

// Q(DQ(x)) with identical parameters is x.
int cancel_requantise_pairs(Graph& g) {
  int n = 0;
  std::vector<Node*> qs;
  for (auto& node : g.nodes())
    if (node->op == OpKind::QuantizeLinear) qs.push_back(node.get());
  for (Node* q : qs) {
    Node* dq = dequantize_producer(q->inputs[0]);
    if (!dq) continue;
    auto pq = qdq_params(*q), pd = qdq_params(*dq);
    if (!pq || !pd || !pq->same_as(*pd) || pq->qtype != dq->inputs[0]->type.dtype) continue;
    Value* out = q->outputs[0];
    Value* x = dq->inputs[0];
    g.remove_node(q);
    g.replace_all_uses(out, x);
    ++n;
  }
  return n;
}

// Graph inputs read only by per-tensor QuantizeLinear, and outputs made by a
// per-tensor DequantizeLinear, become the integer values themselves.
Status make_integer_io(Graph& g) {
  for (Value* in : g.inputs) {
    auto users = g.users(in);
    std::optional<QdqParams> p;
    bool all_q = !users.empty();
    for (auto& [u, idx] : users) {
      auto up = u->op == OpKind::QuantizeLinear && idx == 0 ? qdq_params(*u) : std::nullopt;
      if (!up || !up->per_tensor() || (p && !p->same_as(*up))) all_q = false;
      if (up) p = up;
    }
    if (!all_q) return error("--int-io: input '{}' is not only read by one quantiser", in->name);
    for (auto& [u, idx] : users) {
      Value* out = u->outputs[0];
      g.remove_node(u);
      g.replace_all_uses(out, in);
    }
    in->type = TensorType{p->qtype, in->type.shape, p->as_quant()};
  }
  for (Value*& out : g.outputs) {
    Node* dq = dequantize_producer(out);
    auto p = dq ? qdq_params(*dq) : std::nullopt;
    if (!p || !p->per_tensor())
      return error("--int-io: output '{}' is not made by one dequantiser", out->name);
    Value* q = dq->inputs[0];
    std::string name = out->name;
    out->name = g.unique_name(name + "_float");
    q->name = name;
    q->type.quant = p->as_quant();
    out = q;
  }
  return Status::ok();
}

// Integer values between a QuantizeLinear and DequantizeLinear carry their
// parameters in their type (models imported in QDQ form have none yet).
void annotate_quantised_values(Graph& g) {
  for (auto& n : g.nodes()) {
    bool q = n->op == OpKind::QuantizeLinear, dq = n->op == OpKind::DequantizeLinear;
    if (!q && !dq) continue;
    auto p = qdq_params(*n);
    Value* v = q ? n->outputs[0] : n->inputs[0];
    // Not constants: a constant's type is its data's (the verifier checks it); a
    // one-channel conv's weights are per tensor and would otherwise be annotated.
    if (p && p->per_tensor() && !v->type.quant && !v->constant && is_integer(v->type.dtype))
      v->type.quant = p->as_quant();
  }
}

class LowerQdqPass : public Pass {
 public:
  std::string_view name() const override { return "lower-qdq"; }
  std::vector<Requirement> requires_() const override { return {Requirement::StaticShapes}; }

  Status run(Graph& g, PassContext& ctx) override {
    annotate_quantised_values(g);
    QdqLowering lower(g);
    std::vector<Node*> nodes;
    for (auto& n : g.nodes()) nodes.push_back(n.get());
    for (Node* n : nodes) WEEC_TRY(lower.try_lower(n));
    int cancelled = cancel_requantise_pairs(g);
    if (ctx.quantize.int_io) WEEC_TRY(make_integer_io(g));
    WEEC_TRY(g.topological_sort());
    WEEC_TRY(infer_graph(g));
    ctx.remarks.push_back(
        fmt::format("lower-qdq: {} integer ops, {} float ops left between DQ and Q, {} Q(DQ) pairs removed",
                    lower.lowered(), lower.left_float(), cancelled));
    return Status::ok();
  }
};

}  // namespace

std::unique_ptr<Pass> make_lower_qdq_pass() { return std::make_unique<LowerQdqPass>(); }

}  // namespace weec
