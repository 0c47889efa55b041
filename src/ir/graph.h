// The graph IR: Values (SSA, typed), Nodes (an op, typed attributes, inputs,
// outputs, optional subgraphs) and Graphs (inputs, outputs, constants, nodes in
// execution order). A Graph owns its Values and Nodes; pointers are stable.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/op_kind.h"
#include "ir/tensor.h"
#include "ir/types.h"

namespace weec {

class Graph;
class Node;

// A typed attribute value. Exactly the field matching `kind` is meaningful.
struct Attribute {
  enum class Kind { Int, Float, String, Tensor, Graph, Ints, Floats, Strings, Tensors, Graphs };
  Kind kind = Kind::Int;
  int64_t i = 0;
  float f = 0.f;
  std::string s;
  Tensor t;
  std::shared_ptr<Graph> g;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;

  static Attribute of_int(int64_t v);
  static Attribute of_float(float v);
  static Attribute of_string(std::string v);
  static Attribute of_tensor(Tensor v);
  static Attribute of_graph(std::shared_ptr<Graph> v);
  static Attribute of_ints(std::vector<int64_t> v);
  static Attribute of_floats(std::vector<float> v);
  static Attribute of_strings(std::vector<std::string> v);
};
std::string_view attr_kind_name(Attribute::Kind k);
using AttrMap = std::map<std::string, Attribute>;

class Value {
 public:
  std::string name;
  TensorType type;
  Node* producer = nullptr;  // null for graph inputs and constants
  int output_index = 0;      // which output of `producer`
  // Set for constants (ONNX initializers and folded values).
  std::shared_ptr<const Tensor> constant;
  Graph* owner = nullptr;

  bool is_constant() const { return constant != nullptr; }
};

class Node {
 public:
  OpKind op;
  std::string name;            // may be empty
  std::vector<Value*> inputs;  // nullptr marks an omitted optional input
  std::vector<Value*> outputs;
  AttrMap attrs;
  Graph* owner = nullptr;

  Value* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  bool has_input(size_t i) const { return input(i) != nullptr; }
  const Attribute* attr(const std::string& key) const {
    auto it = attrs.find(key);
    return it == attrs.end() ? nullptr : &it->second;
  }
  // "node 'conv1' (Conv)" or "node #3 (Conv)": the prefix of every error about it.
  std::string describe() const;
};

// Values a node reads: its inputs plus the outer-scope values read by its
// subgraphs (at any depth). A value read twice appears twice.
std::vector<const Value*> values_read_by(const Node& node);

class Graph {
 public:
  std::string name = "main";
  std::vector<Value*> inputs;
  std::vector<Value*> outputs;
  Graph* parent = nullptr;  // enclosing graph, for subgraphs of If/Loop/Scan

  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Nodes in execution order (a topological order; the verifier checks it).
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  // Every value: inputs, constants, node outputs, in creation order.
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }
  std::vector<Value*> constants() const;

  Value* add_value(std::string name, TensorType type = {});
  Value* add_constant(std::string name, Tensor data);
  Value* add_input(std::string name, TensorType type);
  // Appends a node; its outputs must be values of this graph without producer.
  Node* add_node(OpKind op, std::vector<Value*> inputs, std::vector<Value*> outputs, AttrMap attrs = {},
                 std::string name = {});
  // Removes a node (its output values stay, producer cleared). O(n).
  void remove_node(Node* node);
  // Replaces every use of `from` (node inputs and graph outputs) with `to`.
  void replace_all_uses(Value* from, Value* to);
  // Re-orders nodes topologically (stable); error if there is a cycle.
  Status topological_sort();
  // Drops values that are neither used, produced, inputs nor outputs.
  void remove_unused_values();

  Value* find_value(const std::string& name) const;  // this graph only
  // A name not yet used by any value of this graph: prefix, prefix_1, ...
  std::string unique_name(const std::string& prefix) const;
  // Users of a value (node, input index) in this graph (not subgraphs).
  std::vector<std::pair<Node*, int>> users(const Value* v) const;
  size_t index_of(const Node* node) const;

  // Deep copy (subgraph attributes included); outer-scope references of
  // subgraphs are remapped to the copy's values.
  std::unique_ptr<Graph> clone() const;

 private:
  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

// Convenience for building graphs in code and tests. Output types are filled
// by the infer hook if one is set (ops::type_inferer()), else left unknown.
class Builder {
 public:
  using InferHook = Status (*)(Node&);
  explicit Builder(Graph& g, InferHook infer = nullptr) : g_(g), infer_(infer) {}

  Value* input(const std::string& name, TensorType type) { return g_.add_input(name, type); }
  Value* constant(const std::string& name, Tensor data) { return g_.add_constant(name, std::move(data)); }
  // One-output op. Inference errors are kept and reported by status().
  Value* op(OpKind op, std::vector<Value*> inputs, AttrMap attrs = {}, const std::string& name = {});
  std::vector<Value*> op_n(OpKind op, std::vector<Value*> inputs, int num_outputs, AttrMap attrs = {},
                           const std::string& name = {});
  void output(Value* v) { g_.outputs.push_back(v); }
  Status status() const { return status_; }
  Graph& graph() { return g_; }

 private:
  Graph& g_;
  InferHook infer_;
  Status status_;
};

}  // namespace weec
