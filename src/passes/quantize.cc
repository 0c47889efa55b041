// quantize: post-training static quantisation into the QDQ form.
//
// Calibration runs the float graph in the interpreter over the samples in
// PassContext::quantize and records every float activation's range. Then
// each activation gets QuantizeLinear -> DequantizeLinear after it, weights
// of Conv/Gemm/MatMul become per-channel symmetric int8 constants behind a
// DequantizeLinear, and biases int32 constants with scale s_in * s_w. The
// result still computes in float (it is what `weec quantize` exports and what
// ONNX Runtime runs); lower-qdq then turns the patterns into integer ops.
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "interp/interpreter.h"
#include "passes/passes.h"
#include "passes/quantize_util.h"
#include "passes/range_observer.h"

namespace weec {
namespace {

// Ops whose output holds a subset of the input's values: the output reuses
// the input's quantisation, so the op runs unchanged on integers.
bool preserves_scale(OpKind op) {
  switch (op) {
    case OpKind::MaxPool:
    case OpKind::Reshape:
    case OpKind::Flatten:
    case OpKind::Squeeze:
    case OpKind::Unsqueeze:
    case OpKind::Transpose:
    case OpKind::Identity:
      return true;
    default:
      return false;
  }
}

bool is_weighted(const Node& n) {
  return n.op == OpKind::Conv || n.op == OpKind::Gemm || n.op == OpKind::MatMul;
}

// A Conv/Gemm/MatMul/Add output read only by a Relu: the pair quantises as
// one (the ReLU becomes the requantisation clamp), so only the Relu's output
// gets a quantiser.
bool feeds_fused_relu(const Graph& g, const Value* v) {
  if (!v->producer) return false;
  OpKind p = v->producer->op;
  if (!is_weighted(*v->producer) && p != OpKind::Add) return false;
  auto users = g.users(v);
  if (users.size() != 1 || users[0].first->op != OpKind::Relu) return false;
  return std::find(g.outputs.begin(), g.outputs.end(), v) == g.outputs.end();
}

Status calibrate(const Graph& g, const QuantizeOptions& opt,
                 std::unordered_map<const Value*, RangeObserver>& obs) {
  for (auto& v : g.values())
    if (!v->constant && v->type.dtype == DType::F32) obs[v.get()];
  InterpOptions io;
  bool histogram = false;
  io.observe = [&](const Value& v, const Tensor& t) {
    auto it = obs.find(&v);
    if (it == obs.end()) return;
    if (histogram)
      it->second.observe_histogram(t);
    else
      it->second.observe_range(t);
  };
  int passes = opt.method == CalibMethod::MinMax ? 1 : 2;
  size_t total = opt.calibration.size() * passes, done = 0;
  for (int pass = 0; pass < passes; ++pass) {
    if (pass == 1) {
      histogram = true;
      for (auto& [v, o] : obs) o.start_histogram();
    }
    for (size_t s = 0; s < opt.calibration.size(); ++s) {
      std::vector<const Tensor*> ins;
      for (const Tensor& t : opt.calibration[s]) ins.push_back(&t);
      auto r = run_graph(g, ins, io);
      if (!r) return error("calibration sample {}: {}", s, r.status().message());
      if (opt.progress) opt.progress(++done, total);
    }
  }
  return Status::ok();
}

class QuantizePass : public Pass {
 public:
  std::string_view name() const override { return "quantize"; }
  std::vector<Requirement> requires_() const override { return {Requirement::StaticShapes}; }

  Status run(Graph& g, PassContext& ctx) override {
    const QuantizeOptions& opt = ctx.quantize;
    const QuantChoices* given = opt.given.get();
    if (opt.calibration.empty() && !given)
      return error("no calibration data: quantisation needs representative inputs (--calib)");
    for (auto& sample : opt.calibration)
      if (sample.size() != g.inputs.size())
        return error("a calibration sample has {} tensors but the graph takes {} inputs", sample.size(),
                     g.inputs.size());
    std::unordered_map<const Value*, RangeObserver> obs;
    if (!given) WEEC_TRY(calibrate(g, opt, obs));

    QdqBuilder qdq(g, opt.activation_dtype, opt.weight_bits);
    // Activation parameters in execution order, so scale-preserving ops can
    // take their input's.
    std::vector<Value*> order(g.inputs.begin(), g.inputs.end());
    for (auto& n : g.nodes())
      for (Value* o : n->outputs)
        if (o) order.push_back(o);
    int quantised = 0;
    for (Value* v : order) {
      if (v->type.dtype != DType::F32 || feeds_fused_relu(g, v)) continue;
      Node* p = v->producer;
      if (p && preserves_scale(p->op) && p->inputs[0] && qdq.params(p->inputs[0])) {
        qdq.set_params(v, *qdq.params(p->inputs[0]));
      } else if (given) {
        auto it = given->activations.find(v->name);
        if (it == given->activations.end()) continue;
        qdq.set_params(v, it->second);
      } else {
        auto it = obs.find(v);
        if (it == obs.end() || !it->second.seen()) continue;
        auto [lo, hi] = it->second.range(opt.method, opt.percentile, 256);
        qdq.set_params(v, affine_params(lo, hi, qdq.qmin(), qdq.qmax()));
      }
      if (opt.chosen) opt.chosen->activations[v->name] = *qdq.params(v);
      ++quantised;
    }
    int weights = 0;
    std::vector<Node*> weighted;  // quantise_weights adds nodes: iterate a snapshot
    for (auto& n : g.nodes())
      if (is_weighted(*n)) weighted.push_back(n.get());
    for (Node* n : weighted) {
      const std::string wname = n->input(1) ? n->input(1)->name : "";
      const Tensor* ws = nullptr;
      if (given)
        if (auto w = given->weight_scales.find(wname); w != given->weight_scales.end()) ws = &w->second;
      Tensor used;
      bool done = false;
      WEEC_TRY(qdq.quantise_weights(*n, done, ws, &used));
      if (done && opt.chosen) opt.chosen->weight_scales[wname] = used;
      weights += done;
    }
    for (Value* v : order)
      if (qdq.params(v)) WEEC_TRY(qdq.insert_qdq(v));
    WEEC_TRY(g.topological_sort());
    ctx.remarks.push_back(fmt::format(
        "quantize: {} calibration samples ({}), {} activations, {} weight tensors ({}-bit)",
        opt.calibration.size(), calib_method_name(opt.method), quantised, weights, opt.weight_bits));
    return Status::ok();
  }
};

}  // namespace

std::unique_ptr<Pass> make_quantize_pass() { return std::make_unique<QuantizePass>(); }

}  // namespace weec
