#include "interp/interpreter.h"

#include "ops/registry.h"

namespace weec {

Status check_input(const Value& input, const Tensor& t, std::unordered_map<std::string, int64_t>& bindings) {
  const TensorType& ty = input.type;
  if (t.dtype() != ty.dtype)
    return error("input '{}' has dtype {}, expected {}", input.name, dtype_name(t.dtype()),
                 dtype_name(ty.dtype));
  if (!ty.shape.rank_known) return Status::ok();
  if (t.rank() != ty.shape.rank())
    return error("input '{}' has shape {}, expected {}", input.name, dims_str(t.dims()), type_str(ty));
  for (int64_t i = 0; i < t.rank(); ++i) {
    const Dim& d = ty.shape.dims[i];
    if (d.is_known() && d.value != t.dim(i))
      return error("input '{}' has shape {}, expected {}", input.name, dims_str(t.dims()), type_str(ty));
    if (!d.is_known() && !d.symbol.empty()) {
      auto [it, inserted] = bindings.emplace(d.symbol, t.dim(i));
      if (!inserted && it->second != t.dim(i))
        return error("input '{}' dim {} binds '{}' to {}, but it is already {}", input.name, i, d.symbol,
                     t.dim(i), it->second);
    }
  }
  return Status::ok();
}

static Status check_output(const Node& node, size_t k, const Tensor& t) {
  const Value* v = node.outputs[k];
  const TensorType& ty = v->type;
  bool ok = t.dtype() == ty.dtype;
  if (ok && ty.shape.rank_known) {
    ok = t.rank() == ty.shape.rank();
    for (int64_t i = 0; ok && i < t.rank(); ++i)
      if (ty.shape.dims[i].is_known() && ty.shape.dims[i].value != t.dim(i)) ok = false;
  }
  if (ok) return Status::ok();
  return error("{}: output {} (%{}) computed as {}{} but inferred as {}", node.describe(), k, v->name,
               dtype_name(t.dtype()), dims_str(t.dims()), type_str(ty));
}

// Outputs whose shape depends on data (ConstantOfShape, Expand, Tile or
// Reshape of a computed shape) are sized only now: infer them from the actual
// inputs and refuse absurd sizes before the kernel allocates. When inference
// cannot tell, the kernel decides as before.
static Status check_dynamic_outputs(const Node& node, const OpSchema& schema,
                                    const std::vector<const Tensor*>& ins) {
  bool dynamic = false;
  for (const Value* o : node.outputs) dynamic = dynamic || (o && !o->type.shape.is_static());
  if (!dynamic || !schema.infer) return Status::ok();
  Graph scratch;
  std::vector<Value*> vins, vouts;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!ins[i]) {
      vins.push_back(nullptr);
      continue;
    }
    Value* v =
        scratch.add_value(fmt::format("in{}", i), TensorType{ins[i]->dtype(), Shape::of(ins[i]->dims())});
    v->constant = std::shared_ptr<const Tensor>(std::shared_ptr<const Tensor>(), ins[i]);  // not owned
    vins.push_back(v);
  }
  for (size_t k = 0; k < node.outputs.size(); ++k)
    vouts.push_back(node.outputs[k] ? scratch.add_value(fmt::format("out{}", k)) : nullptr);
  Node* copy = scratch.add_node(node.op, vins, vouts, node.attrs, node.name);
  InferContext ctx(*copy, schema);
  if (!schema.infer(ctx)) return Status::ok();
  for (size_t k = 0; k < ctx.outputs.size() && k < node.outputs.size(); ++k) {
    const Shape& s = ctx.outputs[k].shape;
    if (!node.outputs[k] || !s.rank_known) continue;
    Dims known;
    for (const Dim& d : s.dims)
      if (d.is_known()) known.push_back(d.value);
    Status st = check_tensor_size(ctx.outputs[k].dtype, known);
    if (!st) return error("{}: output {} (%{}): {}", node.describe(), k, node.outputs[k]->name, st.message());
  }
  return Status::ok();
}

Expected<std::vector<Tensor>> run_graph(const Graph& graph, const std::vector<const Tensor*>& inputs,
                                        const InterpOptions& options, const ValueEnv* outer) {
  if (inputs.size() != graph.inputs.size())
    return error("graph '{}' takes {} inputs, got {}", graph.name, graph.inputs.size(), inputs.size());
  std::unordered_map<std::string, int64_t> bindings;
  ValueEnv env;
  if (outer) env = *outer;  // outer scope first; local names shadow it
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) return error("graph input '{}' was not given", graph.inputs[i]->name);
    WEEC_TRY(check_input(*graph.inputs[i], *inputs[i], bindings));
    env[graph.inputs[i]] = inputs[i];
    if (options.observe && !outer) options.observe(*graph.inputs[i], *inputs[i]);
  }
  for (Value* c : graph.constants()) env[c] = c->constant.get();

  // Free each intermediate after its last use (a read by a node or by any of
  // its subgraphs) to keep peak memory small.
  std::unordered_map<const Value*, size_t> last_use;
  const auto& nodes = graph.nodes();
  std::vector<std::vector<const Value*>> reads(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    reads[i] = values_read_by(*nodes[i]);
    for (const Value* v : reads[i]) last_use[v] = i;
  }
  for (Value* out : graph.outputs) last_use[out] = nodes.size();

  std::unordered_map<const Value*, Tensor> owned;
  SubgraphRunner runner = [&](const Graph& body, const std::vector<const Tensor*>& ins) {
    return run_graph(body, ins, options, &env);
  };

  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = *nodes[i];
    const OpSchema& schema = op_schema(node.op);
    if (!schema.kernel) return error("{}: the interpreter has no kernel for this op", node.describe());
    std::vector<const Tensor*> ins;
    for (Value* in : node.inputs) {
      if (!in) {
        ins.push_back(nullptr);
        continue;
      }
      auto it = env.find(in);
      if (it == env.end()) return error("{}: input %{} has no value", node.describe(), in->name);
      ins.push_back(it->second);
    }
    WEEC_TRY(check_dynamic_outputs(node, schema, ins));
    KernelContext ctx(node, schema, std::move(ins));
    ctx.run_subgraph = &runner;
    WEEC_TRY(schema.kernel(ctx));
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      Value* out = node.outputs[k];
      if (!out) continue;
      if (options.check_types) WEEC_TRY(check_output(node, k, ctx.outputs[k]));
      owned[out] = std::move(ctx.outputs[k]);
      env[out] = &owned[out];
      if (options.perturb && !outer) options.perturb(*out, owned[out]);
      if (options.observe && !outer) options.observe(*out, owned[out]);
    }
    for (const Value* in : reads[i]) {
      if (in->owner != &graph || !owned.count(in)) continue;
      if (last_use[in] == i) {
        env.erase(in);
        owned.erase(in);
      }
    }
  }

  std::vector<Tensor> results;
  for (Value* out : graph.outputs) {
    auto it = env.find(out);
    if (it == env.end()) return error("graph output '{}' was never computed", out->name);
    results.push_back(*it->second);
  }
  return results;
}

}  // namespace weec
