// The patterns of lower-qdq (see lower_qdq.cc): each matches one float op
// between DequantizeLinear inputs and a QuantizeLinear output and replaces
// the group with integer ops that write the quantiser's output value.
#pragma once

#include <unordered_set>

#include "passes/quantize_util.h"

namespace weec {

class QdqLowering {
 public:
  explicit QdqLowering(Graph& g) : g_(g) {}
  // Lowers n if it is the anchor of a pattern; skips nodes already removed.
  Status try_lower(Node* n);
  int lowered() const { return lowered_; }
  int left_float() const { return left_float_; }

 private:
  // The matched edges of one group.
  struct Match {
    Node* op = nullptr;
    Node* relu = nullptr;  // fused activation, or null
    Node* quantize = nullptr;
    QdqParams y;
  };
  bool match_output(Node* n, bool allow_relu, Match& m);
  // The integer value behind a per-tensor DequantizeLinear, with its params.
  Value* quantised_input(Value* v, QdqParams& p);

  Status lower_weighted(Node* n);
  Status lower_binary(Node* n);
  Status lower_preserving(Node* n);
  Status lower_average_pool(Node* n);
  Status lower_lookup(Node* n);
  // Removes the matched float nodes and adds `op` writing the quantiser's output.
  void replace(const Match& m, OpKind op, std::vector<Value*> inputs, AttrMap attrs);
  Value* constant(const std::string& hint, Tensor t);

  Graph& g_;
  std::unordered_set<const Node*> removed_;
  int lowered_ = 0, left_float_ = 0;
};

}  // namespace weec
