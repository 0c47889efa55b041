// ONNX model -> weec IR. Uses Debian's libonnx for the protobuf classes, the
// model checker and the schemas of ops that ONNX defines as functions.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "ir/graph.h"

namespace weec {

struct ImportOptions {
  bool run_checker = true;  // onnx::checker::check_model before import
};

struct ImportedModel {
  std::unique_ptr<Graph> graph;
  int64_t ir_version = 0;
  int64_t opset = 0;  // default-domain opset
  std::string producer;
};

// Errors name the file, and for node problems the node, op type and opset.
// Every node is validated and its types inferred as it is imported.
Expected<ImportedModel> import_onnx_file(const std::string& path, const ImportOptions& options = {});
// `base_dir` resolves external data files.
Expected<ImportedModel> import_onnx_bytes(std::string_view bytes, const std::string& base_dir,
                                          const ImportOptions& options = {});

}  // namespace weec
