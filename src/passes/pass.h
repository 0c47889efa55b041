// Passes and the pass manager. A pass is a named unit that transforms (or
// analyses) a Graph in place; pipelines are lists of pass names (data), so
// `-O0/-O1/-O2` and `--passes=a,b,c` are the same mechanism.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "passes/memory_plan.h"
#include "passes/quantize_options.h"

namespace weec {

// Properties a pass may require of the graph before it runs; the pass manager
// checks them and names the pass and the offending value if they fail.
enum class Requirement {
  StaticShapes,  // every value's shape fully known (run infer-shapes with bound inputs first)
};

// State shared by the passes of one pipeline run: options in, analyses out.
struct PassContext {
  // Input shape bindings for infer-shapes ("image" -> {1,1,28,28}).
  std::map<std::string, Dims> input_shapes;
  // Dumps: text IR after the named passes (or all) to `dump_stream`, or as
  // files DIR/NN-PASS.wir when `dump_dir` is set.
  std::vector<std::string> print_after;
  bool print_after_all = false;
  std::string dump_dir;
  std::ostream* dump_stream = nullptr;  // default std::cerr
  // Run the verifier (and op checks) after every pass: on in tests and debug builds.
  bool verify_each = true;
  // Collect per-pass wall time (reported by PassManager::timing_report).
  bool time_passes = false;
  // Memory plan options and the plan made by plan-memory.
  PlanOptions plan_options;
  std::optional<MemoryPlan> memory_plan;
  // Post-training quantisation: calibration data and options ("quantize",
  // "lower-qdq").
  QuantizeOptions quantize;
  // Free-form per-pass statistics ("fold-constants: folded 12 nodes"), in order.
  std::vector<std::string> remarks;
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string_view name() const = 0;
  virtual std::vector<Requirement> requires_() const { return {}; }
  virtual Status run(Graph& graph, PassContext& ctx) = 0;
};

// The registry of passes by name.
std::unique_ptr<Pass> make_pass(std::string_view name);
std::vector<std::string> pass_names();
// Named pipelines: "O0", "O1", "O2".
Expected<std::vector<std::string>> pipeline(std::string_view level);
// The same pipeline with post-training quantisation (quantize, lower-qdq,
// eliminate-dead-code) before fusion, or before memory planning.
std::vector<std::string> with_quantization(std::vector<std::string> passes);
// For a model already in QDQ form (from `weec train --qat` or `weec
// quantize`): lower-qdq and eliminate-dead-code right after infer-shapes,
// before fold-constants would turn the int8 weights behind DequantizeLinear
// back into float constants. The model's own scales are used.
std::vector<std::string> with_prequantized(std::vector<std::string> passes);
// Whether g holds QuantizeLinear or DequantizeLinear nodes.
bool is_qdq_model(const Graph& g);

class PassManager {
 public:
  // Passes by registry name; unknown names are reported by run() before any pass runs.
  explicit PassManager(std::vector<std::string> passes) : names_(std::move(passes)) {}
  // Pass objects built by the caller (tests, or passes outside the registry).
  explicit PassManager(std::vector<std::unique_ptr<Pass>> passes);
  // Runs the passes in order; an error names the pass that failed.
  Status run(Graph& graph, PassContext& ctx);
  // "pass  ms  %" table, when ctx.time_passes was set.
  std::string timing_report() const;

 private:
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Pass>> passes_;
  std::vector<std::pair<std::string, double>> timings_ms_;
};

}  // namespace weec
