// RNN, GRU and LSTM (opsets 7-17; opset 14 added `layout`), one layer, any
// direction. One reference kernel serves all three: per direction and batch row
// it steps through the (sequence_lens-limited) sequence, computing every gate as
// in the ONNX equations (gate order i for RNN, zrh for GRU, iofc for LSTM). All
// arithmetic is in double and rounds once into the output dtype, so f16/bf16
// need no separate path. Steps past a row's sequence length leave Y at zero and
// Y_h/Y_c hold the state after the row's last step (the initial state when the
// length is 0). `clip` bounds the gate pre-activations only, not the cell state
// fed to h(), as ONNX Runtime does. Activation alpha/beta values are consumed in
// order by the activations that take them (ONNX Runtime's rule); missing ones
// default to the values of the ONNX operators of the same name.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "ops/c_emit.h"
#include "ops/op_util.h"

namespace weec {

namespace {

enum class Cell { Rnn, Gru, Lstm };

int num_gates(Cell c) { return c == Cell::Rnn ? 1 : c == Cell::Gru ? 3 : 4; }
int num_acts(Cell c) { return c == Cell::Rnn ? 1 : c == Cell::Gru ? 2 : 3; }

struct Act {
  enum Kind {
    Relu,
    Tanh,
    Sigmoid,
    Affine,
    LeakyRelu,
    ThresholdedRelu,
    ScaledTanh,
    HardSigmoid,
    Elu,
    Softsign,
    Softplus
  };
  Kind kind = Tanh;
  double alpha = 0, beta = 0;

  double operator()(double x) const {
    switch (kind) {
      case Relu:
        return x > 0 ? x : 0;
      case Tanh:
        return std::tanh(x);
      case Sigmoid:
        return 1 / (1 + std::exp(-x));
      case Affine:
        return alpha * x + beta;
      case LeakyRelu:
        return x >= 0 ? x : alpha * x;
      case ThresholdedRelu:
        return x > alpha ? x : 0;
      case ScaledTanh:
        return alpha * std::tanh(beta * x);
      case HardSigmoid:
        return std::clamp(alpha * x + beta, 0.0, 1.0);
      case Elu:
        return x >= 0 ? x : alpha * (std::exp(x) - 1);
      case Softsign:
        return x / (1 + std::fabs(x));
      case Softplus:
        return x > 30 ? x : std::log1p(std::exp(x));  // exp overflows far above 30
    }
    return x;
  }
};

struct ActInfo {
  const char* name;
  Act::Kind kind;
  bool uses_alpha, uses_beta;
  double alpha, beta;  // defaults of the ONNX operator of that name
};
constexpr ActInfo kActs[] = {
    {"relu", Act::Relu, false, false, 0, 0},
    {"tanh", Act::Tanh, false, false, 0, 0},
    {"sigmoid", Act::Sigmoid, false, false, 0, 0},
    {"affine", Act::Affine, true, true, 1.0, 0.0},
    {"leakyrelu", Act::LeakyRelu, true, false, 0.01, 0},
    {"thresholdedrelu", Act::ThresholdedRelu, true, false, 1.0, 0},
    {"scaledtanh", Act::ScaledTanh, true, true, 1.0, 1.0},
    {"hardsigmoid", Act::HardSigmoid, true, true, 0.2, 0.5},
    {"elu", Act::Elu, true, false, 1.0, 0},
    {"softsign", Act::Softsign, false, false, 0, 0},
    {"softplus", Act::Softplus, false, false, 0, 0},
};

// Everything the attributes say, validated once for infer and kernel alike.
struct Config {
  Cell cell;
  int dirs = 1;
  bool reverse_only = false;  // direction == "reverse"
  int64_t hidden = -1;        // -1: not given (taken from W)
  int64_t layout = 0;
  bool has_clip = false;
  double clip = 0;
  bool linear_before_reset = false, input_forget = false;
  std::vector<Act> acts;  // num_acts * dirs, per direction in order f, g, h
};

Expected<Config> config_of(const NodeContext& ctx, Cell cell) {
  Config c;
  c.cell = cell;
  const std::string& dir = ctx.attrs.s("direction");
  if (dir == "bidirectional")
    c.dirs = 2;
  else if (dir == "reverse")
    c.reverse_only = true;
  else if (dir != "forward")
    return ctx.error("direction '{}' is not forward, reverse or bidirectional", dir);
  if (ctx.attrs.has("hidden_size")) {
    c.hidden = ctx.attrs.i("hidden_size");
    if (c.hidden <= 0) return ctx.error("hidden_size must be positive, got {}", c.hidden);
  }
  c.layout = ctx.attrs.i("layout");
  if (c.layout != 0 && c.layout != 1) return ctx.error("layout must be 0 or 1, got {}", c.layout);
  if (ctx.attrs.has("clip")) {
    c.has_clip = true;
    c.clip = ctx.attrs.f("clip");
    if (!(c.clip >= 0)) return ctx.error("clip must be non-negative, got {}", c.clip);
  }
  if (cell == Cell::Gru) c.linear_before_reset = ctx.attrs.i("linear_before_reset") != 0;
  if (cell == Cell::Lstm) c.input_forget = ctx.attrs.i("input_forget") != 0;

  const int n = num_acts(cell);
  std::vector<std::string> names = ctx.attrs.strings("activations");
  if (names.empty()) {
    static const char* defaults[] = {"sigmoid", "tanh", "tanh"};
    for (int i = 0; i < n; ++i) names.push_back(cell == Cell::Rnn ? "tanh" : defaults[i]);
  }
  // One set of activations for a bidirectional op applies to both directions.
  if (c.dirs == 2 && (int)names.size() == n) {
    std::vector<std::string> once = names;  // inserting a vector into itself is undefined
    names.insert(names.end(), once.begin(), once.end());
  }
  if ((int)names.size() != n * c.dirs)
    return ctx.error("activations has {} entries, expected {}", names.size(), n * c.dirs);
  const std::vector<float>& alphas = ctx.attrs.floats("activation_alpha");
  const std::vector<float>& betas = ctx.attrs.floats("activation_beta");
  size_t ai = 0, bi = 0;
  for (const std::string& name : names) {
    std::string lower = name;
    for (char& ch : lower) ch = (char)std::tolower((unsigned char)ch);
    const ActInfo* info = nullptr;
    for (const ActInfo& a : kActs)
      if (lower == a.name) info = &a;
    if (!info) return ctx.error("activation '{}' is not supported", name);
    Act act{info->kind, info->alpha, info->beta};
    if (info->uses_alpha && ai < alphas.size()) act.alpha = alphas[ai++];
    if (info->uses_beta && bi < betas.size()) act.beta = betas[bi++];
    c.acts.push_back(act);
  }
  return c;
}

bool rnn_dtype_ok(DType t) { return is_float(t); }

// ---- inference ----

Status rnn_infer(InferContext& ctx, Cell cell) {
  WEEC_ASSIGN_OR_RETURN(Config c, config_of(ctx, cell));
  const TensorType& x = ctx.input_type(0);
  if (!rnn_dtype_ok(x.dtype)) return ctx.error("dtype {} is not supported", dtype_name(x.dtype));
  for (size_t i : {1, 2, 3, 5, 6, 7})
    if (ctx.has_input(i) && ctx.input_type(i).dtype != x.dtype)
      return ctx.error("{} has dtype {}, expected {}", ctx.input_desc(i), dtype_name(ctx.input_type(i).dtype),
                       dtype_name(x.dtype));
  if (ctx.has_input(4) && !is_integer(ctx.input_type(4).dtype))
    return ctx.error("sequence_lens must be an integer tensor");
  Dim seq = Dim::unknown(), batch = Dim::unknown(), hidden = Dim::unknown();
  if (x.shape.rank_known) {
    if (x.shape.rank() != 3) return ctx.error("X must be 3-D, got {}", shape_str(x.shape));
    seq = x.shape.dims[c.layout == 0 ? 0 : 1];
    batch = x.shape.dims[c.layout == 0 ? 1 : 0];
  }
  const TensorType& w = ctx.input_type(1);
  const TensorType& r = ctx.input_type(2);
  if (c.hidden > 0) {
    hidden = Dim::known(c.hidden);
  } else if (r.shape.rank_known && r.shape.rank() == 3 && r.shape.dims[2].is_known()) {
    hidden = r.shape.dims[2];
  } else if (w.shape.rank_known && w.shape.rank() == 3 && w.shape.dims[1].is_known()) {
    hidden = Dim::known(w.shape.dims[1].value / num_gates(cell));
  }
  if (w.shape.rank_known && w.shape.rank() == 3 && hidden.is_known() && w.shape.dims[1].is_known() &&
      w.shape.dims[1].value != num_gates(cell) * hidden.value)
    return ctx.error("W has {} rows, expected {} for hidden_size {}", w.shape.dims[1].value,
                     num_gates(cell) * hidden.value, hidden.value);
  Dim nd = Dim::known(c.dirs);
  Shape y, state;
  y.rank_known = state.rank_known = true;
  y.dims =
      c.layout == 0 ? std::vector<Dim>{seq, nd, batch, hidden} : std::vector<Dim>{batch, seq, nd, hidden};
  state.dims = c.layout == 0 ? std::vector<Dim>{nd, batch, hidden} : std::vector<Dim>{batch, nd, hidden};
  for (size_t k = 0; k < ctx.outputs.size(); ++k) ctx.outputs[k] = TensorType{x.dtype, k == 0 ? y : state};
  return Status::ok();
}

// ---- kernel ----

std::vector<double> doubles_of(const Tensor& t) {
  std::vector<double> v(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.get_double(i);
  return v;
}

Status check_dims(const KernelContext& ctx, size_t i, const char* name, const Dims& want) {
  if (ctx.input(i).dims() != want)
    return ctx.error("{} has shape {}, expected {}", name, dims_str(ctx.input(i).dims()), dims_str(want));
  return Status::ok();
}

// y[0..n) += M * v for the first n rows of a row-major matrix with `cols` columns.
void matvec_add(const double* m, int64_t cols, const double* v, int64_t n, double* y) {
  for (int64_t j = 0; j < n; ++j) {
    const double* row = m + j * cols;
    double acc = 0;
    for (int64_t k = 0; k < cols; ++k) acc += row[k] * v[k];
    y[j] += acc;
  }
}

Status rnn_kernel(KernelContext& ctx, Cell cell) {
  WEEC_ASSIGN_OR_RETURN(Config c, config_of(ctx, cell));
  const Tensor& x = ctx.input(0);
  if (!rnn_dtype_ok(x.dtype())) return ctx.error("dtype {} is not supported", dtype_name(x.dtype()));
  if (x.rank() != 3) return ctx.error("X must be 3-D, got {}", dims_str(x.dims()));
  const int64_t seq = x.dim(c.layout == 0 ? 0 : 1), batch = x.dim(c.layout == 0 ? 1 : 0), in = x.dim(2);
  const int64_t G = num_gates(cell), D = c.dirs;
  const Tensor& w = ctx.input(1);
  if (w.rank() != 3) return ctx.error("W must be 3-D, got {}", dims_str(w.dims()));
  const int64_t H = c.hidden > 0 ? c.hidden : w.dim(1) / G;
  WEEC_TRY(check_dims(ctx, 1, "W", {D, G * H, in}));
  WEEC_TRY(check_dims(ctx, 2, "R", {D, G * H, H}));
  for (size_t i = 1; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && i != 4 && ctx.input(i).dtype() != x.dtype())
      return ctx.error("{} has dtype {}, expected {}", ctx.input_desc(i), dtype_name(ctx.input(i).dtype()),
                       dtype_name(x.dtype()));
  auto opt = [&](size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; };
  const Tensor *b = opt(3), *lens = opt(4), *h0 = opt(5), *c0 = opt(6), *p = opt(7);
  const Dims state_dims = c.layout == 0 ? Dims{D, batch, H} : Dims{batch, D, H};
  if (b) WEEC_TRY(check_dims(ctx, 3, "B", {D, 2 * G * H}));
  if (lens) WEEC_TRY(check_dims(ctx, 4, "sequence_lens", {batch}));
  if (h0) WEEC_TRY(check_dims(ctx, 5, "initial_h", state_dims));
  if (c0) WEEC_TRY(check_dims(ctx, 6, "initial_c", state_dims));
  if (p) WEEC_TRY(check_dims(ctx, 7, "P", {D, 3 * H}));
  std::vector<int64_t> len(batch, seq);
  if (lens)
    for (int64_t bi = 0; bi < batch; ++bi) {
      len[bi] = lens->get_int(bi);
      if (len[bi] < 0 || len[bi] > seq)
        return ctx.error("sequence_lens[{}] = {} is outside [0, {}]", bi, len[bi], seq);
    }

  const std::vector<double> X = doubles_of(x), W = doubles_of(w), R = doubles_of(ctx.input(2));
  const std::vector<double> Bv = b ? doubles_of(*b) : std::vector<double>(D * 2 * G * H, 0.0);
  const std::vector<double> Pv = p ? doubles_of(*p) : std::vector<double>(D * 3 * H, 0.0);
  const std::vector<double> H0 = h0 ? doubles_of(*h0) : std::vector<double>(D * batch * H, 0.0);
  const std::vector<double> C0 = c0 ? doubles_of(*c0) : std::vector<double>(D * batch * H, 0.0);
  // Element offsets for the two layouts.
  auto x_at = [&](int64_t t, int64_t bi) { return (c.layout == 0 ? t * batch + bi : bi * seq + t) * in; };
  auto y_at = [&](int64_t t, int64_t d, int64_t bi) {
    return (c.layout == 0 ? (t * D + d) * batch + bi : (bi * seq + t) * D + d) * H;
  };
  auto s_at = [&](int64_t d, int64_t bi) { return (c.layout == 0 ? d * batch + bi : bi * D + d) * H; };

  std::vector<double> Y(seq * D * batch * H, 0.0), Yh(D * batch * H), Yc(D * batch * H);
  auto clip = [&](double v) { return c.has_clip ? std::clamp(v, -c.clip, c.clip) : v; };
  const int na = num_acts(cell);
  std::vector<double> gx(G * H), gh(G * H), h(H), cs(H), hn(H), rh(H);
  for (int64_t d = 0; d < D; ++d) {
    const bool reverse = c.reverse_only || d == 1;
    const double* Wd = &W[d * G * H * in];
    const double* Rd = &R[d * G * H * H];
    const double* Wb = &Bv[d * 2 * G * H];
    const double* Rb = Wb + G * H;
    const double* Pd = &Pv[d * 3 * H];  // peepholes i, o, f
    const Act* act = &c.acts[d * na];
    for (int64_t bi = 0; bi < batch; ++bi) {
      std::copy_n(&H0[s_at(d, bi)], H, h.begin());
      std::copy_n(&C0[s_at(d, bi)], H, cs.begin());
      for (int64_t s = 0; s < len[bi]; ++s) {
        const int64_t t = reverse ? len[bi] - 1 - s : s;
        // gx = W x + Wb and gh = R h + Rb for every gate; GRU's h gate may redo gh.
        for (int64_t j = 0; j < G * H; ++j) gx[j] = Wb[j], gh[j] = Rb[j];
        matvec_add(Wd, in, &X[x_at(t, bi)], G * H, gx.data());
        matvec_add(Rd, H, h.data(), G * H, gh.data());
        if (cell == Cell::Rnn) {
          for (int64_t j = 0; j < H; ++j) hn[j] = act[0](clip(gx[j] + gh[j]));
        } else if (cell == Cell::Gru) {
          double* z = &gx[0];  // computed in place: z, r, then the candidate
          double* r = &gx[H];
          for (int64_t j = 0; j < H; ++j) {
            z[j] = act[0](clip(z[j] + gh[j]));
            r[j] = act[0](clip(r[j] + gh[H + j]));
          }
          if (!c.linear_before_reset) {
            for (int64_t j = 0; j < H; ++j) rh[j] = r[j] * h[j], gh[2 * H + j] = Rb[2 * H + j];
            matvec_add(Rd + 2 * H * H, H, rh.data(), H, &gh[2 * H]);
            for (int64_t j = 0; j < H; ++j) hn[j] = act[1](clip(gx[2 * H + j] + gh[2 * H + j]));
          } else {
            for (int64_t j = 0; j < H; ++j) hn[j] = act[1](clip(gx[2 * H + j] + r[j] * gh[2 * H + j]));
          }
          for (int64_t j = 0; j < H; ++j) hn[j] = (1 - z[j]) * hn[j] + z[j] * h[j];
        } else {
          for (int64_t j = 0; j < H; ++j) {
            const double a_i = gx[j] + gh[j], a_o = gx[H + j] + gh[H + j];
            const double a_f = gx[2 * H + j] + gh[2 * H + j], a_c = gx[3 * H + j] + gh[3 * H + j];
            const double ig = act[0](clip(a_i + Pd[j] * cs[j]));
            const double fg = c.input_forget ? 1 - ig : act[0](clip(a_f + Pd[2 * H + j] * cs[j]));
            const double cc = act[1](clip(a_c));
            cs[j] = fg * cs[j] + ig * cc;
            const double og = act[0](clip(a_o + Pd[H + j] * cs[j]));
            hn[j] = og * act[2](cs[j]);
          }
        }
        h = hn;
        std::copy_n(h.begin(), H, &Y[y_at(t, d, bi)]);
      }
      std::copy_n(h.begin(), H, &Yh[s_at(d, bi)]);
      std::copy_n(cs.begin(), H, &Yc[s_at(d, bi)]);
    }
  }
  const Dims y_dims = c.layout == 0 ? Dims{seq, D, batch, H} : Dims{batch, seq, D, H};
  const std::vector<double>* results[] = {&Y, &Yh, &Yc};
  for (size_t k = 0; k < ctx.outputs.size(); ++k) {
    Tensor out(x.dtype(), k == 0 ? y_dims : state_dims);
    for (int64_t i = 0; i < out.numel(); ++i) out.set_double(i, (*results[k])[i]);
    ctx.outputs[k] = std::move(out);
  }
  return Status::ok();
}

// ---- C emission: the kernel's loops in C, all arithmetic in double ----

// Static helpers shared by every recurrent node: the activation functions
// (switch on Act::Kind, inlined for literal kinds) and clip.
std::string act_helper(CEmitContext& c) {
  const std::string tanh = c.math("tanh", DType::F64), exp = c.math("exp", DType::F64),
                    log1p = c.math("log1p", DType::F64), fabs = c.math("fabs", DType::F64);
  std::string body =
      "static double weec_rnn_act(int kind, double a, double b, double x) {\n  double v;\n  switch (kind) "
      "{\n";
  auto add = [&](Act::Kind k, const std::string& e) { body += fmt::format("    case {}: {}\n", (int)k, e); };
  add(Act::Relu, "return x > 0 ? x : 0;");
  add(Act::Tanh, fmt::format("return {}(x);", tanh));
  add(Act::Sigmoid, fmt::format("return 1 / (1 + {}(-x));", exp));
  add(Act::Affine, "return a * x + b;");
  add(Act::LeakyRelu, "return x >= 0 ? x : a * x;");
  add(Act::ThresholdedRelu, "return x > a ? x : 0;");
  add(Act::ScaledTanh, fmt::format("return a * {}(b * x);", tanh));
  add(Act::HardSigmoid, "v = a * x + b;\n      return v < 0 ? 0 : 1 < v ? 1 : v;");
  add(Act::Elu, fmt::format("return x >= 0 ? x : a * ({}(x) - 1);", exp));
  add(Act::Softsign, fmt::format("return x / (1 + {}(x));", fabs));
  add(Act::Softplus, fmt::format("return x > 30 ? x : {}({}(x));", log1p, exp));
  body += "    default: (void)v; return x;\n  }\n}\n";
  return c.helper("weec_rnn_act", body);
}

Status rnn_emit_c(CEmitContext& c, Cell cell) {
  WEEC_ASSIGN_OR_RETURN(Config cfg, config_of(c, cell));
  const Dims xd = c.in_dims(0);
  if (xd.size() != 3) return c.error("X must be 3-D, got {}", dims_str(xd));
  const int64_t seq = xd[cfg.layout == 0 ? 0 : 1], batch = xd[cfg.layout == 0 ? 1 : 0], in = xd[2];
  const int64_t G = num_gates(cell), D = cfg.dirs, na = num_acts(cell);
  const Dims wd = c.in_dims(1);
  if (wd.size() != 3) return c.error("W must be 3-D, got {}", dims_str(wd));
  const int64_t H = cfg.hidden > 0 ? cfg.hidden : wd[1] / G, GH = G * H;
  const Dims state_dims = cfg.layout == 0 ? Dims{D, batch, H} : Dims{batch, D, H};
  auto check = [&](size_t i, const Dims& want) -> Status {
    if (c.has_input(i) && c.in_dims(i) != want)
      return c.error("{} has shape {}, expected {}", c.input_desc(i), dims_str(c.in_dims(i)), dims_str(want));
    return Status::ok();
  };
  WEEC_TRY(check(1, {D, GH, in}));
  WEEC_TRY(check(2, {D, GH, H}));
  WEEC_TRY(check(3, {D, 2 * GH}));
  WEEC_TRY(check(4, {batch}));
  WEEC_TRY(check(5, state_dims));
  WEEC_TRY(check(6, state_dims));
  WEEC_TRY(check(7, {D, 3 * H}));
  if (batch == 0 || H == 0) return Status::ok();
  const std::string T = c_type(c.output_dtype(0)), act = act_helper(c);
  auto has_out = [&](size_t k) { return c.node.outputs.size() > k && c.node.outputs[k]; };
  auto in_or_zero = [&](size_t i, const std::string& at) {
    return c.has_input(i) ? fmt::format("(double){}[{}]", c.in(i), at) : std::string("0.0");
  };
  std::string gx = c.scratch(DType::F64, GH, "gx"), gh = c.scratch(DType::F64, GH, "gh"),
              h = c.scratch(DType::F64, H, "h"), hn = c.scratch(DType::F64, H, "hn");
  const std::string cs = cell == Cell::Lstm ? c.scratch(DType::F64, H, "cs") : "",
                    rh = cell == Cell::Gru && !cfg.linear_before_reset ? c.scratch(DType::F64, H, "rh") : "";
  std::string bi = c.var("b"), len = c.var("len"), st = c.var("s"), t = c.var("t"), j = c.var("j"),
              k = c.var("k"), acc = c.var("acc");
  auto loop = [](const std::string& v, const std::string& n) {
    return fmt::format("for (int32_t {0} = 0; {0} < {1}; ++{0})", v, n);
  };
  auto num = [](int64_t v) { return fmt::format("{}", v); };
  auto clip = [&](const std::string& e) {
    if (!cfg.has_clip) return e;
    std::string cl = c_literal(cfg.clip, DType::F64);
    return fmt::format("(({0}) < -{1} ? -{1} : {1} < ({0}) ? {1} : ({0}))", e, cl);
  };
  auto state_at = [&](int64_t d) {
    return cfg.layout == 0 ? fmt::format("({} * {} + {}) * {}", d, batch, bi, H)
                           : fmt::format("({} * {} + {}) * {}", bi, D, d, H);
  };
  // dst[r] += sum_k M[(row0 + r) * cols + k] * v[k] for r < rows, as matvec_add.
  auto matvec = [&](const std::string& m, int64_t row0, int64_t cols, const std::string& v, int64_t rows,
                    const std::string& dst) {
    c.w.open("{} {{", loop(j, num(rows)));
    c.w.line("double {} = 0;", acc);
    c.w.line("{} {} += (double){}[({} + {}) * {} + {}] * {};", loop(k, num(cols)), acc, m, row0, j, cols, k,
             fmt::format(fmt::runtime(v), k));
    c.w.line("{}[{}] += {};", dst, j, acc);
    c.w.close();
  };
  if (has_out(0)) c.w.line("{} {}[{}] = 0;", loop(j, num(c.out_count(0))), c.out(0), j);
  for (int64_t d = 0; d < D; ++d) {
    const bool reverse = cfg.reverse_only || d == 1;
    const Act* a = &cfg.acts[d * na];
    auto f = [&](int slot, const std::string& x) {
      return fmt::format("{}({}, {}, {}, {})", act, (int)a[slot].kind, c_literal(a[slot].alpha, DType::F64),
                         c_literal(a[slot].beta, DType::F64), x);
    };
    c.w.open("{} {{", loop(bi, num(batch)));
    if (c.has_input(4))  // the kernel rejects lengths outside [0, seq]; clamp them here
      c.w.line("const int32_t {0} = {4}{1}[{2}] > {3} ? {3} : (int32_t){1}[{2}];", len, c.in(4), bi, seq,
               is_signed(c.input_dtype(4)) ? fmt::format("{}[{}] < 0 ? 0 : ", c.in(4), bi) : "");
    else
      c.w.line("const int32_t {} = {};", len, seq);
    c.w.line("{} {}[{}] = {};", loop(j, num(H)), h, j, in_or_zero(5, state_at(d) + " + " + j));
    if (cell == Cell::Lstm)
      c.w.line("{} {}[{}] = {};", loop(j, num(H)), cs, j, in_or_zero(6, state_at(d) + " + " + j));
    c.w.open("{} {{", loop(st, len));
    c.w.line("const int32_t {} = {};", t, reverse ? fmt::format("{} - 1 - {}", len, st) : st);
    c.w.open("{} {{", loop(j, num(GH)));
    c.w.line("{}[{}] = {};", gx, j, in_or_zero(3, fmt::format("{} + {}", d * 2 * GH, j)));
    c.w.line("{}[{}] = {};", gh, j, in_or_zero(3, fmt::format("{} + {}", d * 2 * GH + GH, j)));
    c.w.close();
    const std::string x_row = cfg.layout == 0 ? fmt::format("({} * {} + {}) * {}", t, batch, bi, in)
                                              : fmt::format("({} * {} + {}) * {}", bi, seq, t, in);
    matvec(c.in(1), d * GH, in, fmt::format("(double){}[{} + {{}}]", c.in(0), x_row), GH, gx);
    matvec(c.in(2), d * GH, H, h + "[{}]", GH, gh);
    auto g = [&](const std::string& buf, int64_t gate) {
      return fmt::format("{}[{} + {}]", buf, gate * H, j);
    };
    if (cell == Cell::Rnn) {
      c.w.line("{} {}[{}] = {};", loop(j, num(H)), hn, j, f(0, clip(g(gx, 0) + " + " + g(gh, 0))));
    } else if (cell == Cell::Gru) {
      c.w.open("{} {{", loop(j, num(H)));
      c.w.line("{} = {};", g(gx, 0), f(0, clip(g(gx, 0) + " + " + g(gh, 0))));
      c.w.line("{} = {};", g(gx, 1), f(0, clip(g(gx, 1) + " + " + g(gh, 1))));
      c.w.close();
      if (!cfg.linear_before_reset) {
        c.w.open("{} {{", loop(j, num(H)));
        c.w.line("{}[{}] = {} * {}[{}];", rh, j, g(gx, 1), h, j);
        c.w.line("{} = {};", g(gh, 2), in_or_zero(3, fmt::format("{} + {}", d * 2 * GH + GH + 2 * H, j)));
        c.w.close();
        matvec(c.in(2), d * GH + 2 * H, H, rh + "[{}]", H, "(" + gh + " + " + num(2 * H) + ")");
        c.w.line("{} {}[{}] = {};", loop(j, num(H)), hn, j, f(1, clip(g(gx, 2) + " + " + g(gh, 2))));
      } else {
        c.w.line("{} {}[{}] = {};", loop(j, num(H)), hn, j,
                 f(1, clip(g(gx, 2) + " + " + g(gx, 1) + " * " + g(gh, 2))));
      }
      c.w.line("{} {}[{}] = (1 - {}) * {}[{}] + {} * {}[{}];", loop(j, num(H)), hn, j, g(gx, 0), hn, j,
               g(gx, 0), h, j);
    } else {
      std::string ig = c.var("ig"), fg = c.var("fg"), cc = c.var("cc"), og = c.var("og");
      auto peep = [&](int64_t which) {
        return fmt::format("{} * {}[{}]", in_or_zero(7, fmt::format("{} + {}", d * 3 * H + which * H, j)), cs,
                           j);
      };
      c.w.open("{} {{", loop(j, num(H)));
      c.w.line("const double {} = {};", ig,
               f(0, clip(fmt::format("{} + {} + {}", g(gx, 0), g(gh, 0), peep(0)))));
      c.w.line("const double {} = {};", fg,
               cfg.input_forget ? fmt::format("1 - {}", ig)
                                : f(0, clip(fmt::format("{} + {} + {}", g(gx, 2), g(gh, 2), peep(2)))));
      c.w.line("const double {} = {};", cc, f(1, clip(g(gx, 3) + " + " + g(gh, 3))));
      c.w.line("double {};", og);
      c.w.line("{0}[{1}] = {2} * {0}[{1}] + {3} * {4};", cs, j, fg, ig, cc);
      c.w.line("{} = {};", og, f(0, clip(fmt::format("{} + {} + {}", g(gx, 1), g(gh, 1), peep(1)))));
      c.w.line("{}[{}] = {} * {};", hn, j, og, f(2, cs + "[" + j + "]"));
      c.w.close();
    }
    c.w.open("{} {{", loop(j, num(H)));
    c.w.line("{0}[{1}] = {2}[{1}];", h, j, hn);
    if (has_out(0)) {
      std::string y_at = cfg.layout == 0
                             ? fmt::format("(({} * {} + {}) * {} + {}) * {}", t, D, d, batch, bi, H)
                             : fmt::format("(({} * {} + {}) * {} + {}) * {}", bi, seq, t, D, d, H);
      c.w.line("{}[{} + {}] = ({}){}[{}];", c.out(0), y_at, j, T, h, j);
    }
    c.w.close();
    c.w.close();
    if (has_out(1))
      c.w.line("{} {}[{} + {}] = ({}){}[{}];", loop(j, num(H)), c.out(1), state_at(d), j, T, h, j);
    if (has_out(2))
      c.w.line("{} {}[{} + {}] = ({}){}[{}];", loop(j, num(H)), c.out(2), state_at(d), j, T, cs, j);
    c.w.close();
  }
  return Status::ok();
}

// Gate MACs: per step, direction and batch row, G*H*(input + hidden).
int64_t rnn_macs(const Node& n, Cell cell) {
  const Shape& x = n.inputs[0]->type.shape;
  const Shape& r = n.inputs[2]->type.shape;
  if (!x.is_static() || !r.is_static() || x.rank() != 3 || r.rank() != 3) return 0;
  Dims xd = x.static_dims(), rd = r.static_dims();
  return xd[0] * xd[1] * rd[0] * num_gates(cell) * rd[2] * (xd[2] + rd[2]);
}

// Omitted outputs before the last requested one become unused temporaries:
// the C backend (c_function.cc) gives every output slot a buffer and would
// fail on an empty one.
Status rnn_import(ImportContext& ctx, OpKind op) {
  std::vector<Value*> outs = ctx.outputs;
  while (!outs.empty() && !outs.back()) outs.pop_back();
  static const char* names[] = {"Y", "Y_h", "Y_c"};
  for (size_t k = 0; k < outs.size(); ++k)
    if (!outs[k]) outs[k] = ctx.temp(names[k < 3 ? k : 0]);
  ctx.emit(op, ctx.inputs, outs, ctx.attrs);
  return Status::ok();
}

OpSchema rnn_schema(OpKind kind, std::string_view onnx, Cell cell, InferFn infer, KernelFn kernel,
                    MacsFn macs, EmitCFn emit, ImportFn import, std::string_view doc) {
  OpSchema m{kind, onnx};
  m.since_opset = 7;
  m.min_inputs = 3;
  m.max_inputs = cell == Cell::Lstm ? 8 : 6;
  m.min_outputs = 0;
  m.max_outputs = cell == Cell::Lstm ? 3 : 2;
  m.attrs = {attr_floats("activation_alpha", {}),
             attr_floats("activation_beta", {}),
             attr_optional("activations", Attribute::Kind::Strings),
             attr_optional("clip", Attribute::Kind::Float),
             attr_string("direction", "forward"),
             attr_optional("hidden_size", Attribute::Kind::Int),
             attr_int("layout", 0)};
  if (cell == Cell::Gru) m.attrs.push_back(attr_int("linear_before_reset", 0));
  if (cell == Cell::Lstm) m.attrs.push_back(attr_int("input_forget", 0));
  m.fusion = FusionKind::Opaque;
  m.infer = infer;
  m.kernel = kernel;
  m.macs = macs;
  m.emit_c = emit;
  m.import = import;
  m.doc = doc;
  return m;
}

}  // namespace

#define WEEC_RNN_OP(Name, CellKind, doc)                                                       \
  const OpSchema& schema_##Name() {                                                            \
    static const OpSchema s = rnn_schema(                                                      \
        OpKind::Name, #Name, CellKind, [](InferContext& c) { return rnn_infer(c, CellKind); }, \
        [](KernelContext& c) { return rnn_kernel(c, CellKind); },                              \
        [](const Node& n) { return rnn_macs(n, CellKind); },                                   \
        [](CEmitContext& c) { return rnn_emit_c(c, CellKind); },                               \
        [](ImportContext& c) { return rnn_import(c, OpKind::Name); }, doc);                    \
    return s;                                                                                  \
  }
WEEC_RNN_OP(RNN, Cell::Rnn, "simple recurrent layer, Ht = f(W x + R Ht-1 + b)")
WEEC_RNN_OP(GRU, Cell::Gru, "gated recurrent unit layer (gates z, r, h)")
WEEC_RNN_OP(LSTM, Cell::Lstm, "long short-term memory layer (gates i, o, f, c; optional peepholes)")
#undef WEEC_RNN_OP

}  // namespace weec
