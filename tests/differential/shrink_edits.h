// The shrinker's edits (see shrink() in differential.h): each candidate is a
// copy of the graph that is smaller or simpler in one respect, with types
// inferred again. A candidate whose graph no longer infers is never made.
#pragma once

#include <memory>
#include <vector>

#include "ir/graph.h"

namespace weec::diff {

struct Candidate {
  std::unique_ptr<Graph> graph;
  bool fresh_inputs = false;  // input dims changed: new feeds (and calibration samples) needed
};

// Every candidate for g, cheapest and biggest cuts first: cut after a node,
// cut before one, bypass one; then simpler attributes; then smaller input
// dims and fewer output channels.
std::vector<Candidate> shrink_candidates(const Graph& g);

// Infers g's types again after an edit. A node that no longer fits its new
// input (fewer channels, a shorter K) has its constants cut or tiled to fit
// (conv weights, BatchNorm parameters, Gemm/MatMul weights, broadcast
// constants) and a depthwise conv follows its channel count. False when the
// graph cannot be made to infer.
bool reinfer(Graph& g);

// First n entries of t along `axis`, or t repeated along it when n is larger.
Tensor resize_axis(const Tensor& t, size_t axis, int64_t n);

}  // namespace weec::diff
