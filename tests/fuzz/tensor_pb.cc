// libFuzzer target: bytes -> the ONNX TensorProto `.pb` reader (the bytes
// half of read_tensor_pb, as `weec run` and `weec test` read inputs).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "frontend/onnx/tensor_proto.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  weec::fuzz::set_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // As in onnx_loader: external data may be named but never found.
  (void)weec::parse_tensor_pb(std::string_view((const char*)data, size), "/nonexistent/weec-fuzz");
  return 0;
}
