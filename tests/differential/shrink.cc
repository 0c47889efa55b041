// The shrinker's search: greedy, first candidate that still fails wins, then
// start over from the smaller graph, until no candidate fails.
#include "differential.h"
#include "shrink_edits.h"

namespace weec::diff {

namespace {

// "interp-vs-c" of "interp-vs-c: output 0 ...": a candidate must fail the
// same check, or shrinking could wander from the bug to a different one.
std::string check_name(const std::string& failure) { return failure.substr(0, failure.find(':')); }

}  // namespace

std::string shrink(std::unique_ptr<Graph>& g, Case& c, const Predicate& fails_in) {
  const Predicate fails = fails_in ? fails_in : [](const Case& t) { return check(t); };
  std::string failure = fails(c);
  const std::string name = check_name(failure);
  std::mt19937 rng(1);
  for (bool progress = true; progress && !failure.empty();) {
    progress = false;
    for (Candidate& cand : shrink_candidates(*g)) {
      Case t = c;
      t.graph = cand.graph.get();
      if (cand.fresh_inputs) {
        t.feeds = random_inputs(*t.graph, rng);
        for (auto& sample : t.calib) sample = random_inputs(*t.graph, rng);
      }
      if (std::string f = fails(t); !f.empty() && check_name(f) == name) {
        g = std::move(cand.graph), c = std::move(t), c.graph = g.get(), failure = f, progress = true;
        break;
      }
    }
  }
  return failure;
}

}  // namespace weec::diff
