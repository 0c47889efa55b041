// Emission of one top-level node (or fused group) as one static C function.
// Internal to the C backend.
#pragma once

#include <string>
#include <unordered_set>
#include <vector>

#include "ir/graph.h"
#include "ops/c_emit.h"

namespace weec::cgen {

struct ScratchBuffer {
  std::string name;
  DType dtype;
  int64_t count = 0;
  int64_t offset = 0;  // within the node's scratch region
};

struct EmittedFunction {
  const Node* node = nullptr;
  std::string name;
  // The function text; parameter k's qualifier is the placeholder "@Rk@",
  // replaced by "restrict " or "" once aliasing is known (after planning).
  std::string text;
  std::vector<const Value*> params;  // node inputs (omitted ones skipped) then outputs
  std::vector<bool> param_is_output;
  int64_t scratch_bytes = 0;  // one region; 0 = no scratch parameter
};

// Bytes of a value's buffer (static shape).
int64_t value_bytes(const Value& v);

// `packed_int4`: the constants stored as packed 4-bit weights (int4_weights
// in c_weights.h); their parameters are `const uint8_t*`.
Expected<EmittedFunction> emit_function(const Node& node, int index, CModuleNeeds& needs,
                                        const std::unordered_set<const Value*>& packed_int4);

}  // namespace weec::cgen
