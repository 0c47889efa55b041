// Checks on a parsed model's tensors that must run before the ONNX checker:
// the checker multiplies dims without overflow checks and opens external data
// files wherever their location points, so weec refuses those first, with
// messages that say what is wrong.
#pragma once

#include <string>

#include "core/status.h"

namespace onnx {
class ModelProto;
}

namespace weec {

// Every TensorProto (initializers, tensor attributes, in subgraphs and model
// functions too): no negative or overflowing dims, no more than
// max_tensor_bytes(), and external data inside `base_dir`.
Status precheck_tensors(const onnx::ModelProto& model, const std::string& base_dir);

}  // namespace weec
