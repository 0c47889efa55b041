// The exporter's op-specific part: turning a node from the IR's canonical
// form into the form ONNX opset kExportOpset accepts. Import hooks map every
// legacy form to one canonical form, which is opset 17's for most ops; these
// are the exceptions:
// - Reduce* other than ReduceSum: axes is an input in the IR (opset 18's
//   form) but an attribute in opset 17; a constant axes input goes back to
//   the attribute, anything else is refused;
// - QuantizeLinear/DequantizeLinear: the importer reshapes a per-axis scale
//   and zero point to [C,1,...] so they broadcast numpy-style; ONNX wants
//   them 1-D with an `axis` attribute (constants are reshaped, other values
//   get a Reshape node);
// - Resize with weec's internal nearest_mode "simple" (ONNX Runtime's
//   opset-10 rule): with constant scales it is "floor" when no axis shrinks
//   and "ceil" when none grows, which is what it computes there;
// - Split without sizes on a dim that does not divide evenly (opset 18's
//   rule): the sizes become an explicit constant input;
// - attributes whose weec default differs from ONNX's are written out.
// Attributes ONNX's schema does not know at the export opset are refused.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace weec {

// An ONNX node being written, by ONNX value names.
struct OnnxNodeDraft {
  std::string op_type, domain;
  std::vector<std::string> inputs;         // "" = omitted
  std::vector<const Value*> input_values;  // the IR values behind `inputs` (nullptr if omitted)
  AttrMap attrs;
};

// What a rewrite may add to the graph being written, before the node itself.
class OnnxGraphSink {
 public:
  virtual ~OnnxGraphSink() = default;
  // A new initializer; returns its (unique) name.
  virtual std::string add_constant(const std::string& hint, const Tensor& t) = 0;
  // A new one-output, attribute-free node of the default domain; returns its
  // output's name.
  virtual std::string add_node(const std::string& op_type, const std::vector<std::string>& inputs,
                               const std::string& hint) = 0;
};

// Rewrites `draft` (node `n` in canonical form) for ai.onnx opset `opset`.
// Errors name the node and say what ONNX cannot express.
Status to_onnx_form(const Node& n, int64_t opset, OnnxNodeDraft& draft, OnnxGraphSink& sink);

}  // namespace weec
