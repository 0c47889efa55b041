// libFuzzer target: bytes -> the .npy reader (the bytes half of read_npy).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "io/tensor_file.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  weec::fuzz::set_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto t = weec::parse_npy(std::string_view((const char*)data, size));
  // A tensor that was read must write back to bytes that read the same.
  if (t) {
    auto again = weec::parse_npy(weec::npy_bytes(*t));
    if (!again) weec::fuzz::fail("npy_bytes output does not parse back", again.status().message());
    if (again->dims() != t->dims() || again->dtype() != t->dtype())
      weec::fuzz::fail("npy round trip changes the type", weec::dims_str(t->dims()));
  }
  return 0;
}
