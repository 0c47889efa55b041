// C emission of the normalisation ops (see nn_emit.h). They follow their
// kernels in normalization.cc: statistics in double, two-pass variances,
// the same operation order, one rounding into the output dtype.
#include "ops/nn_emit.h"

namespace weec::nn {

namespace {

std::string loop(const std::string& v, int64_t n) {
  return fmt::format("for (int32_t {0} = 0; {0} < {1}; ++{0})", v, n);
}

std::string dbl(double v) { return c_literal(v, DType::F64); }

// N, C and the plane size of an (N, C, ...) input.
Status nc_plane(CEmitContext& c, int64_t& n, int64_t& ch, int64_t& plane) {
  const Dims xd = c.in_dims(0);
  if (xd.size() < 2) return c.error("input must have rank >= 2, got {}", xd.size());
  n = xd[0];
  ch = xd[1];
  plane = numel_of(Dims(xd.begin() + 2, xd.end()));
  return Status::ok();
}

// Broadcast index into a tensor of dims `pd` for the element at flat index
// `flat` of `xd` (numpy rules), with constant divisors.
std::string broadcast_at(const Dims& pd, const Dims& xd, const std::string& flat) {
  if (numel_of(pd) == 1) return "0";
  if (pd == xd) return flat;
  const Dims st = broadcast_strides(pd, xd), xs = strides_of(xd);
  std::string e;
  for (size_t d = 0; d < xd.size(); ++d) {
    if (st[d] == 0) continue;
    e += fmt::format("{}{} / {} % {} * {}", e.empty() ? "" : " + ", flat, xs[d], xd[d], st[d]);
  }
  return e.empty() ? "0" : e;
}

}  // namespace

Status emit_batchnorm(CEmitContext& c) {
  int64_t n, ch, plane;
  WEEC_TRY(nc_plane(c, n, ch, plane));
  const int64_t pcount = c.in_count(1);
  const bool per_activation = pcount != ch && pcount == ch * plane;
  if (!per_activation && pcount != ch) return c.error("scale has {} elements for {} channels", pcount, ch);
  for (size_t i = 2; i < 5; ++i)
    if (c.in_count(i) != pcount) return c.error("scale, B, mean and var must have the same size");
  const bool training = c.attrs.i("training_mode") != 0;
  if (training && per_activation) return c.error("training_mode needs per-channel parameters");
  if (!training && c.node.outputs.size() > 1)
    return c.error("running_mean/running_var outputs need training_mode=1");
  const std::string T = c_type(c.output_dtype()), sqrt = c.math("sqrt", DType::F64);
  const std::string eps = dbl(c.attrs.f("epsilon"));
  const std::string x = c.in(0), y = c.out(0);
  std::string ci = c.var("c"), ni = c.var("n"), i = c.var("i"), m = c.var("m"), v = c.var("v"),
              sd = c.var("sd");
  const std::string at = fmt::format("({} * {} + {}) * {} + {}", ni, ch, ci, plane, i);
  c.w.open("{} {{", loop(ci, ch));
  if (training) {
    // Batch statistics over N and the plane; running stats blend with momentum.
    std::string s = c.var("s"), d = c.var("d");
    const double count = (double)(n * plane);
    c.w.line("double {} = 0, {} = 0;", s, v);
    c.w.line("{} {} {} += (double){}[{}];", loop(ni, n), loop(i, plane), s, x, at);
    c.w.line("const double {} = {} / {};", m, s, dbl(count));
    c.w.open("{} {} {{", loop(ni, n), loop(i, plane));
    c.w.line("const double {} = (double){}[{}] - {};", d, x, at, m);
    c.w.line("{} += {} * {};", v, d, d);
    c.w.close();
    c.w.line("{} /= {};", v, dbl(count));
    const std::string mom = dbl(c.attrs.f("momentum"));
    for (size_t k = 1; k < c.node.outputs.size(); ++k) {
      if (!c.node.outputs[k]) continue;
      c.w.line("{}[{}] = ({})((double){}[{}] * {} + {} * (1.0 - {}));", c.out(k), ci,
               c_type(c.output_dtype(k)), c.in(2 + k), ci, mom, k == 1 ? m : v, mom);
    }
  } else if (!per_activation) {
    c.w.line("const double {} = (double){}[{}], {} = (double){}[{}];", m, c.in(3), ci, v, c.in(4), ci);
  }
  if (!per_activation) {
    c.w.line("const double {} = {}({} + {});", sd, sqrt, v, eps);
    c.w.line("{} {} {}[{}] = ({})(((double){}[{}] - {}) / {} * (double){}[{}] + (double){}[{}]);",
             loop(ni, n), loop(i, plane), y, at, T, x, at, m, sd, c.in(1), ci, c.in(2), ci);
  } else {
    // Legacy spatial=0: parameters per (channel, position).
    const std::string p = fmt::format("{} * {} + {}", ci, plane, i);
    c.w.line(
        "{} {} {}[{}] = ({})(((double){}[{}] - (double){}[{}]) / {}((double){}[{}] + {}) * (double){}[{}] + "
        "(double){}[{}]);",
        loop(ni, n), loop(i, plane), y, at, T, x, at, c.in(3), p, sqrt, c.in(4), p, eps, c.in(1), p, c.in(2),
        p);
  }
  c.w.close();
  return Status::ok();
}

Status emit_instancenorm(CEmitContext& c) {
  int64_t n, ch, plane;
  WEEC_TRY(nc_plane(c, n, ch, plane));
  if (c.in_count(1) != ch || c.in_count(2) != ch) return c.error("scale and B must have {} elements", ch);
  const std::string T = c_type(c.output_dtype()), x = c.in(0), y = c.out(0);
  std::string ni = c.var("n"), ci = c.var("c"), i = c.var("i"), base = c.var("base"), m = c.var("m"),
              v = c.var("v"), inv = c.var("inv");
  c.w.open("{} {} {{", loop(ni, n), loop(ci, ch));
  c.w.line("const int32_t {} = ({} * {} + {}) * {};", base, ni, ch, ci, plane);
  c.w.line("double {} = 0, {} = 0;", m, v);
  c.w.line("{} {} += (double){}[{} + {}];", loop(i, plane), m, x, base, i);
  c.w.line("{} /= {};", m, dbl((double)plane));
  c.w.line("{} {} += ((double){}[{} + {}] - {}) * ((double){}[{} + {}] - {});", loop(i, plane), v, x, base, i,
           m, x, base, i, m);
  c.w.line("{} /= {};", v, dbl((double)plane));
  c.w.line("const double {} = 1.0 / {}({} + {});", inv, c.math("sqrt", DType::F64), v,
           dbl(c.attrs.f("epsilon")));
  c.w.line("{} {}[{} + {}] = ({})((double){}[{}] * ((double){}[{} + {}] - {}) * {} + (double){}[{}]);",
           loop(i, plane), y, base, i, T, c.in(1), ci, x, base, i, m, inv, c.in(2), ci);
  c.w.close();
  return Status::ok();
}

Status emit_layernorm(CEmitContext& c) {
  const Dims xd = c.in_dims(0);
  auto axis = normalize_axis(c, c.attrs.i("axis"), (int64_t)xd.size());
  if (!axis) return axis.status();
  int64_t outer = 1;
  for (int64_t i = 0; i < *axis; ++i) outer *= xd[i];
  const int64_t inner = outer ? numel_of(xd) / outer : 0;
  if (outer == 0 || inner == 0) return Status::ok();
  for (size_t i = 1; i < c.num_inputs(); ++i) {
    if (!c.has_input(i)) continue;
    auto bd = broadcast_dims({c.in_dims(i), xd});
    if (!bd || *bd != xd) return c.error("Scale/B shape {} does not broadcast to X", dims_str(c.in_dims(i)));
  }
  const DType t = c.output_dtype();
  const std::string T = c_type(t), x = c.in(0), y = c.out(0);
  std::string o = c.var("o"), i = c.var("i"), m = c.var("m"), v = c.var("v"), inv = c.var("inv"),
              nv = c.var("nv");
  const std::string at = fmt::format("{} * {} + {}", o, inner, i);
  c.w.open("{} {{", loop(o, outer));
  c.w.line("double {} = 0, {} = 0;", m, v);
  c.w.line("{} {} += (double){}[{}];", loop(i, inner), m, x, at);
  c.w.line("{} /= {};", m, dbl((double)inner));
  c.w.line("{} {} += ((double){}[{}] - {}) * ((double){}[{}] - {});", loop(i, inner), v, x, at, m, x, at, m);
  c.w.line("{} /= {};", v, dbl((double)inner));
  c.w.line("const double {} = 1.0 / {}({} + {});", inv, c.math("sqrt", DType::F64), v,
           dbl(c.attrs.f("epsilon")));
  // Stage one rounds the normalised value to X's type, stage two the scaled one.
  c.w.open("{} {{", loop(i, inner));
  c.w.line("const {} {} = ({})(({})(((double){}[{}] - {}) * {}) * (double){}[{}]);", T, nv, T, T, x, at, m,
           inv, c.in(1), broadcast_at(c.in_dims(1), xd, "(" + at + ")"));
  if (c.has_input(2))
    c.w.line("{}[{}] = ({})((double){} + (double){}[{}]);", y, at, T, nv, c.in(2),
             broadcast_at(c.in_dims(2), xd, "(" + at + ")"));
  else
    c.w.line("{}[{}] = {};", y, at, nv);
  c.w.close();
  for (size_t k = 1; k < c.node.outputs.size(); ++k)
    if (c.node.outputs[k])
      c.w.line("{}[{}] = ({}){};", c.out(k), o, c_type(c.output_dtype(k)), k == 1 ? m : inv);
  c.w.close();
  return Status::ok();
}

Status emit_lrn(CEmitContext& c) {
  int64_t n, ch, plane;
  WEEC_TRY(nc_plane(c, n, ch, plane));
  const int64_t size = c.attrs.i("size");
  if (size < 1) return c.error("size must be positive, got {}", size);
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  const double alpha = c.attrs.f("alpha"), beta = c.attrs.f("beta"), bias = c.attrs.f("bias");
  const std::string T = c_type(c.output_dtype()), x = c.in(0);
  std::string ni = c.var("n"), ci = c.var("c"), i = c.var("i"), j = c.var("j"), sq = c.var("sq"),
              v = c.var("v");
  c.w.open("{} {} {} {{", loop(ni, n), loop(ci, ch), loop(i, plane));
  c.w.line("double {} = 0;", sq);
  c.w.open(
      "for (int32_t {0} = {1} < {2} ? 0 : {1} - {2}; {0} <= ({1} + {3} > {4} ? {4} : {1} + {3}); ++{0}) {{",
      j, ci, before, after, ch - 1);
  c.w.line("const double {} = (double){}[({} * {} + {}) * {} + {}];", v, x, ni, ch, j, plane, i);
  c.w.line("{} += {} * {};", sq, v, v);
  c.w.close();
  const std::string at = fmt::format("({} * {} + {}) * {} + {}", ni, ch, ci, plane, i);
  c.w.line("{}[{}] = ({})((double){}[{}] / {}({} + {} / {} * {}, {}));", c.out(0), at, T, x, at,
           c.math("pow", DType::F64), dbl(bias), dbl(alpha), dbl((double)size), sq, dbl(beta));
  c.w.close();
  return Status::ok();
}

Status emit_lpnorm(CEmitContext& c) {
  const Dims xd = c.in_dims(0);
  const int64_t p = c.attrs.i("p");
  if (p != 1 && p != 2) return c.error("p must be 1 or 2, got {}", p);
  if (xd.empty()) return c.error("input must have rank >= 1");
  auto axis = normalize_axis(c, c.attrs.i("axis"), (int64_t)xd.size());
  if (!axis) return axis.status();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < *axis; ++i) outer *= xd[i];
  for (int64_t i = *axis + 1; i < (int64_t)xd.size(); ++i) inner *= xd[i];
  const int64_t len = xd[*axis];
  const std::string T = c_type(c.output_dtype()), x = c.in(0);
  std::string o = c.var("o"), i = c.var("i"), k = c.var("k"), norm = c.var("norm");
  const std::string at = fmt::format("({} * {} + {}) * {} + {}", o, len, k, inner, i);
  c.w.open("{} {} {{", loop(o, outer), loop(i, inner));
  c.w.line("double {} = 0;", norm);
  if (p == 1)
    c.w.line("{} {} += {}((double){}[{}]);", loop(k, len), norm, c.math("fabs", DType::F64), x, at);
  else
    c.w.line("{} {} += (double){}[{}] * (double){}[{}];", loop(k, len), norm, x, at, x, at);
  if (p == 2) c.w.line("{} = {}({});", norm, c.math("sqrt", DType::F64), norm);
  // An all-zero slice stays zero rather than 0/0.
  c.w.line("{} {}[{}] = {} == 0 ? 0 : ({})((double){}[{}] / {});", loop(k, len), c.out(0), at, norm, T, x, at,
           norm);
  c.w.close();
  return Status::ok();
}

Status emit_mvn(CEmitContext& c) {
  const Dims xd = c.in_dims(0);
  Dims kept = xd;
  for (int64_t a : c.attrs.ints("axes")) {
    auto ax = normalize_axis(c, a, (int64_t)xd.size());
    if (!ax) return ax.status();
    kept[*ax] = 1;
  }
  const int64_t groups = numel_of(kept), total = numel_of(xd);
  if (total == 0) return Status::ok();
  const double count = (double)(total / groups);
  const std::string T = c_type(c.output_dtype()), x = c.in(0), y = c.out(0);
  std::string mean = c.scratch(DType::F64, groups, "mean"), var = c.scratch(DType::F64, groups, "var");
  std::string g = c.var("g"), i = c.var("i"), d = c.var("d");
  const std::string gi = broadcast_at(kept, xd, i);
  c.w.line("{} {}[{}] = {}[{}] = 0;", loop(g, groups), mean, g, var, g);
  c.w.line("{} {}[{}] += (double){}[{}];", loop(i, total), mean, gi, x, i);
  c.w.line("{} {}[{}] /= {};", loop(g, groups), mean, g, dbl(count));
  c.w.open("{} {{", loop(i, total));
  c.w.line("const double {} = (double){}[{}] - {}[{}];", d, x, i, mean, gi);
  c.w.line("{}[{}] += {} * {};", var, gi, d, d);
  c.w.close();
  c.w.line("{} {}[{}] = {}({}[{}] / {}) + 1e-9;", loop(g, groups), var, g, c.math("sqrt", DType::F64), var, g,
           dbl(count));
  c.w.line("{} {}[{}] = ({})(((double){}[{}] - {}[{}]) / {}[{}]);", loop(i, total), y, i, T, x, i, mean, gi,
           var, gi);
  return Status::ok();
}

// Inference Dropout is a copy with an all-true mask. Training mode with a
// ratio other than 0 is random (the kernel rejects it), so the C code needs
// a training flag known to be off, or a ratio known to be 0.
Status emit_dropout(CEmitContext& c) {
  const Tensor* ratio = c.input_constant(1);
  const Tensor* training = c.input_constant(2);
  const bool not_training =
      !c.has_input(2) || (training && (training->numel() == 0 || training->get_int(0) == 0));
  const bool zero_ratio = ratio && ratio->numel() > 0 && ratio->get_double(0) == 0;
  if (!not_training && !zero_ratio)
    return c.error("training-mode Dropout needs a constant ratio of 0 (random dropout is not supported)");
  std::string i = c.var("i");
  c.w.line("{} {}[{}] = {}[{}];", loop(i, c.out_count(0)), c.out(0), i, c.in(0), i);
  if (c.node.outputs.size() > 1 && c.node.outputs[1])
    c.w.line("{} {}[{}] = 1;", loop(i, c.out_count(1)), c.out(1), i);
  return Status::ok();
}

}  // namespace weec::nn
