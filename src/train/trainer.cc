// train_model and evaluate (trainer.h).
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <thread>

#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec::train {

namespace {

using Clock = std::chrono::steady_clock;

// Rows `idx[from, to)` of t (samples along axis 0).
Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& idx, size_t from, size_t to) {
  Dims d = t.dims();
  d[0] = (int64_t)(to - from);
  Tensor out(t.dtype(), d);
  const size_t row = t.nbytes() / (size_t)std::max<int64_t>(t.dim(0), 1);
  for (size_t i = from; i < to; ++i)
    std::memcpy((char*)out.raw() + (i - from) * row, (const char*)t.raw() + (size_t)idx[i] * row, row);
  return out;
}

void set_constants(Graph& g, const std::vector<Param>& ps) {
  for (const Param& p : ps)
    if (Value* v = g.find_value(p.name)) v->constant = std::make_shared<Tensor>(p.data);
}

// Loss (summed, not averaged) and correct count of logits/outputs y against target t.
void score(const Tensor& y, const Tensor& t, Loss loss, double& loss_sum, int64_t& correct) {
  const int64_t n = y.dim(0), k = y.numel() / std::max<int64_t>(n, 1);
  const float* yp = y.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const float* r = yp + i * k;
    if (loss == Loss::CrossEntropy) {
      const int64_t label = t.data<int64_t>()[i];
      double mx = r[0];
      int64_t arg = 0;
      for (int64_t j = 1; j < k; ++j)
        if (r[j] > mx) mx = r[j], arg = j;
      double s = 0;
      for (int64_t j = 0; j < k; ++j) s += std::exp((double)r[j] - mx);
      loss_sum += std::log(s) + mx - (double)r[label];
      correct += arg == label;
    } else {
      const float* tr = t.data<float>() + i * k;
      double s = 0;
      for (int64_t j = 0; j < k; ++j) s += ((double)r[j] - tr[j]) * ((double)r[j] - tr[j]);
      loss_sum += s / (double)k;
    }
  }
}

// The forward model with a fixed batch, for evaluation.
Expected<std::unique_ptr<Graph>> forward_graph(const Graph& model, int64_t batch) {
  auto g = model.clone();
  g->inputs[0]->type.shape.dims[0] = Dim::known(batch);
  WEEC_TRY(infer_graph(*g));
  return g;
}

}  // namespace

Expected<Dataset> make_dataset(const Graph& model, const Tensor& x, const Tensor& y, Loss loss) {
  if (model.inputs.size() != 1 || model.outputs.size() != 1)
    return Status::error("training: the model needs one input and one output");
  const Shape& in = model.inputs[0]->type.shape;
  if (!in.rank_known || in.rank() < 1) return Status::error("training: the model input needs a batch axis");
  Dims sample;
  for (int64_t a = 1; a < in.rank(); ++a) {
    if (!in.dims[a].is_known())
      return Status::error("training: the model input's non-batch dims must be static");
    sample.push_back(in.dims[a].value);
  }
  if (x.rank() < 1) return Status::error("training: the data needs samples along axis 0");
  const int64_t n = x.dim(0);
  if (x.numel() != n * numel_of(sample))
    return Status::error(fmt::format("training: a sample of the data is {} values, the model input {} ({})",
                                     x.numel() / std::max<int64_t>(n, 1), numel_of(sample),
                                     dims_str(sample)));
  if (y.rank() < 1 || y.dim(0) != n)
    return Status::error(fmt::format("training: {} samples but {} targets", n, y.rank() ? y.dim(0) : 0));
  Dataset d;
  Dims xd = {n};
  xd.insert(xd.end(), sample.begin(), sample.end());
  d.x = convert(x, DType::F32);
  d.x.reshape(xd);
  if (loss == Loss::CrossEntropy) {
    if (!is_integer(y.dtype()) || y.numel() != n)
      return Status::error("training: cross entropy needs one integer class id per sample");
    d.y = convert(y, DType::I64);
    d.y.reshape({n});
  } else {
    d.y = convert(y, DType::F32);
  }
  return d;
}

Expected<EvalStats> evaluate(const Graph& model, const Dataset& data, Loss loss, int64_t batch,
                             const std::vector<int64_t>* order) {
  std::vector<int64_t> all;
  if (!order) {
    all.resize(data.size());
    std::iota(all.begin(), all.end(), 0);
    order = &all;
  }
  std::map<int64_t, std::unique_ptr<Graph>> graphs;
  double loss_sum = 0;
  int64_t correct = 0;
  for (size_t b = 0; b < order->size(); b += (size_t)batch) {
    const size_t e = std::min(order->size(), b + (size_t)batch);
    const int64_t n = (int64_t)(e - b);
    if (!graphs.count(n)) {
      WEEC_ASSIGN_OR_RETURN(graphs[n], forward_graph(model, n));
    }
    Tensor xb = gather_rows(data.x, *order, b, e), yb = gather_rows(data.y, *order, b, e);
    WEEC_ASSIGN_OR_RETURN(std::vector<Tensor> out, run_graph(*graphs[n], {&xb}));
    score(out[0], yb, loss, loss_sum, correct);
  }
  EvalStats s;
  const double count = (double)std::max<size_t>(order->size(), 1);
  s.loss = loss_sum / count;
  if (loss == Loss::CrossEntropy) s.accuracy = (double)correct / count;
  return s;
}

Expected<std::vector<EpochStats>> train_model(Graph& model, const Dataset& data, const TrainOptions& o,
                                              const std::function<void(const EpochStats&)>& on_epoch,
                                              const std::function<void(const Progress&)>& on_batch) {
  if (o.batch < 1 || o.epochs < 0 || o.threads < 1)
    return Status::error("training: bad batch, epochs or threads");
  std::vector<Param> params = trainable_params(model, o.extras.params), state = bn_state(model);
  std::vector<Param> fed = named_constants(model, o.extras.fed);
  for (const Param& p : params)
    if (p.data.dtype() != DType::F32)
      return Status::error(fmt::format("training: parameter %{} is {}; only f32 models train", p.name,
                                       dtype_name(p.data.dtype())));
  std::vector<Tensor*> pp;
  for (Param& p : params) pp.push_back(&p.data);
  Optimizer opt(o.opt, pp);

  // The validation split: a seeded shuffle's first val_fraction of the samples.
  const int64_t n = data.size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(o.seed);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t n_val = std::min<int64_t>(n - 1, (int64_t)std::llround((double)n * o.val_fraction));
  std::vector<int64_t> val(order.begin(), order.begin() + std::max<int64_t>(n_val, 0));
  std::vector<int64_t> tr(order.begin() + std::max<int64_t>(n_val, 0), order.end());
  std::sort(tr.begin(), tr.end());

  std::map<int64_t, StepGraph> steps;  // by share size
  const int64_t per_epoch = ((int64_t)tr.size() + o.batch - 1) / o.batch, total_steps = per_epoch * o.epochs;
  int64_t step_no = 0;
  std::vector<EpochStats> stats;
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto t0 = Clock::now();
    if (o.shuffle) std::shuffle(tr.begin(), tr.end(), rng);
    if (o.on_order) o.on_order(epoch, tr);
    double loss_sum = 0;
    int64_t correct = 0, done = 0;
    for (size_t b = 0; b < tr.size(); b += (size_t)o.batch) {
      const size_t e = std::min(tr.size(), b + (size_t)o.batch);
      const int64_t bn = (int64_t)(e - b);
      // Contiguous shares of the batch, one per thread.
      const int64_t k = std::min<int64_t>(o.threads, bn);
      std::vector<size_t> cut = {b};
      for (int64_t t = 1; t <= k; ++t) cut.push_back(b + (size_t)(bn * t / k));
      std::vector<Expected<std::vector<Tensor>>> outs(k, Status::error("not run"));
      std::vector<std::vector<Tensor>> feeds(k);
      for (int64_t t = 0; t < k; ++t) {
        const int64_t m = (int64_t)(cut[t + 1] - cut[t]);
        if (!steps.count(m)) {
          WEEC_ASSIGN_OR_RETURN(StepGraph sg, build_step_graph(model, m, o.loss, o.extras));
          steps.emplace(m, std::move(sg));
        }
        // The share's inputs and targets (the targets also score its outputs).
        feeds[t].push_back(gather_rows(data.x, tr, cut[t], cut[t + 1]));
        feeds[t].push_back(gather_rows(data.y, tr, cut[t], cut[t + 1]));
      }
      auto run_share = [&](int64_t t) {
        const int64_t m = (int64_t)(cut[t + 1] - cut[t]);
        std::vector<const Tensor*> in = {&feeds[t][0]};
        for (const Param& p : params) in.push_back(&p.data);
        for (const Param& p : state) in.push_back(&p.data);
        for (const Param& p : fed) in.push_back(&p.data);
        in.push_back(&feeds[t][1]);
        outs[t] = run_graph(*steps.at(m).g, in);
      };
      std::vector<std::thread> pool;
      for (int64_t t = 1; t < k; ++t) pool.emplace_back(run_share, t);
      run_share(0);
      for (auto& th : pool) th.join();
      // Mean loss per share: weight each share by its size.
      std::vector<Tensor> grads;
      for (int64_t t = 0; t < k; ++t) {
        if (!outs[t]) return outs[t].status();
        const std::vector<Tensor>& out = *outs[t];
        const float w = (float)(cut[t + 1] - cut[t]) / (float)bn;
        loss_sum += out[0].get_double(0) * (double)(cut[t + 1] - cut[t]);
        double unused = 0;
        score(out[1], feeds[t][1], o.loss, unused, correct);
        for (size_t q = 0; q < params.size(); ++q) {
          const Tensor& gq = out[2 + q];
          if (t == 0) grads.emplace_back(DType::F32, gq.dims());
          float* acc = grads[q].data<float>();
          const float* src = gq.data<float>();
          for (int64_t i = 0; i < gq.numel(); ++i) acc[i] += w * src[i];
        }
        for (size_t q = 0; q < state.size(); ++q) {  // running statistics: the shares' mean
          const Tensor& sq = out[2 + params.size() + q];
          float* dst = state[q].data.data<float>();
          if (t == 0) std::fill(dst, dst + sq.numel(), 0.0f);
          for (int64_t i = 0; i < sq.numel(); ++i) dst[i] += w * sq.data<float>()[i];
        }
      }
      std::vector<const Tensor*> gp;
      for (const Tensor& g : grads) gp.push_back(&g);
      if (o.cosine) opt.set_lr(o.opt.lr * 0.5 * (1 + std::cos(M_PI * (double)step_no / (double)total_steps)));
      opt.step(gp);
      ++step_no;
      if (o.after_step) o.after_step(params, fed);
      done += bn;
      if (on_batch) on_batch({epoch, done, (int64_t)tr.size(), loss_sum / (double)done});
    }
    EpochStats s;
    s.epoch = epoch;
    s.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    s.train_samples = (int64_t)tr.size();
    s.val_samples = (int64_t)val.size();
    s.loss = loss_sum / (double)std::max<int64_t>(done, 1);
    if (o.loss == Loss::CrossEntropy) s.accuracy = (double)correct / (double)std::max<int64_t>(done, 1);
    set_constants(model, params);
    set_constants(model, state);
    set_constants(model, fed);
    if (!val.empty()) {
      WEEC_ASSIGN_OR_RETURN(EvalStats v,
                            evaluate(model, data, o.loss, std::max<int64_t>(o.batch, 256), &val));
      s.val_loss = v.loss;
      s.val_accuracy = v.accuracy;
    }
    stats.push_back(s);
    if (on_epoch) on_epoch(s);
  }
  set_constants(model, params);
  set_constants(model, state);
  set_constants(model, fed);
  return stats;
}

}  // namespace weec::train
