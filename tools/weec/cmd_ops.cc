// weec ops: the operator table, straight from the op registry.
#include "commands.h"
#include "ops/registry.h"

namespace weec::cli {

Runner add_ops(CLI::App& app) {
  return [] {
    fmt::print("{:<28} {:<10} {:<24} {}\n", "op", "opsets", "fusion kind", "description");
    int n = 0;
    for (int i = 0; i < kNumOps; ++i) {
      const OpSchema& s = op_schema((OpKind)i);
      if (s.onnx_type.empty() || !s.kernel) continue;  // not implemented
      std::string name =
          s.domain.empty() ? std::string(s.onnx_type) : fmt::format("{}.{}", s.domain, s.onnx_type);
      fmt::print("{:<28} {:<10} {:<24} {}\n", name, fmt::format("{}-{}", s.since_opset, s.until_opset),
                 fusion_kind_name(s.fusion), s.doc);
      ++n;
    }
    fmt::print(
        "{} operators. ONNX ops not listed that ONNX defines as functions of other ops\n"
        "(e.g. HannWindow, BlackmanWindow) are expanded into these at import.\n",
        n);
    return Status::ok();
  };
}

}  // namespace weec::cli
