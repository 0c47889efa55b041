// Shared by the fuzz targets: resource limits, and the checks every graph a
// target manages to build goes through (the CLI's load path, then planning).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "ir/graph.h"
#include "ir/tensor.h"

namespace weec::fuzz {

// 1 MiB: a few bytes of input can legitimately describe a huge valid tensor
// (a shape, a ConstantOfShape); those are refused like the CLI refuses
// anything over --max-tensor-bytes, instead of running the fuzzer out of memory.
inline constexpr int64_t kMaxTensorBytes = int64_t(1) << 20;

inline void set_limits() { set_max_tensor_bytes(kMaxTensorBytes); }

// verify (with the ops' checks) -> infer shapes -> plan memory. Errors are the expected outcome for most
// inputs; only a crash, a sanitizer report or a broken invariant (`fail`) is a finding. Returns whether the
// graph verified and inferred.
bool check_graph(Graph& g);

// A broken invariant: print it and abort, so libFuzzer saves the input.
[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace weec::fuzz
