#include "frontend/onnx/tensor_proto.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <charconv>
#include <climits>
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

Expected<std::filesystem::path> resolve_external_location(const onnx::TensorProto& p,
                                                          const std::string& base_dir) {
  namespace fs = std::filesystem;
  std::string location;
  for (auto& kv : p.external_data())
    if (kv.key() == "location") location = kv.value();
  if (location.empty()) return error("tensor '{}': external data has no location", p.name());
  // Refuse on the name first (absolute, any '..'), then on where it really
  // leads: a symlink inside the directory may still point out of it.
  fs::path rel(location);
  bool dotdot = false;
  for (auto& part : rel) dotdot = dotdot || part == "..";
  auto outside = [&] {
    return error("tensor '{}': external data location '{}' is outside the model's directory", p.name(),
                 location);
  };
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory() || dotdot) return outside();
  std::error_code ec;
  fs::path base = fs::canonical(base_dir.empty() ? "." : base_dir, ec);
  if (ec) return error("tensor '{}': cannot resolve the model's directory '{}'", p.name(), base_dir);
  fs::path full = base / rel;
  if (!fs::exists(full, ec))
    return error("tensor '{}': cannot open external data file '{}'", p.name(), full.string());
  fs::path real = fs::canonical(full, ec);
  if (ec) return error("tensor '{}': cannot resolve external data file '{}'", p.name(), full.string());
  auto [b, r] = std::mismatch(base.begin(), base.end(), real.begin(), real.end());
  if (b != base.end()) return outside();
  if (!fs::is_regular_file(real, ec))
    return error("tensor '{}': external data location '{}' is not a regular file", p.name(), location);
  return real;
}

namespace {

// A decimal offset or length; hostile files may hold anything there.
Expected<int64_t> parse_size(const onnx::TensorProto& p, const std::string& key, const std::string& text) {
  int64_t v = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0)
    return error("tensor '{}': external data {} '{}' is not a non-negative 64-bit integer", p.name(), key,
                 text);
  return v;
}

// Reads exactly `want` bytes of external data; any mismatch is refused before
// allocating, so a bogus length cannot make us read a huge file.
Status read_external(const onnx::TensorProto& p, const std::string& base_dir, int64_t want,
                     std::string& out) {
  int64_t offset = 0, length = -1;
  for (auto& kv : p.external_data()) {
    if (kv.key() == "offset") {
      WEEC_ASSIGN_OR_RETURN(offset, parse_size(p, "offset", kv.value()));
    } else if (kv.key() == "length") {
      WEEC_ASSIGN_OR_RETURN(length, parse_size(p, "length", kv.value()));
    }
  }
  WEEC_ASSIGN_OR_RETURN(std::filesystem::path full, resolve_external_location(p, base_dir));
  std::ifstream f(full, std::ios::binary);
  if (!f) return error("tensor '{}': cannot open external data file '{}'", p.name(), full.string());
  f.seekg(0, std::ios::end);
  int64_t size = f.tellg();
  if (offset > size)
    return error("tensor '{}': external data offset {} is past the end of '{}' ({} bytes)", p.name(), offset,
                 full.string(), size);
  if (length < 0) length = size - offset;
  if (length > size - offset)  // offset + length could overflow
    return error("tensor '{}': external data of {} bytes at offset {} runs past the end of '{}' ({} bytes)",
                 p.name(), length, offset, full.string(), size);
  if (length != want)
    return error("tensor '{}' has {} bytes of raw data but its shape {} of {} needs {}", p.name(), length,
                 dims_str(Dims(p.dims().begin(), p.dims().end())), onnx_dtype_name(p.data_type()), want);
  out.resize(length);
  f.seekg(offset);
  f.read(out.data(), length);
  if (!f) return error("tensor '{}': cannot read external data from '{}'", p.name(), full.string());
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
  Dims dims(p.dims().begin(), p.dims().end());
  // Refuse negative, overflowing and absurd shapes before allocating.
  auto n_or = checked_numel(dims);
  if (!n_or) return n_or.status().with_context(fmt::format("tensor '{}'", p.name()));
  WEEC_TRY(check_tensor_size(*dt, dims).with_context(fmt::format("tensor '{}'", p.name())));
  int64_t n = *n_or;
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
    WEEC_TRY(read_external(p, base_dir, n * (int64_t)dtype_size(t), external));
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
    // An empty tensor has no buffer, and memcpy to null is UB even for 0 bytes.
    if (!raw->empty()) std::memcpy(out.raw(), raw->data(), raw->size());
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
  auto t = parse_tensor_pb(ss.str(), std::filesystem::path(path).parent_path().string(), name);
  if (!t) return t.status().with_context(path);
  return t;
}

Expected<Tensor> parse_tensor_pb(std::string_view bytes, const std::string& base_dir, std::string* name) {
  onnx::TensorProto p;
  // protobuf takes an int size; larger is no TensorProto weec accepts anyway.
  if (bytes.size() > INT_MAX || !p.ParseFromArray(bytes.data(), (int)bytes.size()))
    return error("not a serialized ONNX TensorProto");
  if (name) *name = p.name();
  return tensor_from_proto(p, base_dir);
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
