// libFuzzer target: bytes -> text IR parser -> verify -> infer -> plan memory,
// and the printer's promise: a graph that verifies prints to text that
// parses back and prints identically.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "ir/parser.h"
#include "ir/printer.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  weec::fuzz::set_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto g = weec::parse_graph(std::string_view((const char*)data, size));
  if (!g) return 0;
  if (!weec::fuzz::check_graph(**g)) return 0;
  std::string text = weec::print_graph(**g);
  auto again = weec::parse_graph(text);
  if (!again) weec::fuzz::fail("printed text IR does not parse back", again.status().message() + "\n" + text);
  std::string text2 = weec::print_graph(**again);
  if (text2 != text) weec::fuzz::fail("text IR changes on a round trip", text + "\n---\n" + text2);
  return 0;
}
