// Constants of the generated C: one aligned static const array per constant
// value the code reads, with exact literals.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"

namespace weec::cgen {

class WeightTable {
 public:
  void add(const Value* v);  // idempotent
  const std::string& name_of(const Value* v) const { return names_.at(v); }
  int64_t bytes() const;
  std::string definitions() const;  // C text of all arrays

 private:
  std::vector<const Value*> order_;
  std::unordered_map<const Value*, std::string> names_;
};

}  // namespace weec::cgen
