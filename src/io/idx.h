// IDX tensor files, the format of MNIST and its relatives (Fashion-MNIST,
// EMNIST, KMNIST): a 4-byte magic 0x0000TTRR (TT the element type, RR the
// rank), RR big-endian uint32 dims, then the elements big-endian, row-major.
// Types: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64.
// Files may be gzip-compressed (detected from the content, not the name).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "ir/tensor.h"

namespace weec {

struct IdxOptions {
  // Larger files are refused before anything is allocated (2^28 elements is
  // 256 MiB of u8; Fashion-MNIST's training images are 47 million).
  int64_t max_elements = int64_t(1) << 28;
};

// Parses IDX bytes already in memory (uncompressed). Errors, never crashes,
// on a bad magic, an unknown type, truncated or trailing data, dims whose
// product overflows or exceeds `max_elements`.
Expected<Tensor> parse_idx(std::string_view bytes, const IdxOptions& options = {});

// Reads a plain or gzip-compressed IDX file, streaming: the header is checked
// (and the size limit applied) before the data is read into the tensor.
Expected<Tensor> read_idx(const std::string& path, const IdxOptions& options = {});

// True for the names IDX files go by: "*.idx", "*.idx.gz", "*-ubyte",
// "*-ubyte.gz" (e.g. "t10k-images-idx3-ubyte.gz").
bool is_idx_path(const std::string& path);

}  // namespace weec
