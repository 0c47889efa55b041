// A run of weec_differential over consecutive seeds: options, the optional
// ONNX Runtime server, worker processes and the totals they report.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "differential.h"
#include "ort.h"

namespace weec::diff {

struct Options {
  uint64_t seeds = 500, first = 0;
  std::string kind = "any", save, cc = "cc", ort = "auto";
  std::vector<std::string> cflags = {"-O2"};
  int int8_every = 2, ort_every = 1, jobs = 1;
  bool no_shrink = false, pch = true;
};

// <immintrin.h>, which the generated C includes for its SIMD kernels, takes
// ~0.3-1 s of each compile (more than the model itself); a precompiled copy
// passed with -include cuts a compile to a fifth. Built once per run with
// o.cc and o.cflags (gcc ignores a PCH built with other options and parses
// the header as usual, so a mismatch costs time, never correctness). Adds
// the -include to o.cflags while alive; does nothing when o.pch is false or
// the compiler cannot build it.
class Pch {
 public:
  explicit Pch(Options& o);
  ~Pch();
  Pch(const Pch&) = delete;
  Pch& operator=(const Pch&) = delete;

 private:
  std::string dir_;
};

// The ORT server when o.ort is "auto" and it starts; else nullptr and `why`.
std::unique_ptr<OrtServer> start_ort(const Options& o, std::string& why);

// A Case with o's compiler settings and `ort` (graph and feeds left empty).
Case make_case(const Options& o, OrtServer* ort);

// Checks seeds [first, first + seeds) in o.jobs processes, shrinking and
// saving failures; prints the totals. Returns the exit status (1 on a failure).
int run_campaign(Options o);

}  // namespace weec::diff
