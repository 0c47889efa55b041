// weec train: trains a model (an ONNX/text-IR file, or an --mlp preset from
// scratch) on .npy/IDX data with the reference interpreter running the
// gradient graph (src/train), and writes the trained model as ONNX.
// Per-epoch loss and accuracy go to stdout, a progress bar to stderr.
#include <unistd.h>

#include <sstream>

#include "commands.h"
#include "frontend/onnx/export.h"
#include "io/tensor_file.h"
#include "train/presets.h"
#include "train/qat.h"
#include "train/trainer.h"

namespace weec::cli {

namespace {

struct TrainArgs {
  std::string model, data, labels, test_data, test_labels, output, mlp, cnn, save_order;
  std::string act = "relu", loss = "ce", optimizer = "sgd", qat;
  std::vector<std::string> input_shapes;
  double lr = 0.01, momentum = 0.9, weight_decay = 0, val_split = 0.1, input_scale = 0;
  int64_t epochs = 5, batch = 64, limit = -1, calib_samples = 500;
  uint64_t seed = 0;
  int threads = 2;
  bool quiet = false, lsq = false;
  std::string schedule = "constant";
};

Expected<Tensor> read_samples(const std::string& path, int64_t limit) {
  WEEC_ASSIGN_OR_RETURN(Tensor t, read_tensor_file(path));
  if (t.rank() == 0) return error("'{}' is a scalar; expected samples along axis 0", path);
  if (limit >= 0 && limit < t.dim(0)) {
    Dims d = t.dims();
    d[0] = limit;
    Tensor cut(t.dtype(), d);
    std::memcpy(cut.raw(), t.raw(), cut.nbytes());
    return cut;
  }
  return t;
}

Expected<std::vector<int64_t>> parse_sizes(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    try {
      size_t used = 0;
      out.push_back(std::stoll(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      return error("--mlp '{}': '{}' is not a layer size", s, item);
    }
  }
  return out;
}

void progress_bar(const train::Progress& p, int64_t epochs) {
  const int width = 30, filled = (int)(width * p.done / std::max<int64_t>(p.total, 1));
  fmt::print(stderr, "\repoch {}/{} [{}{}] {}/{} loss {:.4f}", p.epoch, epochs, std::string(filled, '='),
             std::string(width - filled, ' '), p.done, p.total, p.loss);
  if (p.done == p.total) fmt::print(stderr, "\r{:80}\r", "");
}

Status run_train(const TrainArgs& a) {
  if (a.model.empty() + a.mlp.empty() + a.cnn.empty() != 2)
    return error("give one of a MODEL file, --mlp SIZES or --cnn SPEC");
  const train::Loss loss = a.loss == "mse" ? train::Loss::Mse : train::Loss::CrossEntropy;
  WEEC_ASSIGN_OR_RETURN(Tensor x, read_samples(a.data, a.limit));
  WEEC_ASSIGN_OR_RETURN(Tensor y, read_samples(a.labels, a.limit));
  std::unique_ptr<Graph> model;
  // A preset's input scaling: --input-scale, or standardise with the
  // training data's mean and standard deviation (a pass over all of it, so
  // only for the presets; a model file keeps its own preprocessing).
  auto preset_input = [&](auto& spec) {
    spec.input_scale = a.input_scale, spec.input_shift = 0;
    spec.seed = a.seed;
    if (a.input_scale != 0) return;
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < x.numel(); ++i) sum += x.get_double(i), sq += x.get_double(i) * x.get_double(i);
    const double n = (double)std::max<int64_t>(x.numel(), 1), mean = sum / n;
    const double sd = std::sqrt(std::max(sq / n - mean * mean, 0.0));
    spec.input_scale = sd > 0 ? 1.0 / sd : 1.0;
    spec.input_shift = -mean * spec.input_scale;
  };
  if (!a.mlp.empty()) {
    train::MlpSpec s;
    WEEC_ASSIGN_OR_RETURN(s.sizes, parse_sizes(a.mlp));
    s.act = a.act == "tanh" ? OpKind::Tanh : a.act == "sigmoid" ? OpKind::Sigmoid : OpKind::Relu;
    preset_input(s);
    WEEC_ASSIGN_OR_RETURN(model, train::make_mlp(s));
  } else if (!a.cnn.empty()) {
    WEEC_ASSIGN_OR_RETURN(train::CnnSpec s, train::parse_cnn_spec(a.cnn));
    preset_input(s);
    WEEC_ASSIGN_OR_RETURN(model, train::make_cnn(s));
  } else {
    WEEC_ASSIGN_OR_RETURN(ImportedModel m, load_model(a.model, a.input_shapes));
    model = std::move(m.graph);
  }
  WEEC_ASSIGN_OR_RETURN(train::Dataset data, train::make_dataset(*model, x, y, loss));
  train::TrainOptions o;
  const int weight_bits = a.qat == "int4" ? 4 : 8;
  if (!a.qat.empty()) {
    // The starting ranges: calibration on the first training samples, as
    // `weec compile --quantize --calib` would do it.
    train::QatOptions q;
    q.weight_bits = weight_bits;
    q.lsq = a.lsq;
    for (int64_t i = 0; i < std::min<int64_t>(a.calib_samples, data.size()); ++i) {
      Dims d = data.x.dims();
      d[0] = 1;
      Tensor t(DType::F32, d);
      std::memcpy(t.raw(), (const char*)data.x.raw() + i * t.nbytes(), t.nbytes());
      q.calibration.push_back({std::move(t)});
    }
    WEEC_ASSIGN_OR_RETURN(train::QatModel qm, train::make_qat_model(*model, q));
    fmt::print(
        "QAT {}: fake-quantised {} activations (int8) and {} weight tensors ({}-bit, per channel); {}\n",
        a.qat, qm.activations, qm.weights, weight_bits,
        a.lsq ? "step sizes learned (LSQ)" : "activation ranges calibrated, weight scales track max |w|");
    model = std::move(qm.graph);
    o.extras = qm.extras;
    o.after_step = qm.after_step;
  }
  o.loss = loss;
  o.opt.kind =
      a.optimizer == "adam" ? train::OptimizerOptions::Kind::Adam : train::OptimizerOptions::Kind::Sgd;
  o.opt.lr = a.lr;
  o.opt.momentum = a.optimizer == "sgd" ? a.momentum : 0.0;
  o.opt.weight_decay = a.weight_decay;
  o.epochs = a.epochs;
  o.batch = a.batch;
  o.seed = a.seed;
  o.val_fraction = a.val_split;
  o.threads = a.threads;
  o.cosine = a.schedule == "cosine";
  std::vector<int64_t> orders;
  if (!a.save_order.empty())
    o.on_order = [&](int64_t, const std::vector<int64_t>& order) {
      orders.insert(orders.end(), order.begin(), order.end());
    };
  int64_t params = 0;
  for (const auto& p : train::trainable_params(*model)) params += p.data.numel();
  fmt::print(
      "training {} ({} parameters) on {} samples of '{}': {} loss, {} lr {}, batch {}, {} epochs, "
      "{} threads, seed {}\n",
      !a.mlp.empty()   ? "mlp " + a.mlp
      : !a.cnn.empty() ? "cnn " + a.cnn
                       : a.model,
      params, data.size(), a.data, a.loss, a.optimizer, a.lr, a.batch, a.epochs, a.threads, a.seed);
  const bool tty = !a.quiet && isatty(2);
  auto on_epoch = [&](const train::EpochStats& s) {
    std::string line = fmt::format("epoch {}/{}: loss {:.4f}", s.epoch, a.epochs, s.loss);
    if (s.accuracy >= 0) line += fmt::format(" acc {:.2f}%", 100 * s.accuracy);
    if (s.val_samples > 0) {
      line += fmt::format(" | val loss {:.4f}", s.val_loss);
      if (s.val_accuracy >= 0) line += fmt::format(" acc {:.2f}%", 100 * s.val_accuracy);
    }
    fmt::print("{} | {:.1f} s\n", line, s.seconds);
    std::fflush(stdout);
  };
  auto on_batch = [&](const train::Progress& p) {
    if (tty) progress_bar(p, a.epochs);
  };
  WEEC_TRY(train::train_model(*model, data, o, on_epoch, on_batch).status());
  if (!a.test_data.empty()) {
    WEEC_ASSIGN_OR_RETURN(Tensor tx, read_samples(a.test_data, -1));
    WEEC_ASSIGN_OR_RETURN(Tensor ty, read_samples(a.test_labels, -1));
    WEEC_ASSIGN_OR_RETURN(train::Dataset test, train::make_dataset(*model, tx, ty, loss));
    WEEC_ASSIGN_OR_RETURN(train::EvalStats t, train::evaluate(*model, test, loss, 256));
    fmt::print("test ({} samples of '{}'): loss {:.4f}", test.size(), a.test_data, t.loss);
    if (t.accuracy >= 0) fmt::print(" acc {:.2f}%", 100 * t.accuracy);
    fmt::print("\n");
  }
  if (!a.save_order.empty() && a.epochs > 0) {
    const int64_t per = (int64_t)orders.size() / a.epochs;
    Tensor t(DType::I64, {a.epochs, per});
    std::copy(orders.begin(), orders.end(), t.data<int64_t>());
    WEEC_TRY(write_npy(a.save_order, t));
  }
  if (!a.qat.empty()) {
    // The QDQ model: what `weec compile --quantize` lowers with these scales.
    WEEC_ASSIGN_OR_RETURN(model, train::qat_to_qdq(*model, weight_bits));
  }
  WEEC_TRY(write_onnx(*model, a.output));
  fmt::print("wrote {}{}\n", a.output,
             a.qat.empty() ? "" : " (QDQ: compile it with --quantize " + a.qat + ", no --calib)");
  return Status::ok();
}

}  // namespace

Runner add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  app.option_defaults()->always_capture_default();
  app.add_option("model", a->model, "Model to train (.onnx or .wir); or use --mlp or --cnn");
  app.add_option("--mlp", a->mlp, "Train an MLP from scratch: layer sizes, e.g. 784,128,10");
  app.add_option(
      "--cnn", a->cnn,
      "Train a CNN from scratch: CxHxW:K1,K2,...:CLASSES, e.g. 1x28x28:8,16:10 (per K: Conv 3x3 pad "
      "1, BatchNorm, Relu, MaxPool 2x2; then Flatten and Gemm to CLASSES)");
  app.add_option("--act", a->act, "Activation between --mlp layers")
      ->check(CLI::IsMember({"relu", "tanh", "sigmoid"}));
  app.add_option("--input-scale", a->input_scale,
                 "--mlp/--cnn: multiply inputs by this first (0: standardise them with the training data's "
                 "mean and standard deviation, folded into the model)");
  app.add_option("--input-shape", a->input_shapes, "Bind an input's dims, e.g. input=1x784 (repeatable)");
  app.add_option("--data", a->data, "Training inputs, samples along axis 0 (.npy, .pb or IDX)")->required();
  app.add_option("--labels", a->labels, "Class ids (--loss ce) or targets (--loss mse), one per sample")
      ->required();
  app.add_option("--test-data", a->test_data, "Held-out inputs: report loss and accuracy after training");
  app.add_option("--test-labels", a->test_labels, "Labels or targets of --test-data");
  app.add_option("--loss", a->loss, "ce: softmax cross entropy on logits; mse: mean squared error")
      ->check(CLI::IsMember({"ce", "mse"}));
  app.add_option("--optimizer", a->optimizer, "sgd (with --momentum) or adam")
      ->check(CLI::IsMember({"sgd", "adam"}));
  app.add_option("--lr", a->lr, "Learning rate");
  app.add_option("--lr-schedule", a->schedule,
                 "constant, or cosine: annealed per batch from --lr down to 0 at the end of the last epoch")
      ->check(CLI::IsMember({"constant", "cosine"}));
  app.add_option("--momentum", a->momentum, "SGD momentum");
  app.add_option("--weight-decay", a->weight_decay, "L2 penalty added to the gradient");
  app.add_option("--epochs", a->epochs, "Passes over the training split")->check(CLI::NonNegativeNumber);
  app.add_option("--batch-size", a->batch, "Samples per step")->check(CLI::PositiveNumber);
  app.add_option("--seed", a->seed, "Seeds the initial weights, the split and the shuffles");
  app.add_option("--val-split", a->val_split, "Fraction held out for validation")
      ->check(CLI::Range(0.0, 0.9));
  app.add_option("--threads", a->threads, "Threads sharing each batch")->check(CLI::Range(1, 64));
  app.add_option("--limit", a->limit, "Use the first N training samples");
  app.add_option("-o,--output", a->output, "Trained model (.onnx)")->required();
  app.add_option(
      "--save-order", a->save_order,
      "Write each epoch's order of training samples as .npy [epochs, samples] (to replay the run)");
  app.add_option("--qat", a->qat,
                 "Quantisation-aware training: fake-quantise weights (per channel; int4: 4-bit) and int8 "
                 "activations, and write the QDQ model whose scales `weec compile --quantize` uses. Start "
                 "from a trained float model (fine-tuning)")
      ->check(CLI::IsMember({"int8", "int4"}));
  app.add_flag("--lsq", a->lsq, "--qat: learn the step sizes (LSQ) instead of calibrating them");
  app.add_option("--calib-samples", a->calib_samples,
                 "--qat: training samples that calibrate the starting activation ranges")
      ->check(CLI::PositiveNumber);
  app.add_flag("-q,--quiet", a->quiet, "No progress bar");
  return [a] { return run_train(*a); };
}

}  // namespace weec::cli
