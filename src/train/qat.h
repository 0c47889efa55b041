// Quantisation-aware training (QAT): the model trained with FakeQuantize
// on every weight and activation that `weec compile --quantize` quantises,
// so training sees the rounding and clipping the integer code will do, and
// then written as the QDQ model whose scales `weec compile --quantize` uses.
//
// The selection and the starting parameters come from the quantize pass
// itself (run on calibration samples, recording what it chose), so the QAT
// graph and the compiled graph cannot disagree on what is quantised.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "train/train_graph.h"

namespace weec::train {

struct QatOptions {
  int weight_bits = 8;  // 8 or 4; activations are int8
  // Learned step sizes (LSQ, Esser et al. 2020): every scale is trained.
  // Otherwise activation ranges stay as calibrated and each weight scale
  // follows max |w| / (2^(bits-1) - 1) of the current weights (recomputed
  // after every step), as post-training quantisation would pick it.
  bool lsq = false;
  std::vector<std::vector<Tensor>> calibration;  // samples (one input each) for the starting ranges
};

struct QatModel {
  std::unique_ptr<Graph> graph;  // with FakeQuantize nodes; batch axis symbolic
  StepExtras extras;             // for TrainOptions::extras
  std::function<void(std::vector<Param>& params, std::vector<Param>& fed)> after_step;
  int activations = 0, weights = 0;  // FakeQuantize nodes inserted
};

// The float model simplified as `weec compile` does before quantising
// (BatchNorm folded, input scaling folded, ...), calibrated, and given
// FakeQuantize nodes: per-channel symmetric on weights, per-tensor affine
// int8 on activations.
Expected<QatModel> make_qat_model(const Graph& model, const QatOptions& o);

// The trained QAT graph as the QDQ graph (batch 1) `weec compile --quantize`
// lowers: the FakeQuantize nodes removed and the quantize pass run with their
// scales and zero points instead of calibration.
Expected<std::unique_ptr<Graph>> qat_to_qdq(const Graph& qat, int weight_bits);

}  // namespace weec::train
