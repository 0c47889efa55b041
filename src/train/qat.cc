// make_qat_model and qat_to_qdq (qat.h).
#include "train/qat.h"

#include <cmath>
#include <map>
#include <set>

#include "ops/op_util.h"
#include "ops/registry.h"
#include "passes/pass.h"
#include "passes/quantize_util.h"

namespace weec::train {

namespace {

// The pipeline `weec compile` runs before the quantize pass (pass.cc's O1
// without plan-memory).
const std::vector<std::string> kSimplify = {"infer-shapes",       "fold-constants", "eliminate-dead-code",
                                            "simplify-inference", "fold-constants", "eliminate-dead-code"};

// v -> FakeQuantize(v, scale, zero_point): every other reader of v (and the
// graph outputs) reads the fake-quantised value instead.
Value* insert_fake_quantize(Graph& g, Value* v, Tensor scale, Tensor zero_point, int64_t qmin, int64_t qmax,
                            double grad_scale) {
  Value* s = g.add_constant(g.unique_name(v->name + "_qat_scale"), std::move(scale));
  Value* z = g.add_constant(g.unique_name(v->name + "_qat_zero_point"), std::move(zero_point));
  Value* y = g.add_value(g.unique_name(v->name + "_fq"), v->type);
  g.replace_all_uses(v, y);  // before the FakeQuantize that reads v exists
  g.add_node(OpKind::FakeQuantize, {v, s, z}, {y},
             {{"qmin", Attribute::of_int(qmin)},
              {"qmax", Attribute::of_int(qmax)},
              {"grad_scale", Attribute::of_float((float)grad_scale)}});
  return y;
}

// Whether activation v just repeats its producer's input's parameters (a
// MaxPool or reshape of a quantised value): the quantize pass shares them,
// so QAT must not give it a step size of its own.
bool shares_input_params(const Value* v, const QuantChoices& c) {
  const Node* p = v->producer;
  if (!p || !p->inputs[0]) return false;
  auto in = c.activations.find(p->inputs[0]->name), out = c.activations.find(v->name);
  return in != c.activations.end() && out != c.activations.end() && in->second.scale == out->second.scale &&
         in->second.zero_point == out->second.zero_point;
}

}  // namespace

Expected<QatModel> make_qat_model(const Graph& model, const QatOptions& o) {
  if (o.weight_bits != 8 && o.weight_bits != 4) return Status::error("QAT: weights are 8 or 4 bits");
  if (o.calibration.empty()) return Status::error("QAT: no calibration samples for the starting ranges");
  if (model.inputs.size() != 1) return Status::error("QAT: the model needs one input");
  auto g = model.clone();
  Shape& in = g->inputs[0]->type.shape;
  if (!in.rank_known || in.rank() < 1) return Status::error("QAT: the model input needs a batch axis");
  const Dim batch = in.dims[0];
  in.dims[0] = Dim::known(1);
  PassContext ctx;
  WEEC_TRY(PassManager(kSimplify).run(*g, ctx));

  auto ptq = g->clone();
  QuantChoices chosen;
  ctx.quantize.calibration = o.calibration;
  ctx.quantize.weight_bits = o.weight_bits;
  ctx.quantize.chosen = &chosen;
  WEEC_TRY(PassManager(std::vector<std::string>{"quantize"}).run(*ptq, ctx));

  QatModel q;
  g->inputs[0]->type.shape.dims[0] = batch.is_known() && batch.value != 1 ? batch : Dim::named("N");
  const int64_t wmax = (1 << (o.weight_bits - 1)) - 1;
  std::vector<std::string> act_scales, weight_scales, weight_names;
  for (auto& [name, p] : chosen.activations) {
    Value* v = g->find_value(name);
    if (!v || shares_input_params(v, chosen)) continue;
    // LSQ's gradient scale 1 / sqrt(elements per step size * qmax), per sample.
    const Shape& sh = v->type.shape;
    int64_t per_sample = 1;
    for (int64_t a = 1; a < sh.rank(); ++a) per_sample *= sh.dims[a].is_known() ? sh.dims[a].value : 1;
    Value* y = insert_fake_quantize(*g, v, Tensor::scalar<float>((float)p.scale),
                                    Tensor::scalar<float>((float)p.zero_point), -128, 127,
                                    1.0 / std::sqrt((double)per_sample * 127));
    act_scales.push_back(y->producer->inputs[1]->name);
    ++q.activations;
  }
  for (auto& [name, scale] : chosen.weight_scales) {
    Value* w = g->find_value(name);
    if (!w || !w->constant) continue;
    const double per_scale = (double)w->constant->numel() / (double)scale.numel();
    Value* y = insert_fake_quantize(*g, w, scale, Tensor(DType::F32, scale.dims()), -wmax, wmax,
                                    1.0 / std::sqrt(per_scale * (double)wmax));
    weight_scales.push_back(y->producer->inputs[1]->name);
    weight_names.push_back(name);
    ++q.weights;
  }
  WEEC_TRY(g->topological_sort());
  WEEC_TRY(infer_graph(*g));
  if (o.lsq) {
    q.extras.params = act_scales;
    q.extras.params.insert(q.extras.params.end(), weight_scales.begin(), weight_scales.end());
    // A step size must stay positive: a large step could push one through 0.
    const std::set<std::string> steps(q.extras.params.begin(), q.extras.params.end());
    q.after_step = [steps](std::vector<Param>& params, std::vector<Param>&) {
      for (Param& p : params)
        if (steps.count(p.name))
          for (int64_t i = 0; i < p.data.numel(); ++i)
            p.data.set_double(i, std::max(p.data.get_double(i), 1e-8));
    };
  } else {
    q.extras.fed = weight_scales;
    q.after_step = [weight_names, wmax](std::vector<Param>& params, std::vector<Param>& fed) {
      std::map<std::string, const Tensor*> by_name;
      for (const Param& p : params) by_name[p.name] = &p.data;
      for (size_t k = 0; k < fed.size() && k < weight_names.size(); ++k)
        if (auto it = by_name.find(weight_names[k]); it != by_name.end())
          symmetric_weight_scales(*it->second, fed[k].data, wmax);
    };
  }
  q.graph = std::move(g);
  return q;
}

Expected<std::unique_ptr<Graph>> qat_to_qdq(const Graph& qat, int weight_bits) {
  auto g = qat.clone();
  auto given = std::make_shared<QuantChoices>();
  std::vector<Node*> fqs;
  for (auto& n : g->nodes())
    if (n->op == OpKind::FakeQuantize) fqs.push_back(n.get());
  for (Node* n : fqs) {
    Value *x = n->inputs[0], *s = n->input(1), *z = n->input(2);
    if (!s || !s->constant || !z || !z->constant)
      return Status::error(fmt::format("{}: scale and zero point must be constants", n->describe()));
    if (x->constant) {
      given->weight_scales[x->name] = convert(*s->constant, DType::F32);
    } else {
      if (s->constant->numel() != 1)
        return Status::error(fmt::format("{}: per-tensor scale expected", n->describe()));
      given->activations[x->name] = {s->constant->get_double(0), std::llround(z->constant->get_double(0))};
    }
    g->replace_all_uses(n->outputs[0], x);  // graph outputs too
    g->remove_node(n);
  }
  g->remove_unused_values();
  g->inputs[0]->type.shape.dims[0] = Dim::known(1);
  PassContext ctx;
  ctx.quantize.given = given;
  ctx.quantize.weight_bits = weight_bits;
  WEEC_TRY(PassManager(std::vector<std::string>{"infer-shapes", "quantize"}).run(*g, ctx));
  return g;
}

}  // namespace weec::train
