// Constants of the generated C: one aligned static const array per constant
// value the code reads, with exact literals; 4-bit weights packed two per
// byte (ops/q4_weights.h).
#pragma once

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/graph.h"

namespace weec::cgen {

// The constants of g stored as packed 4-bit weights: int8 with every value
// in [-8, 7], read only as the weights of ops whose C reads the packed form
// (qop::reads_int4_weights, also inside fused groups), and no graph output.
// Automatic by value range: see ops/q4_weights.h for why int8 models are
// unaffected.
std::unordered_set<const Value*> int4_weights(const Graph& g);

class WeightTable {
 public:
  // `packed_int4`: constants to store packed (int4_weights).
  explicit WeightTable(std::unordered_set<const Value*> packed_int4 = {}) : packed_(std::move(packed_int4)) {}
  void add(const Value* v);  // idempotent
  const std::string& name_of(const Value* v) const { return names_.at(v); }
  bool packed(const Value* v) const { return packed_.count(v) > 0; }
  int64_t bytes() const;            // as stored: packed weights count half a byte each
  std::string definitions() const;  // C text of all arrays

 private:
  std::unordered_set<const Value*> packed_;
  std::vector<const Value*> order_;
  std::unordered_map<const Value*, std::string> names_;
};

}  // namespace weec::cgen
