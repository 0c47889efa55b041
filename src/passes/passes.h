// Factories of the built-in passes (registered by name in pass.cc).
#pragma once

#include <memory>

#include "passes/pass.h"

namespace weec {

std::unique_ptr<Pass> make_infer_shapes_pass();         // "infer-shapes"
std::unique_ptr<Pass> make_fold_constants_pass();       // "fold-constants"
std::unique_ptr<Pass> make_eliminate_dead_code_pass();  // "eliminate-dead-code"
std::unique_ptr<Pass> make_simplify_inference_pass();   // "simplify-inference"
std::unique_ptr<Pass> make_quantize_pass();             // "quantize"
std::unique_ptr<Pass> make_lower_qdq_pass();            // "lower-qdq"
std::unique_ptr<Pass> make_fuse_pass();                 // "fuse"
std::unique_ptr<Pass> make_plan_memory_pass();          // "plan-memory"

}  // namespace weec
