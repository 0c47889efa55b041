#include "frontend/onnx/proto_scan.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <optional>
#include <vector>

namespace weec {

namespace {

std::optional<uint64_t> read_varint(std::string_view b, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && pos < b.size(); shift += 7) {
    uint8_t c = (uint8_t)b[pos++];
    v |= uint64_t(c & 0x7f) << shift;
    if (!(c & 0x80)) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string diagnose_unparsable_model(std::string_view b) {
  using google::protobuf::Descriptor;
  using google::protobuf::FieldDescriptor;
  struct Frame {
    const Descriptor* type;  // null inside fields we do not descend into
    size_t end;
  };
  std::vector<Frame> stack = {{onnx::ModelProto::descriptor(), b.size()}};
  size_t pos = 0, deepest = 1;
  auto truncated = [&](size_t at) {
    return fmt::format("the file is truncated or corrupt: the field at byte {} runs past the end ({} bytes)",
                       at, b.size());
  };
  while (true) {
    while (!stack.empty() && pos == stack.back().end) stack.pop_back();
    if (stack.empty()) break;
    Frame& f = stack.back();
    size_t at = pos;
    auto past = [&] {
      return f.end == b.size()
                 ? truncated(at)
                 : fmt::format(
                       "the file is corrupt: the field at byte {} runs past the end of its enclosing message",
                       at);
    };
    auto tag = read_varint(b, pos);
    if (!tag || pos > f.end) return past();
    int wire = int(*tag & 7);
    uint64_t number = *tag >> 3;
    if (number == 0) return fmt::format("the file is not a protobuf message: field number 0 at byte {}", at);
    uint64_t len = 0;
    if (wire == 0) {
      if (!read_varint(b, pos) || pos > f.end) return past();
    } else if (wire == 1 || wire == 5) {
      len = wire == 1 ? 8 : 4;
    } else if (wire == 2) {
      auto l = read_varint(b, pos);
      if (!l) return past();
      len = *l;
    } else {
      return fmt::format("the file is not an ONNX model: wire type {} at byte {}", wire, at);
    }
    if (pos > f.end || len > f.end - pos) return past();
    const FieldDescriptor* fd = f.type ? f.type->FindFieldByNumber((int)number) : nullptr;
    if (wire == 2 && fd && fd->type() == FieldDescriptor::TYPE_MESSAGE) {
      stack.push_back({fd->message_type(), pos + len});
      deepest = std::max(deepest, stack.size());
    } else {
      pos += len;
    }
  }
  if (deepest > (size_t)kProtobufNestingLimit)
    return fmt::format(
        "its messages are nested {} deep, more than protobuf's limit of {} (subgraphs nested about {} "
        "levels deep?)",
        deepest, kProtobufNestingLimit, deepest / 3);
  return "the protobuf could not be parsed (truncated, corrupt, or not an .onnx file?)";
}

}  // namespace weec
