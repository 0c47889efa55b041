// Tensor files: .npy (checked byte-for-byte against numpy's own np.save
// output, embedded below) and ONNX TensorProto .pb (cross-checked against the
// example's .npy twin written by numpy).
#include <gtest/gtest.h>

#include <filesystem>

#include "frontend/onnx/tensor_proto.h"
#include "io/tensor_file.h"

namespace weec {
namespace {

// np.save(np.array([[1,2,3],[4,5,6]], dtype=np.float32)), numpy 1.24.
const std::string kNumpyC(
    "\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00\x7b\x27\x64\x65\x73\x63\x72\x27\x3a\x20\x27\x3c\x66\x34\x27\x2c"
    "\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f\x6f\x72\x64\x65\x72\x27\x3a\x20\x46\x61\x6c\x73\x65\x2c\x20\x27"
    "\x73\x68\x61\x70\x65\x27\x3a\x20\x28\x32\x2c\x20\x33\x29\x2c\x20\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x00\x00"
    "\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40\x00\x00\xa0\x40\x00\x00\xc0\x40",
    152);
// The same values saved from np.asfortranarray(...): column-major data.
const std::string kNumpyFortran(
    "\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00\x7b\x27\x64\x65\x73\x63\x72\x27\x3a\x20\x27\x3c\x66\x34\x27\x2c"
    "\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f\x6f\x72\x64\x65\x72\x27\x3a\x20\x54\x72\x75\x65\x2c\x20\x27\x73"
    "\x68\x61\x70\x65\x27\x3a\x20\x28\x32\x2c\x20\x33\x29\x2c\x20\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x00\x00"
    "\x80\x3f\x00\x00\x80\x40\x00\x00\x00\x40\x00\x00\xa0\x40\x00\x00\x40\x40\x00\x00\xc0\x40",
    152);
// np.array([-1, 2**40], dtype=np.int64)
const std::string kNumpyI64(
    "\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00\x7b\x27\x64\x65\x73\x63\x72\x27\x3a\x20\x27\x3c\x69\x38\x27\x2c"
    "\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f\x6f\x72\x64\x65\x72\x27\x3a\x20\x46\x61\x6c\x73\x65\x2c\x20\x27"
    "\x73\x68\x61\x70\x65\x27\x3a\x20\x28\x32\x2c\x29\x2c\x20\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\xff\xff"
    "\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x01\x00\x00",
    144);
// np.array(True): a 0-d bool
const std::string kNumpyBool0d(
    "\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00\x7b\x27\x64\x65\x73\x63\x72\x27\x3a\x20\x27\x7c\x62\x31\x27\x2c"
    "\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f\x6f\x72\x64\x65\x72\x27\x3a\x20\x46\x61\x6c\x73\x65\x2c\x20\x27"
    "\x73\x68\x61\x70\x65\x27\x3a\x20\x28\x29\x2c\x20\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x01",
    129);

TEST(TensorIo, WritesNpyExactlyAsNumpyDoes) {
  Tensor t = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(npy_bytes(t), kNumpyC);
  EXPECT_EQ(npy_bytes(Tensor::from_vector<int64_t>({2}, {-1, int64_t(1) << 40})), kNumpyI64);
  EXPECT_EQ(npy_bytes(Tensor::scalar<bool>(true)), kNumpyBool0d);
}

TEST(TensorIo, ReadsCAndFortranOrderNpy) {
  auto c = parse_npy(kNumpyC);
  auto f = parse_npy(kNumpyFortran);
  ASSERT_TRUE(c.has_value()) << c.status().message();
  ASSERT_TRUE(f.has_value()) << f.status().message();
  EXPECT_EQ(c->dims(), (Dims{2, 3}));
  EXPECT_TRUE(c->identical(*f));
  EXPECT_FLOAT_EQ(f->data<float>()[1], 2.f);
  auto b = parse_npy(kNumpyBool0d);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->rank(), 0);
  EXPECT_EQ(b->get_int(0), 1);
}

TEST(TensorIo, MalformedNpyIsAnErrorAtEveryTruncation) {
  for (size_t len = 0; len < kNumpyC.size(); ++len) {
    auto r = parse_npy(std::string_view(kNumpyC).substr(0, len));
    EXPECT_FALSE(r.has_value()) << "length " << len;
  }
  std::string big_endian = kNumpyC;
  big_endian.replace(big_endian.find("<f4"), 3, ">f4");
  auto r = parse_npy(big_endian);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("big-endian"), std::string::npos);
}

TEST(TensorIo, PbAndNpyOfTheExampleInputAgree) {
  std::string dir = std::string(WEEC_SOURCE_DIR) + "/examples/fashion_mnist/";
  std::string name;
  auto pb = read_tensor_pb(dir + "input_0.pb", &name);
  auto npy = read_tensor_file(dir + "input_0.npy");
  ASSERT_TRUE(pb.has_value()) << pb.status().message();
  ASSERT_TRUE(npy.has_value()) << npy.status().message();
  EXPECT_EQ(name, "image");
  EXPECT_EQ(pb->dims(), (Dims{8, 1, 28, 28}));
  EXPECT_TRUE(pb->identical(*npy));
}

TEST(TensorIo, PbRoundTripsEveryDtype) {
  std::string path = (std::filesystem::temp_directory_path() / "weec_io_test.pb").string();
  for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I8, DType::U8, DType::I16,
                  DType::U16, DType::I32, DType::U32, DType::I64, DType::U64, DType::Bool}) {
    Tensor x(t, {3});
    for (int i = 0; i < 3; ++i) x.set_double(i, i == 2 ? 1 : i);
    ASSERT_TRUE(write_tensor_pb(path, x, "x").is_ok());
    auto y = read_tensor_pb(path);
    ASSERT_TRUE(y.has_value()) << y.status().message();
    EXPECT_TRUE(x.identical(*y)) << dtype_name(t);
  }
  std::filesystem::remove(path);
}

TEST(TensorIo, UnknownExtensionAndMissingFileAreErrors) {
  EXPECT_FALSE(read_tensor_file("/tmp/whatever.txt").has_value());
  auto r = read_tensor_file("/nonexistent/x.npy");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("/nonexistent/x.npy"), std::string::npos);
}

}  // namespace
}  // namespace weec
