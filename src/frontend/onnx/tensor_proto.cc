#include "frontend/onnx/tensor_proto.h"

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace weec {

std::optional<DType> dtype_from_onnx(int code) {
  switch (code) {
    case onnx::TensorProto::FLOAT:
      return DType::F32;
    case onnx::TensorProto::UINT8:
      return DType::U8;
    case onnx::TensorProto::INT8:
      return DType::I8;
    case onnx::TensorProto::UINT16:
      return DType::U16;
    case onnx::TensorProto::INT16:
      return DType::I16;
    case onnx::TensorProto::INT32:
      return DType::I32;
    case onnx::TensorProto::INT64:
      return DType::I64;
    case onnx::TensorProto::STRING:
      return DType::String;
    case onnx::TensorProto::BOOL:
      return DType::Bool;
    case onnx::TensorProto::FLOAT16:
      return DType::F16;
    case onnx::TensorProto::DOUBLE:
      return DType::F64;
    case onnx::TensorProto::UINT32:
      return DType::U32;
    case onnx::TensorProto::UINT64:
      return DType::U64;
    case onnx::TensorProto::BFLOAT16:
      return DType::BF16;
    default:
      return std::nullopt;
  }
}

int dtype_to_onnx(DType t) {
  switch (t) {
    case DType::F32:
      return onnx::TensorProto::FLOAT;
    case DType::U8:
      return onnx::TensorProto::UINT8;
    case DType::I8:
      return onnx::TensorProto::INT8;
    case DType::U16:
      return onnx::TensorProto::UINT16;
    case DType::I16:
      return onnx::TensorProto::INT16;
    case DType::I32:
      return onnx::TensorProto::INT32;
    case DType::I64:
      return onnx::TensorProto::INT64;
    case DType::String:
      return onnx::TensorProto::STRING;
    case DType::Bool:
      return onnx::TensorProto::BOOL;
    case DType::F16:
      return onnx::TensorProto::FLOAT16;
    case DType::F64:
      return onnx::TensorProto::DOUBLE;
    case DType::U32:
      return onnx::TensorProto::UINT32;
    case DType::U64:
      return onnx::TensorProto::UINT64;
    case DType::BF16:
      return onnx::TensorProto::BFLOAT16;
  }
  return onnx::TensorProto::UNDEFINED;
}

std::string onnx_dtype_name(int code) {
  if (onnx::TensorProto_DataType_IsValid(code)) return onnx::TensorProto_DataType_Name(code);
  return fmt::format("dtype code {}", code);
}

namespace {

Status read_external(const onnx::TensorProto& p, const std::string& base_dir, std::string& out) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (auto& kv : p.external_data()) {
    if (kv.key() == "location")
      location = kv.value();
    else if (kv.key() == "offset")
      offset = std::stoll(kv.value());
    else if (kv.key() == "length")
      length = std::stoll(kv.value());
  }
  if (location.empty()) return error("tensor '{}': external data has no location", p.name());
  std::filesystem::path rel(location);
  if (rel.is_absolute() || location.find("..") != std::string::npos)
    return error("tensor '{}': external data location '{}' must be relative to the model", p.name(),
                 location);
  std::filesystem::path full = std::filesystem::path(base_dir) / rel;
  std::ifstream f(full, std::ios::binary);
  if (!f) return error("tensor '{}': cannot open external data file '{}'", p.name(), full.string());
  f.seekg(0, std::ios::end);
  int64_t size = f.tellg();
  if (offset < 0 || offset > size)
    return error("tensor '{}': external data offset {} is past the end of '{}'", p.name(), offset,
                 full.string());
  if (length < 0) length = size - offset;
  if (offset + length > size)
    return error("tensor '{}': external data [{}, {}) is past the end of '{}' ({} bytes)", p.name(), offset,
                 offset + length, full.string(), size);
  out.resize(length);
  f.seekg(offset);
  f.read(out.data(), length);
  return Status::ok();
}

template <typename T, typename Field>
void copy_field(const Field& field, Tensor& t) {
  T* d = t.data<T>();
  for (int i = 0; i < field.size(); ++i) d[i] = static_cast<T>(field.Get(i));
}

}  // namespace

Expected<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& base_dir) {
  auto dt = dtype_from_onnx(p.data_type());
  if (!dt) return error("tensor '{}': dtype {} is not supported", p.name(), onnx_dtype_name(p.data_type()));
  if (p.has_segment()) return error("tensor '{}': segmented tensors are not supported", p.name());
  Dims dims;
  for (int64_t d : p.dims()) {
    if (d < 0) return error("tensor '{}': negative dim {}", p.name(), d);
    dims.push_back(d);
  }
  // Guard against absurd sizes from corrupt files before allocating.
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d != 0 && n > (int64_t(1) << 40) / d)
      return error("tensor '{}': shape {} is too large", p.name(), dims_str(dims));
    n *= d;
  }
  DType t = *dt;
  auto size_error = [&](int64_t have) {
    return error("tensor '{}' has {} values but its shape {} needs {}", p.name(), have, dims_str(dims), n);
  };

  if (t == DType::String) {
    if (p.string_data_size() != n) return size_error(p.string_data_size());
    Tensor out(t, dims);
    for (int64_t i = 0; i < n; ++i) out.strings()[i] = p.string_data((int)i);
    return out;
  }

  std::string external;
  const std::string* raw = nullptr;
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    WEEC_TRY(read_external(p, base_dir, external));
    raw = &external;
  } else if (p.has_raw_data()) {
    raw = &p.raw_data();
  }
  Tensor out(t, dims);
  if (raw) {
    // raw_data is little-endian, like this host.
    if ((int64_t)raw->size() != (int64_t)out.nbytes()) {
      return error("tensor '{}' has {} bytes of raw data but its shape {} of {} needs {}", p.name(),
                   raw->size(), dims_str(dims), dtype_name(t), out.nbytes());
    }
    std::memcpy(out.raw(), raw->data(), raw->size());
    return out;
  }
  switch (t) {
    case DType::F32:
      if (p.float_data_size() != n) return size_error(p.float_data_size());
      copy_field<float>(p.float_data(), out);
      break;
    case DType::F64:
      if (p.double_data_size() != n) return size_error(p.double_data_size());
      copy_field<double>(p.double_data(), out);
      break;
    case DType::I64:
      if (p.int64_data_size() != n) return size_error(p.int64_data_size());
      copy_field<int64_t>(p.int64_data(), out);
      break;
    case DType::U32:
    case DType::U64:
      if (p.uint64_data_size() != n) return size_error(p.uint64_data_size());
      if (t == DType::U32)
        copy_field<uint32_t>(p.uint64_data(), out);
      else
        copy_field<uint64_t>(p.uint64_data(), out);
      break;
    default:  // int32_data holds i32, i16, i8, u16, u8, bool, and f16/bf16 bits
      if (p.int32_data_size() != n) return size_error(p.int32_data_size());
      switch (t) {
        case DType::I32:
          copy_field<int32_t>(p.int32_data(), out);
          break;
        case DType::I16:
          copy_field<int16_t>(p.int32_data(), out);
          break;
        case DType::I8:
          copy_field<int8_t>(p.int32_data(), out);
          break;
        case DType::U16:
        case DType::F16:
        case DType::BF16:
          copy_field<uint16_t>(p.int32_data(), out);
          break;
        case DType::U8:
        case DType::Bool:
          copy_field<uint8_t>(p.int32_data(), out);
          break;
        default:
          break;
      }
  }
  return out;
}

void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto& p) {
  p.Clear();
  p.set_name(name);
  p.set_data_type(dtype_to_onnx(t.dtype()));
  for (int64_t d : t.dims()) p.add_dims(d);
  if (t.dtype() == DType::String) {
    for (auto& s : t.strings()) p.add_string_data(s);
  } else {
    p.set_raw_data(std::string(static_cast<const char*>(t.raw()), t.nbytes()));
  }
}

Expected<Tensor> read_tensor_pb(const std::string& path, std::string* name) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return error("cannot open '{}'", path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string bytes = ss.str();
  onnx::TensorProto p;
  if (!p.ParseFromString(bytes)) return error("'{}' is not a serialized ONNX TensorProto", path);
  if (name) *name = p.name();
  std::string base = std::filesystem::path(path).parent_path().string();
  auto t = tensor_from_proto(p, base);
  if (!t) return t.status().with_context(path);
  return t;
}

Status write_tensor_pb(const std::string& path, const Tensor& t, const std::string& name) {
  onnx::TensorProto p;
  tensor_to_proto(t, name, p);
  std::string bytes;
  if (!p.SerializeToString(&bytes)) return error("cannot serialize tensor '{}'", name);
  std::ofstream f(path, std::ios::binary);
  if (!f) return error("cannot write '{}'", path);
  f.write(bytes.data(), bytes.size());
  if (!f) return error("error writing '{}'", path);
  return Status::ok();
}

}  // namespace weec
