// weec IR -> ONNX model: the way back out, for `weec export`, QDQ models from
// `weec quantize` and generated test networks. Uses Debian's libonnx for the
// protobuf classes.
//
// What is written:
// - one opset for ai.onnx, kExportOpset (17, the newest the importer reads),
//   whatever opset the model came in with. Import hooks canonicalise legacy
//   forms (attributes that became inputs, ...), and that canonical form is
//   opset 17's for almost every op; the few that differ are rewritten
//   (export_forms.h). Other domains, if a schema names one, get the lowest
//   until_opset of their nodes. IR version 8;
// - graph inputs and outputs with dtype and shape (known dims as dim_value,
//   symbolic ones as dim_param, unknown ones empty; no shape when the rank is
//   unknown, which ONNX's checker refuses for the main graph, though ONNX
//   Runtime accepts it). Quantisation parameters on value types are not
//   written: in ONNX, QuantizeLinear/DequantizeLinear nodes carry them;
// - constants as initializers (raw_data, little-endian; strings in
//   string_data), only those that something reads; a constant that is itself
//   a graph output becomes a Constant node so the output keeps its name;
// - every node with its op type, domain and attributes; If/Loop/Scan bodies
//   recursively, reading outer values by name;
// - Fused nodes (made by the fuse pass) inlined: the model has the original
//   ops again. Other weec-internal ops (no ONNX op type) are refused with an
//   error naming the node.
// Names: value names are kept (graph inputs and outputs first), made unique
// across the whole model with _1, _2 suffixes where needed (ONNX scoping
// forbids a subgraph from reusing an outer name); unnamed values get v0, v1...
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "ir/graph.h"

namespace onnx {
class ModelProto;
}

namespace weec {

inline constexpr int64_t kExportOpset = 17;
inline constexpr int64_t kExportIrVersion = 8;

struct ExportOptions {
  std::string producer_name = "weec";
  std::string producer_version = "0.1.0";
  std::string doc_string;  // written to the model when non-empty
};

// What write_onnx wrote, for the CLI's summary line.
struct ExportSummary {
  int64_t nodes = 0;  // main graph only
  int64_t initializers = 0;
  int64_t bytes = 0;  // file size
};

// Errors name the node, op and value that could not be expressed in ONNX.
Expected<onnx::ModelProto> export_onnx(const Graph& g, const ExportOptions& opt = {});

// export_onnx, serialised to `path` atomically: a temporary file next to it
// is renamed over `path` only once everything is written; on any error
// nothing is left behind. Models over 2 GB (protobuf's limit; external data
// is not written) are refused.
Status write_onnx(const Graph& g, const std::string& path, const ExportOptions& opt = {},
                  ExportSummary* summary = nullptr);

}  // namespace weec
