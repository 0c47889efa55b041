// IDX files (src/io/idx): the real Fashion-MNIST files of Debian's
// dataset-fashion-mnist, checked against bytes this test decompresses itself
// with zlib (not through the reader) and against figures computed with
// python3's gzip + struct; hand-made multi-byte files; and hostile inputs.
#include "io/idx.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "io/tensor_file.h"

namespace weec {
namespace {

namespace fs = std::filesystem;
const std::string kData = "/usr/share/datasets/fashion-mnist/";

// The whole .gz file inflated by zlib directly (windowBits 15+16: gzip).
std::string gunzip(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string in((std::istreambuf_iterator<char>(f)), {}), out;
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(in.data());
  z.avail_in = (uInt)in.size();
  char buf[1 << 16];
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (rc == Z_OK);
  EXPECT_EQ(rc, Z_STREAM_END) << path;
  inflateEnd(&z);
  return out;
}

std::string gzip_bytes(const std::string& raw) {
  uLongf n = compressBound(raw.size()) + 32;
  std::string out(n, '\0');
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = (uInt)raw.size();
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = (uInt)out.size();
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("weec-idx-" + std::to_string(getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }

 private:
  fs::path path_;
};

std::string header(uint8_t type, std::vector<uint32_t> dims) {
  std::string h = {0, 0, (char)type, (char)dims.size()};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) h += (char)((d >> s) & 0xff);
  return h;
}

std::string error_of(const Expected<Tensor>& t) { return t ? std::string("no error") : t.status().message(); }

TEST(Idx, FashionMnistImagesMatchZlibAndPython) {
  for (auto [name, n, sum0, px0, total] :
       {std::tuple<const char*, int64_t, int64_t, int, int64_t>{"t10k", 10000, 33456, 110, 573469082},
        {"train", 60000, 76247, 217, 3431114169}}) {
    std::string path = kData + name + "-images-idx3-ubyte.gz";
    auto t = read_idx(path);
    ASSERT_TRUE(t) << t.status().message();
    EXPECT_EQ(t->dtype(), DType::U8);
    EXPECT_EQ(t->dims(), (Dims{n, 28, 28}));
    // Every pixel equals the byte at 16 + i in the file zlib inflates.
    std::string raw = gunzip(path);
    ASSERT_EQ(raw.size(), 16 + (size_t)n * 784);
    EXPECT_EQ(std::memcmp(t->raw(), raw.data() + 16, n * 784), 0);
    // Figures from python3: gzip.open(path).read(), struct.unpack('>IIII', ...).
    const uint8_t* px = t->data<uint8_t>();
    int64_t s0 = 0, all = 0;
    for (int i = 0; i < 784; ++i) s0 += px[i];
    for (int64_t i = 0; i < t->numel(); ++i) all += px[i];
    EXPECT_EQ(s0, sum0) << name;
    EXPECT_EQ(px[14 * 28 + 14], px0) << name;
    EXPECT_EQ(all, total) << name;
  }
}

TEST(Idx, FashionMnistLabels) {
  for (auto [name, n] : {std::pair<const char*, int64_t>{"t10k", 10000}, {"train", 60000}}) {
    auto t = read_tensor_file(kData + name + "-labels-idx1-ubyte.gz");  // through the extension hook
    ASSERT_TRUE(t) << t.status().message();
    EXPECT_EQ(t->dims(), Dims{n});
    std::vector<int64_t> count(256, 0);
    for (int64_t i = 0; i < n; ++i) count[t->data<uint8_t>()[i]]++;
    for (int c = 0; c < 10; ++c)
      EXPECT_EQ(count[c], n / 10) << name << " class " << c;  // balanced, 0..9 only
  }
  auto t = read_idx(kData + "t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(t);
  std::vector<uint8_t> first(t->data<uint8_t>(), t->data<uint8_t>() + 8);
  EXPECT_EQ(first, (std::vector<uint8_t>{9, 2, 1, 1, 6, 1, 4, 6}));
}

TEST(Idx, PlainAndGzipFilesGiveTheSameTensor) {
  TempDir dir;
  std::string raw = gunzip(kData + "t10k-labels-idx1-ubyte.gz");
  auto plain = read_tensor_file(dir.write("labels-idx1-ubyte", raw));
  auto idx = read_tensor_file(dir.write("labels.idx", raw));
  auto gz = read_tensor_file(dir.write("labels.idx.gz", gzip_bytes(raw)));
  ASSERT_TRUE(plain && idx && gz) << error_of(plain) << error_of(gz);
  EXPECT_TRUE(plain->identical(*gz));
  EXPECT_TRUE(plain->identical(*idx));
  EXPECT_TRUE(is_idx_path("t10k-images-idx3-ubyte.gz"));
  EXPECT_FALSE(is_idx_path("x.npy"));
}

TEST(Idx, MultiByteTypesAreBigEndian) {
  auto i8 = parse_idx(header(0x09, {2}) + "\xff\x80");
  ASSERT_TRUE(i8) << error_of(i8);
  EXPECT_EQ(i8->data<int8_t>()[0], -1);
  EXPECT_EQ(i8->data<int8_t>()[1], -128);
  auto i16 = parse_idx(header(0x0B, {2}) + std::string("\x01\x02\xff\xfe", 4));
  ASSERT_TRUE(i16);
  EXPECT_EQ(i16->dtype(), DType::I16);
  EXPECT_EQ(i16->data<int16_t>()[0], 258);
  EXPECT_EQ(i16->data<int16_t>()[1], -2);
  auto i32 = parse_idx(header(0x0C, {1, 1}) + std::string("\x80\x00\x00\x01", 4));
  ASSERT_TRUE(i32);
  EXPECT_EQ(i32->dims(), (Dims{1, 1}));
  EXPECT_EQ(i32->data<int32_t>()[0], INT32_MIN + 1);
  // IEEE 754: 0x3F800000 = 1.0f, 0xC0490FDB = -3.14159274f; 0xC000000000000000 = -2.0.
  auto f32 = parse_idx(header(0x0D, {2}) + std::string("\x3f\x80\x00\x00\xc0\x49\x0f\xdb", 8));
  ASSERT_TRUE(f32);
  EXPECT_EQ(f32->data<float>()[0], 1.0f);
  EXPECT_EQ(f32->data<float>()[1], -3.14159274f);
  auto f64 = parse_idx(header(0x0E, {1}) + std::string("\xc0\x00\x00\x00\x00\x00\x00\x00", 8));
  ASSERT_TRUE(f64);
  EXPECT_EQ(f64->data<double>()[0], -2.0);
  auto empty = parse_idx(header(0x08, {0, 4000000000u}));  // zero elements: valid and empty
  ASSERT_TRUE(empty) << error_of(empty);
  EXPECT_EQ(empty->numel(), 0);
}

TEST(Idx, HostileInputsAreErrors) {
  auto expect_error = [](const std::string& bytes, const std::string& needle, IdxOptions opt = {}) {
    auto t = parse_idx(bytes, opt);
    EXPECT_FALSE(t.has_value()) << needle;
    if (!t) {
      EXPECT_NE(t.status().message().find(needle), std::string::npos) << t.status().message();
    }
  };
  expect_error("", "truncated IDX header");
  expect_error(std::string("\0\0\x08", 3), "truncated IDX header");
  expect_error(std::string("\x1f\x8b\x08\x00", 4),
               "not an IDX file");  // gzip bytes handed to the in-memory parser
  expect_error(std::string("\0\x01\x08\x01", 4) + std::string(5, '\0'), "not an IDX file");
  expect_error(header(0x0A, {1}) + "x", "element type 0x0a is unknown");
  expect_error(header(0x08, {}), "0 dims");
  expect_error(header(0x08, {2, 3}).substr(0, 10), "truncated IDX header: 2 dims");
  expect_error(header(0x08, {2, 3}) + "abcde", "truncated IDX data: 5 bytes for u8 [2,3], need 6");
  expect_error(header(0x0C, {3}) + std::string(11, '\0'), "need 12");
  expect_error(header(0x08, {2, 3}) + "abcdefg", "longer than dims [2,3]");
  // 2^32-1 cubed overflows int64; 255 dims of 2^32-1 would too.
  expect_error(header(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}) + "x", "more than the limit");
  expect_error(header(0x08, std::vector<uint32_t>(255, 0xffffffffu)), "more than the limit");
  // Within int64 but above the configured limit: refused before allocating.
  expect_error(header(0x08, {60000, 28, 28}), "47040000 elements, more than the limit of 1000000",
               IdxOptions{1000000});
}

TEST(Idx, HostileFilesAreErrors) {
  TempDir dir;
  std::string gz = gzip_bytes(gunzip(kData + "t10k-labels-idx1-ubyte.gz"));
  auto cut = read_idx(dir.write("cut.idx.gz", gz.substr(0, gz.size() / 2)));
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.status().message().find("truncated IDX data"), std::string::npos) << cut.status().message();
  std::string corrupt = gz;
  for (size_t i = 20; i < 60; ++i) corrupt[i] = (char)0xA5;  // inside the deflate stream
  auto bad = read_idx(dir.write("corrupt.idx.gz", corrupt));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("corrupt gzip data"), std::string::npos) << bad.status().message();
  std::string bad_crc = gz;
  bad_crc[gz.size() - 8] ^= 1;  // the trailer: CRC-32 of the data, then its length
  auto crc = read_idx(dir.write("crc.idx.gz", bad_crc));
  ASSERT_FALSE(crc);
  EXPECT_NE(crc.status().message().find("corrupt gzip data"), std::string::npos) << crc.status().message();
  auto missing = read_idx("/nonexistent/x-ubyte.gz");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.status().message().find("cannot open '/nonexistent/x-ubyte.gz'"), std::string::npos);
  auto big = read_idx(kData + "train-images-idx3-ubyte.gz", IdxOptions{1000});
  ASSERT_FALSE(big);
  EXPECT_NE(big.status().message().find("train-images-idx3-ubyte.gz: IDX dims [60000,28,28]"),
            std::string::npos)
      << big.status().message();
}

}  // namespace
}  // namespace weec
