// libFuzzer target: bytes -> the ONNX import the CLI uses (parse, precheck,
// checker, import) -> verify -> infer shapes -> plan memory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "frontend/onnx/importer.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  weec::fuzz::set_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // External data resolves against a directory that does not exist, so an
  // input can name files but never read one.
  auto m = weec::import_onnx_bytes(std::string_view((const char*)data, size), "/nonexistent/weec-fuzz");
  if (m) weec::fuzz::check_graph(*m->graph);
  return 0;
}
