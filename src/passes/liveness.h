// Buffers with live intervals over execution steps, and their packing into
// one arena (the offset-assignment half of the memory planner; plan_memory.cc
// computes the intervals from the graph).
#pragma once

#include <cstdint>
#include <vector>

namespace weec {

// Live during steps [start, end] (inclusive); size already aligned.
struct LiveBuffer {
  int64_t start = 0;
  int64_t end = 0;
  int64_t size = 0;
  bool overlaps_in_time(const LiveBuffer& o) const { return start <= o.end && o.start <= end; }
};

// The largest total size of buffers live at one step: no packing is smaller.
int64_t live_lower_bound(const std::vector<LiveBuffer>& buffers);

struct Packing {
  std::vector<int64_t> offsets;  // one per buffer
  int64_t arena = 0;             // max over buffers of offset + size
};

// Greedy by size (largest first, ties by earlier start): each buffer goes to
// the lowest offset, multiple of `alignment`, clear of every already placed
// buffer whose interval intersects its own (so gaps get filled). Then a hill
// climb: swap two buffers in the placement order, re-place, keep the order if
// the arena is not larger; `iterations` tries with a seeded generator,
// stopping at `lower_bound`. Sizes must be multiples of `alignment`.
Packing pack_buffers(const std::vector<LiveBuffer>& buffers, int64_t alignment, int iterations, uint64_t seed,
                     int64_t lower_bound);

}  // namespace weec
