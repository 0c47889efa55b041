#include "fuzz_util.h"

#include "ops/registry.h"
#include "ops/verify_ops.h"
#include "passes/memory_plan.h"

namespace weec::fuzz {

bool check_graph(Graph& g) {
  if (!verify_graph_with_ops(g)) return false;
  if (!infer_graph(g)) return false;
  // Graphs with symbolic dims must get an error naming the value, not a crash.
  (void)plan_memory(g);
  return true;
}

}  // namespace weec::fuzz
