// ONNX TensorProto <-> weec Tensor, and ONNX dtype codes. Shared by the model
// importer (initializers, Constant nodes, tensor attributes) and by src/io for
// `.pb` tensor files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "ir/tensor.h"

namespace onnx {
class TensorProto;
}

namespace weec {

// ONNX TensorProto.DataType code -> DType (nullopt for complex, undefined, ...).
std::optional<DType> dtype_from_onnx(int code);
int dtype_to_onnx(DType t);
std::string onnx_dtype_name(int code);  // "FLOAT", "COMPLEX64", ... for messages

// Reads raw_data or the typed fields; external data is resolved relative to
// `base_dir`. Errors name the tensor and say what is wrong (size mismatch,
// unsupported dtype, missing external file).
Expected<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir = "");
// Where a tensor's external data lives: its `location`, which must be a
// relative path inside `base_dir` (no '..', not absolute, no symlink leading
// out) naming a regular file. The importer checks every tensor with this
// before the ONNX checker touches the files.
Expected<std::filesystem::path> resolve_external_location(const onnx::TensorProto& proto,
                                                          const std::string& base_dir);
void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto& proto);

// A serialized TensorProto file (the ONNX test-data `.pb` format).
Expected<Tensor> read_tensor_pb(const std::string& path, std::string* name = nullptr);
// The same from bytes already read; external data resolves against `base_dir`.
Expected<Tensor> parse_tensor_pb(std::string_view bytes, const std::string& base_dir,
                                 std::string* name = nullptr);
Status write_tensor_pb(const std::string& path, const Tensor& t, const std::string& name);

}  // namespace weec
