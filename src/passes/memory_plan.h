// Static memory planning: every intermediate tensor gets an offset in one
// arena. Graph inputs and outputs live in caller buffers, constants in
// static const arrays; views (ops with OpSchema::view) share their source's
// storage. Sizes are rounded up to PlanOptions::alignment.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace weec {

struct PlanOptions {
  int64_t alignment = 16;  // bytes; every buffer starts on this boundary
  bool inplace = true;     // let elementwise outputs reuse a dying input's buffer
  int hill_climb_iterations = 2000;
  uint64_t seed = 1;
  // Extra temporary buffers (bytes) a node needs while it runs (C emitters' scratch).
  std::unordered_map<const Node*, int64_t> scratch_bytes;
};

// Where a value lives at run time.
struct Storage {
  enum class Kind { Arena, Input, Output, Constant, Scratch } kind = Kind::Arena;
  int64_t offset = 0;           // Arena: byte offset into the arena
  int index = 0;                // Input/Output: graph input/output index
  const Value* root = nullptr;  // the value whose buffer this is (itself unless a view)
};

struct MemoryPlan {
  int64_t arena_bytes = 0;
  // The largest total of simultaneously live (aligned) bytes: no plan can be smaller.
  int64_t lower_bound = 0;
  std::unordered_map<const Value*, Storage> storage;        // every top-level value
  std::unordered_map<const Node*, int64_t> scratch_offset;  // arena offset of each node's scratch
  // Nodes whose output 0 is a view of input 0 (nothing to emit).
  std::vector<const Node*> views;
  // Nodes whose output shares its buffer with one of its inputs (in-place).
  int inplace_count = 0;
  std::string summary() const;  // "arena 1024 B (lower bound 1024 B), 3 in-place, 2 views"
};

// Plans the top-level graph (shapes must be static). Error names the value
// whose size is unknown.
Expected<MemoryPlan> plan_memory(const Graph& graph, const PlanOptions& options = {});

}  // namespace weec
