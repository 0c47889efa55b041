#include "io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>

namespace weec {

namespace {

struct IdxType {
  uint8_t code;
  DType dtype;
};
constexpr IdxType kIdxTypes[] = {
    {0x08, DType::U8},  {0x09, DType::I8},  {0x0B, DType::I16},
    {0x0C, DType::I32}, {0x0D, DType::F32}, {0x0E, DType::F64},
};

// A byte stream the decoder pulls from: memory, or a (possibly gzip) file.
// read() returns how many bytes it delivered (fewer only at the end or on an
// error); corruption() explains a short read when the stream itself is broken.
class MemorySource {
 public:
  explicit MemorySource(std::string_view b) : b_(b) {}
  size_t read(void* dst, size_t n) {
    size_t k = std::min(n, b_.size() - pos_);
    if (k > 0) std::memcpy(dst, b_.data() + pos_, k);  // an empty tensor's buffer is null
    pos_ += k;
    return k;
  }
  size_t remaining() const { return b_.size() - pos_; }
  std::string corruption() const { return ""; }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

class GzSource {
 public:
  // gzopen reads files without a gzip header as they are ("transparent").
  explicit GzSource(const std::string& path) : f_(gzopen(path.c_str(), "rb")) {}
  ~GzSource() {
    if (f_) gzclose(f_);
  }
  GzSource(const GzSource&) = delete;
  GzSource& operator=(const GzSource&) = delete;
  bool ok() const { return f_ != nullptr; }
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      unsigned chunk = (unsigned)std::min<size_t>(n - done, size_t(1) << 30);
      int got = gzread(f_, static_cast<char*>(dst) + done, chunk);
      if (got <= 0) break;
      done += (size_t)got;
    }
    return done;
  }
  // Whether anything follows (reads at most one byte).
  size_t remaining() {
    char c;
    return gzread(f_, &c, 1) == 1 ? 1 : 0;
  }
  // zlib's complaint about the compressed stream itself ("invalid distances
  // set", a bad checksum), or "" when the data merely ended early.
  std::string corruption() const {
    int code = Z_OK;
    const char* msg = gzerror(f_, &code);
    if (code == Z_OK || code == Z_BUF_ERROR || !msg) return "";
    std::string m = msg;  // gzerror prefixes the path, which the caller adds anyway
    size_t colon = m.rfind(": ");
    return colon == std::string::npos ? m : m.substr(colon + 2);
  }

 private:
  gzFile f_;
};

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

// IDX stores elements big-endian; flip each element on little-endian hosts.
void to_host_order(Tensor& t) {
  size_t es = dtype_size(t.dtype());
  if (es == 1 || std::endian::native == std::endian::big) return;
  auto* p = static_cast<uint8_t*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); i += es) std::reverse(p + i, p + i + es);
}

// The error for a short read of `what`: corrupt compressed data, or truncation.
template <typename Source>
Status short_read(const Source& src, const std::string& what) {
  std::string corrupt = src.corruption();
  if (!corrupt.empty()) return error("corrupt gzip data ({}) while reading the IDX {}", corrupt, what);
  return error("truncated IDX {}", what);
}

template <typename Source>
Expected<Tensor> decode_idx(Source& src, const IdxOptions& opt) {
  uint8_t magic[4];
  if (src.read(magic, 4) != 4) return short_read(src, "header: fewer than 4 bytes");
  if (magic[0] != 0 || magic[1] != 0)
    return error("not an IDX file: magic starts {:02x} {:02x}, expected 00 00", magic[0], magic[1]);
  std::optional<DType> dtype;
  for (const IdxType& t : kIdxTypes)
    if (t.code == magic[2]) dtype = t.dtype;
  if (!dtype)
    return error("IDX element type 0x{:02x} is unknown (expected 08, 09, 0B, 0C, 0D or 0E)", magic[2]);
  const int rank = magic[3];
  if (rank == 0) return error("IDX header declares 0 dims");
  std::vector<uint8_t> dim_bytes(4 * (size_t)rank);
  if (src.read(dim_bytes.data(), dim_bytes.size()) != dim_bytes.size())
    return short_read(src, fmt::format("header: {} dims declared", rank));
  Dims dims;
  int64_t n = 1;
  bool overflow = false;
  for (int i = 0; i < rank; ++i) {
    int64_t d = big_endian_u32(&dim_bytes[4 * i]);
    dims.push_back(d);
    if (d != 0 && n > INT64_MAX / 8 / d) overflow = true;  // keep n * 8 bytes representable
    if (!overflow) n *= d;
  }
  if (std::find(dims.begin(), dims.end(), 0) != dims.end()) n = 0, overflow = false;
  if (overflow || n > opt.max_elements)
    return error("IDX dims {} hold {} elements, more than the limit of {}", dims_str(dims),
                 overflow ? std::string("too many") : std::to_string(n), opt.max_elements);
  Tensor t(*dtype, dims);
  size_t got = src.read(t.raw(), t.nbytes());
  if (got != t.nbytes())
    return short_read(src, fmt::format("data: {} bytes for {} {}, need {}", got, dtype_name(*dtype),
                                       dims_str(dims), t.nbytes()));
  if (src.remaining() > 0)
    return error("IDX data is longer than dims {} of {} describe ({} bytes expected, more follow)",
                 dims_str(dims), dtype_name(*dtype), t.nbytes());
  // The gzip trailer (CRC-32, length) is only checked once the end is read.
  if (std::string corrupt = src.corruption(); !corrupt.empty())
    return error("corrupt gzip data ({}) at the end of the IDX data", corrupt);
  to_host_order(t);
  return t;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Expected<Tensor> parse_idx(std::string_view bytes, const IdxOptions& options) {
  MemorySource src(bytes);
  return decode_idx(src, options);
}

Expected<Tensor> read_idx(const std::string& path, const IdxOptions& options) {
  errno = 0;
  GzSource src(path);
  if (!src.ok()) return error("cannot open '{}': {}", path, errno ? std::strerror(errno) : "out of memory");
  auto t = decode_idx(src, options);
  if (!t) return t.status().with_context(path);
  return t;
}

bool is_idx_path(const std::string& path) {
  for (std::string_view s : {".idx", ".idx.gz", "-ubyte", "-ubyte.gz"})
    if (ends_with(path, s)) return true;
  return false;
}

}  // namespace weec
