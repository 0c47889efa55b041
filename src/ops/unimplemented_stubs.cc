// TRANSITIONAL: weak fallbacks so the tree links while op files are written.
// An op whose file does not exist yet has no ONNX mapping, so the importer
// reports it as unsupported. Removed once every op in ops.def has a file.
#include "ops/op.h"

namespace weec {
#define WEEC_OP(name)                                            \
  __attribute__((weak)) const OpSchema& schema_##name() {        \
    static const OpSchema s{OpKind::name, "", "", 1, 0};         \
    return s;                                                    \
  }
#include "ops/ops.def"
#undef WEEC_OP
}  // namespace weec
