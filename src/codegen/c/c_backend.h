// The C backend: turns a graph with static shapes into dependency-free C99
// (NAME.h + NAME.c): weights as aligned static const arrays, one static
// function per node (one loop nest per fused group), and a run function
// whose intermediates live at planned offsets of one arena.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "passes/memory_plan.h"

namespace weec {

struct CCodegenOptions {
  std::string name = "model";  // C identifier prefix: NAME_run, NAME_ARENA_BYTES
  PlanOptions plan;
};

struct CCodegenResult {
  std::string name;
  std::string header;  // NAME.h
  std::string source;  // NAME.c
  MemoryPlan plan;
  int64_t weight_bytes = 0;
  int64_t macs = 0;
  std::set<std::string> libm;  // math functions the code calls (link -lm if non-empty)
  // One line per model input/output: "image f32[1,1,28,28]".
  std::vector<std::string> input_desc, output_desc;
};

// Why the backend cannot compile `graph` (first unsupported node, dtype or
// unknown shape), or ok. Checked before any code is generated.
Status check_c_support(const Graph& graph);

Expected<CCodegenResult> generate_c(const Graph& graph, const CCodegenOptions& options = {});

// Writes DIR/NAME.h and DIR/NAME.c; on failure nothing is left behind.
Status write_c_files(const CCodegenResult& result, const std::string& dir);

// A valid C identifier from arbitrary text ("conv1/out:0" -> "conv1_out_0").
std::string c_identifier(const std::string& text);

}  // namespace weec
