// The op interface. Each op's file defines `const OpSchema& schema_Name()`
// (Name as in ops.def) returning a static schema: ONNX mapping, attributes
// with defaults, arity, fusion kind, and the hooks below. See
// docs/adding-an-op.md for the recipe.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace weec {

// How an op may fuse with neighbours, after TVM's OpPatternKind.
enum class FusionKind { Elementwise, Broadcast, Injective, Reduce, OutElementwiseFusable, Opaque };
std::string_view fusion_kind_name(FusionKind k);

// An attribute the op accepts. No default and `required` => import fails
// without it; no default and !required => optional, kernels test has().
struct AttrSpec {
  std::string name;
  Attribute::Kind kind;
  std::optional<Attribute> default_value;
  bool required = false;
};
AttrSpec attr_int(std::string name, int64_t def);
AttrSpec attr_float(std::string name, float def);
AttrSpec attr_string(std::string name, std::string def);
AttrSpec attr_ints(std::string name, std::vector<int64_t> def);
AttrSpec attr_floats(std::string name, std::vector<float> def);
AttrSpec attr_optional(std::string name, Attribute::Kind kind);  // no default, may be absent
AttrSpec attr_required(std::string name, Attribute::Kind kind);

struct OpSchema;

// Reads a node's attributes, falling back to the schema's defaults. Attributes
// are validated at import/parse time (validate_node), so getters don't fail;
// an absent optional attribute reads as 0 / "" / {}.
class AttrReader {
 public:
  AttrReader(const Node& node, const OpSchema& schema) : node_(node), schema_(schema) {}
  bool has(const std::string& name) const;  // present on the node (not via default)
  int64_t i(const std::string& name) const;
  float f(const std::string& name) const;
  const std::string& s(const std::string& name) const;
  const std::vector<int64_t>& ints(const std::string& name) const;
  const std::vector<float>& floats(const std::string& name) const;
  const std::vector<std::string>& strings(const std::string& name) const;
  const Tensor* tensor(const std::string& name) const;
  const Graph* graph(const std::string& name) const;

 private:
  const Attribute* find(const std::string& name) const;
  const Node& node_;
  const OpSchema& schema_;
};

// Shared by infer and kernel contexts: errors that name the node and op.
class NodeContext {
 public:
  NodeContext(const Node& node, const OpSchema& schema) : node(node), schema(schema), attrs(node, schema) {}
  template <typename... Args>
  Status error(fmt::format_string<Args...> f, Args&&... args) const {
    return Status::error(node.describe() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }
  // "input 1 (%w)" for messages.
  std::string input_desc(size_t i) const;

  const Node& node;
  const OpSchema& schema;
  AttrReader attrs;
};

// Static shape/type inference: fill `outputs` (one per node output) from
// input types, attributes and whatever inputs are constants.
class InferContext : public NodeContext {
 public:
  InferContext(const Node& node, const OpSchema& schema);
  size_t num_inputs() const { return node.inputs.size(); }
  bool has_input(size_t i) const { return node.has_input(i); }
  const TensorType& input_type(size_t i) const { return node.inputs[i]->type; }
  // Constant data of input i, or nullptr if it is not a known constant.
  const Tensor* input_constant(size_t i) const {
    return has_input(i) && node.inputs[i]->constant ? node.inputs[i]->constant.get() : nullptr;
  }
  std::vector<TensorType> outputs;
};

// Runs a subgraph (If/Loop/Scan bodies) with the given inputs; supplied by the
// interpreter so ops need not depend on it.
using SubgraphRunner =
    std::function<Expected<std::vector<Tensor>>(const Graph& body, const std::vector<const Tensor*>& inputs)>;

// Reference kernel: read `inputs` (nullptr = omitted optional input), set every
// entry of `outputs` (pre-sized to the node's output count).
class KernelContext : public NodeContext {
 public:
  KernelContext(const Node& node, const OpSchema& schema, std::vector<const Tensor*> inputs)
      : NodeContext(node, schema), inputs(std::move(inputs)), outputs(node.outputs.size()) {}
  size_t num_inputs() const { return inputs.size(); }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& input(size_t i) const { return *inputs[i]; }

  std::vector<const Tensor*> inputs;
  std::vector<Tensor> outputs;
  const SubgraphRunner* run_subgraph = nullptr;
};

// Import from ONNX: turns one ONNX node into IR nodes. The default (no hook)
// emits one node of the schema's op with the ONNX inputs, outputs and
// attributes unchanged. Hooks canonicalise legacy opset forms (attributes that
// later became inputs, changed semantics) so kernels see one form only.
class ImportContext {
 public:
  ImportContext(Graph& graph, int opset, std::string node_name, std::vector<Value*> inputs,
                std::vector<Value*> outputs, AttrMap attrs)
      : graph(graph),
        opset(opset),
        node_name(std::move(node_name)),
        inputs(std::move(inputs)),
        outputs(std::move(outputs)),
        attrs(std::move(attrs)) {}
  Node* emit(OpKind op, std::vector<Value*> ins, std::vector<Value*> outs, AttrMap attrs);
  // A new constant (e.g. an attribute that became an input in later opsets).
  Value* constant(const std::string& hint, Tensor data);
  // A new intermediate value for multi-node expansions.
  Value* temp(const std::string& hint);
  template <typename... Args>
  Status error(fmt::format_string<Args...> f, Args&&... args) const {
    return Status::error(fmt::format("node '{}': ", node_name) + fmt::format(f, std::forward<Args>(args)...));
  }

  Graph& graph;
  int opset;  // the model's opset for this op's domain
  std::string node_name;
  std::vector<Value*> inputs;  // nullptr = omitted optional input
  std::vector<Value*> outputs;
  AttrMap attrs;
};

using InferFn = Status (*)(InferContext&);
using KernelFn = Status (*)(KernelContext&);
using MacsFn = int64_t (*)(const Node&);  // multiply-accumulates, static shapes
using ImportFn = Status (*)(ImportContext&);
// C emission (ops/c_emit.h): scalar form for elementwise ops, loop nests otherwise.
class CScalarContext;
class CEmitContext;
using EmitScalarFn = Expected<std::string> (*)(CScalarContext&);
using EmitCFn = Status (*)(CEmitContext&);
// Reverse-mode gradient (ops/grad.h): emits the nodes of the input gradients.
class GradContext;
using GradFn = Status (*)(GradContext&);

struct OpSchema {
  OpKind kind;
  std::string_view onnx_type;  // "" for weec-internal ops
  std::string_view domain = "";
  int since_opset = 1;  // ONNX opset range this file handles (inclusive)
  int until_opset = 17;
  int min_inputs = 1, max_inputs = 1;  // max_inputs -1: variadic
  int min_outputs = 1, max_outputs = 1;
  std::vector<AttrSpec> attrs;
  FusionKind fusion = FusionKind::Opaque;
  InferFn infer = nullptr;
  KernelFn kernel = nullptr;
  MacsFn macs = nullptr;
  ImportFn import = nullptr;
  // C backend hooks; neither set = not supported by the C backend.
  EmitScalarFn emit_scalar = nullptr;
  EmitCFn emit_c = nullptr;
  // Gradient hook (src/autodiff); unset = not differentiable by weec.
  GradFn grad = nullptr;
  // Output 0 holds exactly input 0's bytes (Reshape, Flatten, Squeeze, ...):
  // the memory planner may make it a view of input 0 and emit nothing.
  bool view = false;
  std::string_view doc;  // one line for `weec ops`
};

// Declarations of every schema_Name(), from the op list.
#define WEEC_OP(name) const OpSchema& schema_##name();
#include "ops/ops.def"
#undef WEEC_OP

}  // namespace weec
