// build_step_graph (train_graph.h): clone, bind the batch, constants to
// inputs, loss, append_gradients.
#include "train/train_graph.h"

#include <set>

#include "autodiff/autodiff.h"
#include "ops/registry.h"

namespace weec::train {

namespace {

bool made_by(const Value* v, OpKind a, OpKind b) {
  return v && v->producer && (v->producer->op == a || v->producer->op == b);
}

bool trainable_use(const Node& n, size_t i) {
  switch (n.op) {
    case OpKind::Gemm:
    case OpKind::Conv:
    case OpKind::ConvTranspose:
      return i >= 1;
    case OpKind::MatMul:
      return i == 1;
    case OpKind::BatchNormalization:
      return i == 1 || i == 2;
    case OpKind::Add:  // a bias after MatMul or Conv
      return made_by(n.inputs[1 - i], OpKind::MatMul, OpKind::Conv);
    default:
      return false;
  }
}

// Replaces constant `name` of g by a new graph input of its type.
Expected<Value*> constant_to_input(Graph& g, const std::string& name) {
  Value* c = g.find_value(name);
  if (!c || !c->constant) return Status::error(fmt::format("training: no constant %{}", name));
  Value* in = g.add_input(g.unique_name(name + "_in"), c->type);
  g.replace_all_uses(c, in);
  return in;
}

}  // namespace

std::vector<Param> trainable_params(const Graph& model, const std::vector<std::string>& extra) {
  std::vector<Param> out;
  std::set<const Value*> seen;
  auto trained = [&](const Node& n, size_t i) {
    if (n.op != OpKind::FakeQuantize) return trainable_use(n, i);
    if (i != 0) return false;
    for (auto& [user, j] : model.users(n.outputs[0]))
      if (trainable_use(*user, (size_t)j)) return true;
    return false;
  };
  for (auto& n : model.nodes())
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const Value* v = n->inputs[i];
      if (v && v->constant && is_float(v->type.dtype) && trained(*n, i) && seen.insert(v).second)
        out.push_back({v->name, *v->constant});
    }
  for (const std::string& name : extra)
    if (const Value* v = model.find_value(name); v && v->constant && seen.insert(v).second)
      out.push_back({v->name, *v->constant});
  return out;
}

std::vector<Param> named_constants(const Graph& model, const std::vector<std::string>& names) {
  std::vector<Param> out;
  for (const std::string& name : names)
    if (const Value* v = model.find_value(name); v && v->constant) out.push_back({v->name, *v->constant});
  return out;
}

std::vector<Param> bn_state(const Graph& model) {
  std::vector<Param> out;
  for (auto& n : model.nodes())
    if (n->op == OpKind::BatchNormalization)
      for (size_t i : {3, 4})
        if (const Value* v = n->input(i); v && v->constant) out.push_back({v->name, *v->constant});
  return out;
}

Expected<StepGraph> build_step_graph(const Graph& model, int64_t batch, Loss loss, const StepExtras& extras) {
  StepGraph s;
  s.g = model.clone();
  Graph& g = *s.g;
  if (g.inputs.size() != 1 || g.outputs.size() != 1)
    return Status::error(fmt::format("training: the model needs one input and one output (it has {} and {})",
                                     g.inputs.size(), g.outputs.size()));
  Shape& xs = g.inputs[0]->type.shape;
  if (!xs.rank_known || xs.rank() < 1) return Status::error("training: the model input needs a batch axis");
  xs.dims[0] = Dim::known(batch);
  const std::vector<Param> params = trainable_params(g, extras.params), state = bn_state(g);
  const std::vector<Param> fed = named_constants(g, extras.fed);
  if (params.empty()) return Status::error("training: the model has no trainable weights");
  std::vector<Value*> param_in;
  for (const Param& p : params) {
    WEEC_ASSIGN_OR_RETURN(Value * v, constant_to_input(g, p.name));
    param_in.push_back(v);
  }
  for (const Param& p : state) WEEC_TRY(constant_to_input(g, p.name).status());
  for (const Param& p : fed) WEEC_TRY(constant_to_input(g, p.name).status());
  // BatchNormalization on batch statistics, also returning the running ones.
  std::vector<Value*> running;
  for (auto& n : g.nodes())
    if (n->op == OpKind::BatchNormalization) {
      n->attrs["training_mode"] = Attribute::of_int(1);
      while (n->outputs.size() < 3) {
        Value* v = g.add_value(g.unique_name(n->outputs[0]->name + "_running"));
        v->producer = n.get();
        v->output_index = (int)n->outputs.size();
        n->outputs.push_back(v);
      }
      running.push_back(n->outputs[1]);
      running.push_back(n->outputs[2]);
    }
  WEEC_TRY(infer_graph(g));
  Value* y = g.outputs[0];
  Builder b(g, infer_node);
  Value* l = nullptr;
  if (loss == Loss::CrossEntropy) {
    if (y->type.shape.rank() != 2)
      return Status::error("training: cross entropy needs [batch, classes] logits from the model");
    Value* labels = b.input("labels", TensorType{DType::I64, Shape::of({batch})});
    l = b.op(OpKind::SoftmaxCrossEntropyLoss, {y, labels});
  } else {
    Value* target = b.input("target", y->type);
    Value* d = b.op(OpKind::Sub, {y, target});
    l = b.op(OpKind::ReduceMean, {b.op(OpKind::Mul, {d, d})}, {{"keepdims", Attribute::of_int(0)}});
  }
  WEEC_TRY(b.status());
  WEEC_ASSIGN_OR_RETURN(std::vector<Value*> grads, append_gradients(g, l, param_in));
  g.outputs = {l, y};
  g.outputs.insert(g.outputs.end(), grads.begin(), grads.end());
  g.outputs.insert(g.outputs.end(), running.begin(), running.end());
  g.remove_unused_values();
  s.params = params.size();
  s.state = state.size();
  s.fed = fed.size();
  return s;
}

}  // namespace weec::train
