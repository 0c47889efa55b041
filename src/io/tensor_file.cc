#include "io/tensor_file.h"

#include <fstream>
#include <regex>
#include <sstream>

#include "frontend/onnx/tensor_proto.h"
#include "io/idx.h"

namespace weec {

namespace {

// numpy descr (without byte order) <-> dtype.
struct NpyType {
  const char* code;
  DType dtype;
};
constexpr NpyType kNpyTypes[] = {
    {"f4", DType::F32}, {"f8", DType::F64}, {"f2", DType::F16}, {"i1", DType::I8},
    {"u1", DType::U8},  {"i2", DType::I16}, {"u2", DType::U16}, {"i4", DType::I32},
    {"u4", DType::U32}, {"i8", DType::I64}, {"u8", DType::U64}, {"b1", DType::Bool},
};

std::string slurp(const std::string& path, Status& st) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    st = error("cannot open '{}'", path);
    return {};
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

Expected<Tensor> parse_npy(std::string_view b) {
  if (b.size() < 10 || b.substr(0, 6) != "\x93NUMPY") return error("not a .npy file (bad magic)");
  uint8_t major = (uint8_t)b[6];
  size_t header_len, offset;
  if (major == 1) {
    header_len = (uint8_t)b[8] | ((size_t)(uint8_t)b[9] << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return error("truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= (size_t)(uint8_t)b[8 + i] << (8 * i);
    offset = 12;
  } else {
    return error(".npy version {} is not supported", major);
  }
  if (offset + header_len > b.size()) return error("truncated .npy header");
  // numpy itself refuses longer headers (max_header_size); std::regex recurses
  // once per character, so a megabyte of header would overflow the stack.
  if (header_len > 10000) return error(".npy header is {} bytes; at most 10000 are read", header_len);
  std::string header(b.substr(offset, header_len));
  // Compiled once (std::regex construction dominated reading small files;
  // searching a const regex is thread-safe).
  static const std::regex descr_re(R"('descr'\s*:\s*'([<>|=])([a-z]\d+)')"),
      fortran_re(R"('fortran_order'\s*:\s*True)"), shape_re(R"('shape'\s*:\s*\(([^)]*)\))"), num(R"(\d+)");
  std::smatch m;
  if (!std::regex_search(header, m, descr_re)) return error(".npy header has no descr: {}", header);
  std::string order = m[1], code = m[2];
  if (order == ">") return error(".npy data is big-endian ({}); only little-endian is supported", code);
  std::optional<DType> dt;
  for (auto& t : kNpyTypes)
    if (code == t.code) dt = t.dtype;
  if (!dt) return error(".npy dtype '{}' is not supported", code);
  bool fortran = std::regex_search(header, fortran_re);
  if (!std::regex_search(header, m, shape_re)) return error(".npy header has no shape: {}", header);
  Dims dims;
  std::string shape = m[1];
  for (auto it = std::sregex_iterator(shape.begin(), shape.end(), num); it != std::sregex_iterator(); ++it) {
    if (it->str().size() > 12) return error(".npy shape ({}) is too large", shape);
    dims.push_back(std::stoll(it->str()));
  }
  // Refuse absurd shapes before comparing with the data or allocating.
  if (Status st = check_tensor_size(*dt, dims); !st) return st.with_context(".npy shape is too large");
  int64_t n = numel_of(dims);
  size_t data_off = offset + header_len;
  size_t need = (size_t)n * dtype_size(*dt);
  if (b.size() - data_off < need)
    return error(".npy data is truncated: {} bytes for shape {} of {}, need {}", b.size() - data_off,
                 dims_str(dims), dtype_name(*dt), need);
  Tensor t(*dt, dims);
  if (!fortran || dims.size() < 2) {
    // An empty tensor has no buffer, and memcpy from/to null is UB even for 0 bytes.
    if (need > 0) std::memcpy(t.raw(), b.data() + data_off, need);
    return t;
  }
  // An empty tensor has nothing to reorder, and its other dims may multiply
  // past int64 ([2^40, 2^40, 0]): no strides for it.
  if (n == 0) return t;
  // Fortran order: element at index (i0..ik) sits at sum(i_j * fstride_j).
  size_t es = dtype_size(*dt);
  Dims fstride(dims.size(), 1);
  for (size_t i = 1; i < dims.size(); ++i) fstride[i] = fstride[i - 1] * dims[i - 1];
  std::vector<int64_t> idx(dims.size(), 0);
  auto* out = static_cast<uint8_t*>(t.raw());
  for (int64_t o = 0; o < n; ++o) {
    int64_t src = 0;
    for (size_t i = 0; i < dims.size(); ++i) src += idx[i] * fstride[i];
    std::memcpy(out + o * es, b.data() + data_off + src * es, es);
    for (int64_t d = (int64_t)dims.size() - 1; d >= 0; --d) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
  return t;
}

Expected<Tensor> read_npy(const std::string& path) {
  Status st;
  std::string bytes = slurp(path, st);
  if (!st) return st;
  auto t = parse_npy(bytes);
  if (!t) return t.status().with_context(path);
  return t;
}

std::string npy_bytes(const Tensor& t) {
  std::string descr;
  for (auto& nt : kNpyTypes)
    if (nt.dtype == t.dtype())
      descr = std::string(t.dtype() == DType::Bool || dtype_size(t.dtype()) == 1 ? "|" : "<") + nt.code;
  // numpy's tuple repr: "()", "(5,)", "(2, 3)".
  std::string shape = fmt::format("{}", fmt::join(t.dims(), ", "));
  if (t.rank() == 1) shape += ",";
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, shape);
  // Pad so the data starts at a multiple of 64 bytes, ending with '\n'.
  size_t total = 10 + dict.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  dict += std::string(pad, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += (char)(dict.size() & 0xff);
  out += (char)(dict.size() >> 8);
  out += dict;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

Status write_npy(const std::string& path, const Tensor& t) {
  if (t.dtype() == DType::String || t.dtype() == DType::BF16)
    return error("cannot write {} tensors as .npy", dtype_name(t.dtype()));
  std::ofstream f(path, std::ios::binary);
  if (!f) return error("cannot write '{}'", path);
  std::string b = npy_bytes(t);
  f.write(b.data(), b.size());
  if (!f) return error("error writing '{}'", path);
  return Status::ok();
}

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Expected<Tensor> read_tensor_file(const std::string& path) {
  if (ends_with(path, ".npy")) return read_npy(path);
  if (ends_with(path, ".pb")) return read_tensor_pb(path);
  if (is_idx_path(path)) return read_idx(path);
  return error("'{}': unknown tensor file type (expected .npy or .pb, or IDX: *.idx[.gz], *-ubyte[.gz])",
               path);
}

Status write_tensor_file(const std::string& path, const Tensor& t, const std::string& name) {
  if (ends_with(path, ".npy")) return write_npy(path, t);
  if (ends_with(path, ".pb")) return write_tensor_pb(path, t, name);
  return error("'{}': unknown tensor file type (expected .npy or .pb)", path);
}

}  // namespace weec
