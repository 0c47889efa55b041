// simplify-inference: rewrites that only hold for inference.
//  (a) Identity and inference-mode Dropout are dropped (their output value is
//      replaced by their input). Graph outputs are matched by name, so when
//      the removed output is a graph output its name moves to the input value;
//      if the input is itself a graph input or output it cannot be renamed,
//      and the node stays (a Dropout becomes an Identity).
//  (b) BatchNormalization (inference form) after a Conv, Gemm or MatMul with
//      constant weights folds into them: W' = W * s per output channel,
//      b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps), in double,
//      stored in the weight dtype. MatMul has no bias, so it gets an Add.
//  (c) A Mul by a constant scalar / per-output-channel tensor, or an Add of
//      one, right after a Conv or Gemm folds into its weights and bias.
//  (d) The same in front of a Gemm/MatMul/Conv (input normalisation), see
//      fold_input_affine.cc.
// A producer is only rewritten when the folded node is its output's sole
// user, so no other reader sees the changed values.
#include <algorithm>
#include <cmath>

#include "ops/op_util.h"
#include "ops/registry.h"
#include "passes/fold_input_affine.h"
#include "passes/passes.h"

namespace weec {

namespace {

// Reads of `v` by nodes (subgraph reads included) plus graph-output uses.
int use_count(const Graph& g, const Value* v) {
  int count = 0;
  for (auto& n : g.nodes())
    for (const Value* r : values_read_by(*n)) count += r == v;
  for (const Value* o : g.outputs) count += o == v;
  return count;
}

bool contains(const std::vector<Value*>& vs, const Value* v) {
  return std::find(vs.begin(), vs.end(), v) != vs.end();
}

struct Stats {
  int passthrough = 0, dropout_to_identity = 0, bn = 0, mul = 0, add = 0;
};

// ---- (a) Identity / Dropout ----

bool is_inference_dropout(const Graph& g, const Node& n) {
  if (n.outputs.size() > 1 && n.outputs[1] && use_count(g, n.outputs[1]) > 0) return false;
  const Value* training = n.input(2);
  if (!training) return true;
  if (!training->is_constant()) return false;
  const Tensor& t = *training->constant;
  return t.numel() == 0 || t.get_int(0) == 0;
}

bool remove_passthrough(Graph& g, Node* n, Stats& stats) {
  if (n->op == OpKind::Dropout && !is_inference_dropout(g, *n)) return false;
  Value* in = n->inputs[0];
  Value* out = n->outputs[0];
  if (!out) {
    g.remove_node(n);
    stats.passthrough++;
    return true;
  }
  if (contains(g.outputs, out)) {
    if (contains(g.inputs, in) || contains(g.outputs, in)) {
      if (n->op != OpKind::Dropout) return false;
      // Keep the copy (the output must keep its own name), as a plain Identity.
      for (size_t k = 1; k < n->outputs.size(); ++k)
        if (n->outputs[k]) n->outputs[k]->producer = nullptr;
      n->op = OpKind::Identity;
      n->inputs.resize(1);
      n->outputs.resize(1);
      n->attrs.clear();
      stats.dropout_to_identity++;
      return true;
    }
    // The input takes over the output's name.
    std::string name = out->name;
    g.replace_all_uses(out, in);
    g.remove_node(n);
    out->name = g.unique_name(name + ".removed");
    in->name = name;
  } else {
    g.replace_all_uses(out, in);
    g.remove_node(n);
  }
  stats.passthrough++;
  return true;
}

// ---- (b), (c): y = x * scale[c] + shift[c] folded into x's producer ----

struct ChannelAffine {
  std::vector<double> scale, shift;  // one per output channel
  bool has_shift = false;
};

const Tensor* constant_input(const Node& n, size_t i) {
  const Value* v = n.input(i);
  return v && v->is_constant() ? v->constant.get() : nullptr;
}

// Output channels of a Conv/Gemm/MatMul with a constant float weight, or 0.
int64_t output_channels(const Node& p) {
  const Tensor* w = constant_input(p, 1);
  if (!w || !is_float(w->dtype()) || p.outputs.size() != 1) return 0;
  switch (p.op) {
    case OpKind::Conv:
      return w->rank() >= 3 ? w->dim(0) : 0;
    case OpKind::Gemm: {
      const Attribute* tb = p.attr("transB");
      return w->rank() == 2 ? w->dim(tb && tb->i ? 0 : 1) : 0;
    }
    case OpKind::MatMul: {
      // Per-channel means per column only for a 2-D output (BN's channel axis is 1).
      const Shape& y = p.outputs[0]->type.shape;
      return w->rank() == 2 && y.rank_known && y.rank() == 2 ? w->dim(1) : 0;
    }
    default:
      return 0;
  }
}

// Replaces input `i` of `n` with constant data `t`: in place when `n` is the
// only reader of the old constant (its name is kept), else as a new constant.
void set_constant_input(Graph& g, Node* n, size_t i, Tensor t, const std::string& hint) {
  Value* old = n->input(i);
  if (old && old->is_constant() && use_count(g, old) == 1) {
    old->type = TensorType{t.dtype(), Shape::of(t.dims())};
    old->constant = std::make_shared<const Tensor>(std::move(t));
    return;
  }
  Value* v = g.add_constant(g.unique_name(old ? old->name + ".folded" : hint), std::move(t));
  if (n->inputs.size() <= i) n->inputs.resize(i + 1, nullptr);
  n->inputs[i] = v;
}

// Folds `consumer` (whose input is producer's sole-use output x) into the
// producer; consumer's output value (and name) becomes the producer's.
Status fold_affine(Graph& g, Node* producer, Node* consumer, const ChannelAffine& a) {
  const Tensor& w = *constant_input(*producer, 1);
  const int64_t channels = (int64_t)a.scale.size();
  const bool by_row =
      producer->op == OpKind::Conv ||
      (producer->op == OpKind::Gemm && producer->attr("transB") && producer->attr("transB")->i);
  Tensor w2(w.dtype(), w.dims());
  const int64_t inner = w.numel() / channels;
  for (int64_t i = 0; i < w.numel(); ++i) {
    int64_t c = by_row ? i / inner : i % channels;
    w2.set_double(i, w.get_double(i) * a.scale[c]);
  }
  const std::string base = producer->name.empty() ? producer->outputs[0]->name : producer->name;
  // set_constant_input frees the old weights (and so `w`) when nothing else reads them.
  const DType wt = w.dtype();
  set_constant_input(g, producer, 1, std::move(w2), base + ".weight");

  Value* x = producer->outputs[0];
  Value* y = consumer->outputs[0];
  if (producer->op == OpKind::MatMul) {
    // No bias input: the consumer becomes Add(x, shift).
    Tensor bias(wt, {channels});
    for (int64_t c = 0; c < channels; ++c) bias.set_double(c, a.has_shift ? a.shift[c] : 0.0);
    Value* b = g.add_constant(g.unique_name(base + ".bias"), std::move(bias));
    consumer->op = OpKind::Add;
    consumer->inputs = {x, b};
    consumer->attrs.clear();
    for (size_t k = 1; k < consumer->outputs.size(); ++k)
      if (consumer->outputs[k]) consumer->outputs[k]->producer = nullptr;
    consumer->outputs.resize(1);
    WEEC_TRY(infer_node(*producer));
    return infer_node(*consumer);
  }

  const Tensor* bias = constant_input(*producer, 2);
  if (producer->op == OpKind::Conv && (bias || a.has_shift)) {
    Tensor b2(wt, {channels});
    for (int64_t c = 0; c < channels; ++c)
      b2.set_double(c, (bias ? bias->get_double(c) * a.scale[c] : 0.0) + (a.has_shift ? a.shift[c] : 0.0));
    set_constant_input(g, producer, 2, std::move(b2), base + ".bias");
  }
  if (producer->op == OpKind::Gemm && (bias || a.has_shift)) {
    // C' = beta * C * scale + shift over broadcast(C, [N]); beta becomes 1.
    const Attribute* beta_attr = producer->attr("beta");
    const double beta = beta_attr ? beta_attr->f : 1.0;
    Dims cd = bias ? bias->dims() : Dims{1};
    auto rd = broadcast_dims({cd, {channels}});
    if (!rd) return rd.status();
    Tensor c2(wt, *rd);
    std::vector<Dims> strides = {broadcast_strides(cd, *rd), broadcast_strides({channels}, *rd)};
    for_each_broadcast(*rd, strides, [&](int64_t o, const int64_t* off) {
      double cv = bias ? beta * bias->get_double(off[0]) * a.scale[off[1]] : 0.0;
      c2.set_double(o, cv + (a.has_shift ? a.shift[off[1]] : 0.0));
    });
    set_constant_input(g, producer, 2, std::move(c2), base + ".bias");
    producer->attrs["beta"] = Attribute::of_float(1.f);
  }
  g.remove_node(consumer);  // clears y's producer
  producer->outputs[0] = y;
  y->producer = producer;
  y->output_index = 0;
  x->producer = nullptr;
  return infer_node(*producer);
}

// The producer of input `i` of `n` if `n` is its output's only user and it is
// a foldable Conv/Gemm(/MatMul when `allow_matmul`), else null.
Node* sole_producer(const Graph& g, const Node& n, size_t i, bool allow_matmul) {
  const Value* x = n.input(i);
  if (!x || !x->producer || x->owner != &g || use_count(g, x) != 1) return nullptr;
  Node* p = x->producer;
  if (p->op != OpKind::Conv && p->op != OpKind::Gemm && !(allow_matmul && p->op == OpKind::MatMul))
    return nullptr;
  if (p->op != OpKind::MatMul && p->has_input(2) && !constant_input(*p, 2)) return nullptr;
  if (output_channels(*p) <= 0 || x->type.dtype != constant_input(*p, 1)->dtype()) return nullptr;
  return p;
}

Expected<bool> fold_batch_norm(Graph& g, Node* bn) {
  const Attribute* training = bn->attr("training_mode");
  if (training && training->i) return false;
  for (size_t k = 1; k < bn->outputs.size(); ++k)
    if (bn->outputs[k]) return false;
  for (size_t i = 1; i < 5; ++i)
    if (!constant_input(*bn, i)) return false;
  Node* p = sole_producer(g, *bn, 0, /*allow_matmul=*/true);
  if (!p) return false;
  const int64_t channels = output_channels(*p);
  const Tensor &gamma = *constant_input(*bn, 1), &beta = *constant_input(*bn, 2),
               &mean = *constant_input(*bn, 3), &var = *constant_input(*bn, 4);
  for (const Tensor* t : {&gamma, &beta, &mean, &var})
    if (t->numel() != channels || !is_float(t->dtype())) return false;
  const Attribute* eps_attr = bn->attr("epsilon");
  const double eps = eps_attr ? eps_attr->f : 1e-5f;
  ChannelAffine a;
  a.has_shift = true;
  for (int64_t c = 0; c < channels; ++c) {
    double s = gamma.get_double(c) / std::sqrt(var.get_double(c) + eps);
    a.scale.push_back(s);
    a.shift.push_back(beta.get_double(c) - mean.get_double(c) * s);
  }
  WEEC_TRY(fold_affine(g, p, bn, a));
  return true;
}

// Per-channel values of constant `c` broadcast against a rank-`rank` output
// whose channel axis is 1, or empty if `c` varies along any other axis.
std::vector<double> per_channel(const Tensor& c, int64_t rank, int64_t channels) {
  if (c.rank() > rank) return {};
  for (int64_t j = 0; j < c.rank(); ++j) {
    int64_t axis = rank - c.rank() + j;
    if (c.dim(j) != 1 && !(axis == 1 && c.dim(j) == channels)) return {};
  }
  std::vector<double> v(channels);
  for (int64_t k = 0; k < channels; ++k) v[k] = c.get_double(c.numel() == 1 ? 0 : k);
  return v;
}

Expected<bool> fold_mul_add(Graph& g, Node* n) {
  for (size_t i = 0; i < 2; ++i) {
    const Tensor* c = constant_input(*n, 1 - i);
    if (!c || n->inputs.size() != 2) continue;
    Node* p = sole_producer(g, *n, i, /*allow_matmul=*/false);
    if (!p || c->dtype() != n->inputs[i]->type.dtype) continue;
    const Shape& xs = n->inputs[i]->type.shape;
    if (!xs.rank_known || xs.rank() < 2) continue;
    const int64_t channels = output_channels(*p);
    std::vector<double> v = per_channel(*c, xs.rank(), channels);
    if (v.empty()) continue;
    ChannelAffine a;
    if (n->op == OpKind::Mul) {
      a.scale = v;
    } else {
      a.scale.assign(channels, 1.0);
      a.shift = v;
      a.has_shift = true;
    }
    WEEC_TRY(fold_affine(g, p, n, a));
    return true;
  }
  return false;
}

class SimplifyInferencePass : public Pass {
 public:
  std::string_view name() const override { return "simplify-inference"; }
  Status run(Graph& g, PassContext& ctx) override {
    Stats stats;
    // Only the node being visited is ever removed, so the snapshot stays valid.
    std::vector<Node*> order;
    for (auto& n : g.nodes()) order.push_back(n.get());
    for (Node* n : order) {
      switch (n->op) {
        case OpKind::Identity:
        case OpKind::Dropout:
          remove_passthrough(g, n, stats);
          break;
        case OpKind::BatchNormalization: {
          WEEC_ASSIGN_OR_RETURN(bool folded, fold_batch_norm(g, n));
          stats.bn += folded;
          break;
        }
        case OpKind::Mul:
        case OpKind::Add: {
          const OpKind op = n->op;  // n is gone once folded
          WEEC_ASSIGN_OR_RETURN(bool folded, fold_mul_add(g, n));
          (op == OpKind::Mul ? stats.mul : stats.add) += folded;
          break;
        }
        default:
          break;
      }
    }
    // (d) input-side Mul/Add, to a fixed point: x * a + b in front of a Gemm
    // folds the Add first, then the Mul becomes the Gemm's input.
    for (bool changed = true; changed;) {
      changed = false;
      std::vector<Node*> muladds;
      for (auto& n : g.nodes())
        if (n->op == OpKind::Mul || n->op == OpKind::Add) muladds.push_back(n.get());
      for (Node* n : muladds) {
        const OpKind op = n->op;
        WEEC_ASSIGN_OR_RETURN(bool folded, fold_input_affine(g, n));
        if (folded) {
          (op == OpKind::Mul ? stats.mul : stats.add) += 1;
          changed = true;
          break;  // the snapshot may hold the removed node's neighbours: take a new one
        }
      }
    }
    g.remove_unused_values();
    ctx.remarks.push_back(fmt::format(
        "simplify-inference: removed {} Identity/Dropout ({} Dropout kept as Identity); folded into "
        "Conv/Gemm/MatMul: {} BatchNormalization, {} Mul, {} Add",
        stats.passthrough, stats.dropout_to_identity, stats.bn, stats.mul, stats.add));
    return Status::ok();
  }
};

}  // namespace

std::unique_ptr<Pass> make_simplify_inference_pass() { return std::make_unique<SimplifyInferencePass>(); }

}  // namespace weec
