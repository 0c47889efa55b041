// The training loop: mini-batches of a seeded shuffle, the step graph
// (train_graph.h) run by the interpreter on each core's share of the batch,
// gradients averaged, the optimizer step (optimizer.h); a validation split
// evaluated after each epoch. Deterministic for a given seed and thread count.
#pragma once

#include <functional>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "train/optimizer.h"
#include "train/train_graph.h"

namespace weec::train {

struct TrainOptions {
  Loss loss = Loss::CrossEntropy;
  OptimizerOptions opt;
  int64_t epochs = 5, batch = 64;
  uint64_t seed = 0;
  double val_fraction = 0.1;  // held out before training, the same every epoch
  int threads = 2;            // each runs a share of every batch
  // Cosine annealing: step s of S uses lr * (1 + cos(pi s / S)) / 2, from
  // the full rate down to 0 at the end (PyTorch's CosineAnnealingLR with
  // T_max = S, stepped per batch). Otherwise the rate is constant.
  bool cosine = false;
  bool shuffle = true;
  // Called with each epoch's training order (sample indices, batch after
  // batch), e.g. to replay the run in PyTorch.
  std::function<void(int64_t epoch, const std::vector<int64_t>& order)> on_order;
  // Quantisation-aware training (train/qat.h): constants trained besides the
  // weights (LSQ step sizes), constants fed to every step but not trained
  // (weight scales), and a hook after each optimizer step that may update both.
  StepExtras extras;
  std::function<void(std::vector<Param>& params, std::vector<Param>& fed)> after_step;
};

struct EpochStats {
  int64_t epoch = 0, train_samples = 0, val_samples = 0;
  double loss = 0, accuracy = -1;          // over the epoch's batches (accuracy: cross entropy only)
  double val_loss = 0, val_accuracy = -1;  // after the epoch
  double seconds = 0;                      // training only
};

struct Progress {  // called after each batch
  int64_t epoch, done, total;
  double loss;  // running mean over the epoch so far
};

// Prepared samples: x as f32 with the model's per-sample dims, y as int64
// class ids (cross entropy) or f32 shaped as the model's output (MSE).
struct Dataset {
  Tensor x, y;
  int64_t size() const { return x.rank() ? x.dim(0) : 0; }
};
Expected<Dataset> make_dataset(const Graph& model, const Tensor& x, const Tensor& y, Loss loss);

// Trains the model's trainable constants (trainable_params) and
// BatchNormalization statistics in place.
Expected<std::vector<EpochStats>> train_model(Graph& model, const Dataset& data, const TrainOptions& o,
                                              const std::function<void(const EpochStats&)>& on_epoch = {},
                                              const std::function<void(const Progress&)>& on_batch = {});

struct EvalStats {
  double loss = 0, accuracy = -1;
};
// Loss and accuracy of the model on samples [first, first + count) of data
// (all when count < 0), in batches.
Expected<EvalStats> evaluate(const Graph& model, const Dataset& data, Loss loss, int64_t batch,
                             const std::vector<int64_t>* order = nullptr);

}  // namespace weec::train
