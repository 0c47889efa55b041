#include "passes/liveness.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <utility>

namespace weec {

namespace {

// The hill climb stops after visiting this many (buffer, placed neighbour)
// pairs in total, so huge graphs with many simultaneously live buffers plan
// in bounded time. Deterministic, unlike a wall-clock limit.
constexpr int64_t kHillClimbWork = 30'000'000;

int64_t round_up(int64_t v, int64_t a) { return a > 1 ? (v + a - 1) / a * a : v; }

class Placer {
 public:
  Placer(const std::vector<LiveBuffer>& buffers, int64_t alignment)
      : b_(buffers), alignment_(alignment), neighbours_(buffers.size()) {
    // Interval-overlap pairs by a sweep over start times.
    std::vector<size_t> by_start(b_.size());
    std::iota(by_start.begin(), by_start.end(), 0);
    std::stable_sort(by_start.begin(), by_start.end(),
                     [&](size_t x, size_t y) { return b_[x].start < b_[y].start; });
    for (size_t i = 0; i < by_start.size(); ++i) {
      size_t x = by_start[i];
      if (b_[x].size == 0) continue;
      for (size_t j = i + 1; j < by_start.size() && b_[by_start[j]].start <= b_[x].end; ++j) {
        size_t y = by_start[j];
        if (b_[y].size == 0) continue;
        neighbours_[x].push_back(y);
        neighbours_[y].push_back(x);
      }
    }
  }

  // Places buffers in `order`; returns the arena size and fills `offsets`.
  int64_t place(const std::vector<size_t>& order, std::vector<int64_t>& offsets) {
    offsets.assign(b_.size(), -1);
    int64_t arena = 0;
    std::vector<std::pair<int64_t, int64_t>> busy;  // (offset, end) of placed neighbours
    for (size_t x : order) {
      if (b_[x].size == 0) {
        offsets[x] = 0;
        continue;
      }
      busy.clear();
      for (size_t y : neighbours_[x])
        if (offsets[y] >= 0) busy.push_back({offsets[y], offsets[y] + b_[y].size});
      work_ += (int64_t)neighbours_[x].size() + 1;
      std::sort(busy.begin(), busy.end());
      int64_t at = 0;
      for (auto [begin, end] : busy) {
        if (at + b_[x].size <= begin) break;  // fits in the gap before this one
        at = std::max(at, round_up(end, alignment_));
      }
      offsets[x] = at;
      arena = std::max(arena, at + b_[x].size);
    }
    return arena;
  }

  int64_t work() const { return work_; }

 private:
  const std::vector<LiveBuffer>& b_;
  int64_t alignment_;
  std::vector<std::vector<size_t>> neighbours_;
  int64_t work_ = 0;
};

}  // namespace

int64_t live_lower_bound(const std::vector<LiveBuffer>& buffers) {
  // +size at start, -size after end; at equal steps releases come first.
  std::vector<std::pair<int64_t, int64_t>> events;
  for (const LiveBuffer& b : buffers) {
    if (b.size == 0) continue;
    events.push_back({b.start, b.size});
    events.push_back({b.end + 1, -b.size});
  }
  std::sort(events.begin(), events.end());
  int64_t live = 0, peak = 0;
  for (auto [step, delta] : events) {
    live += delta;
    peak = std::max(peak, live);
  }
  return peak;
}

Packing pack_buffers(const std::vector<LiveBuffer>& buffers, int64_t alignment, int iterations, uint64_t seed,
                     int64_t lower_bound) {
  Packing best;
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    if (buffers[x].size != buffers[y].size) return buffers[x].size > buffers[y].size;
    return buffers[x].start < buffers[y].start;
  });
  Placer placer(buffers, alignment);
  best.arena = placer.place(order, best.offsets);
  if (order.size() < 2) return best;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, order.size() - 1);
  std::vector<int64_t> offsets;
  for (int it = 0; it < iterations && best.arena > lower_bound && placer.work() < kHillClimbWork; ++it) {
    size_t i = pick(rng), j = pick(rng);
    if (i == j) continue;
    std::swap(order[i], order[j]);
    int64_t arena = placer.place(order, offsets);
    if (arena <= best.arena) {
      best.arena = arena;
      best.offsets = offsets;
    } else {
      std::swap(order[i], order[j]);
    }
  }
  return best;
}

}  // namespace weec
