#include "differential.h"

#include <cmath>
#include <random>

#include "codegen/c/c_backend.h"
#include "codegen/c/c_runner.h"
#include "interp/interpreter.h"
#include "ops/op_util.h"
#include "ops/registry.h"
#include "ort.h"
#include "passes/pass.h"

namespace weec::diff {

namespace {

std::vector<const Tensor*> ptrs(const std::vector<Tensor>& v) {
  std::vector<const Tensor*> p;
  for (auto& t : v) p.push_back(&t);
  return p;
}

Expected<std::unique_ptr<Graph>> optimised(const Graph& g, const std::string& level,
                                           const std::vector<std::vector<Tensor>>& calib) {
  auto out = g.clone();
  WEEC_ASSIGN_OR_RETURN(std::vector<std::string> passes, pipeline(level));
  PassContext ctx;
  if (!calib.empty()) {
    passes = with_quantization(passes);
    ctx.quantize.calibration = calib;
  }
  WEEC_TRY(PassManager(passes).run(*out, ctx));
  return out;
}

// "" if equal within atol + rtol |e| (0, 0: bit-exact), else the first differences.
std::string compare(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double atol,
                    double rtol) {
  if (got.size() != want.size()) return fmt::format("{} outputs, expected {}", got.size(), want.size());
  std::string msg;
  for (size_t k = 0; k < want.size(); ++k) {
    if (got[k].dims() != want[k].dims() || got[k].dtype() != want[k].dtype())
      return fmt::format("output {}: {} {} vs {} {}", k, dtype_name(got[k].dtype()),
                         fmt::join(got[k].dims(), "x"), dtype_name(want[k].dtype()),
                         fmt::join(want[k].dims(), "x"));
    int bad = 0;
    for (int64_t i = 0; i < want[k].numel() && bad < 3; ++i) {
      const double a = got[k].get_double(i), e = want[k].get_double(i);
      const bool same =
          a == e || (std::isnan(a) && std::isnan(e)) || std::fabs(a - e) <= atol + rtol * std::fabs(e);
      if (!same) msg += fmt::format("{}output {} element {}: {} vs {}", bad++ ? ", " : "", k, i, a, e);
    }
  }
  return msg;
}

Expected<std::vector<Tensor>> run_c(const Graph& g, const Case& c) {
  WEEC_ASSIGN_OR_RETURN(CCodegenResult code, generate_c(g));
  CBuildOptions opt;
  opt.cc = c.cc;
  opt.cflags = c.cflags;
  return run_generated_c(g, code, ptrs(c.feeds), opt);
}

// ORT on g exported vs the interpreter's `want` on g. ORT lacking a kernel is
// counted in `out`, not failed; an export error or a crash is a failure.
std::string check_ort(const Case& c, const Graph& g, const std::vector<Tensor>& want, double atol,
                      double rtol, const std::string& name, OrtOutcome* out) {
  auto r = c.ort->run(g, c.feeds);
  if (!r) {
    const std::string m = r.status().message();
    if (std::string why = ort_unsupported_reason(g, m); !why.empty()) {
      if (out) ++out->unsupported, out->reason = why;
      return "";
    }
    return m.rfind("ORT: ", 0) == 0 ? name + " " + m : name + " export: " + m;
  }
  if (auto d = compare(*r, want, atol, rtol); !d.empty()) return name + ": " + d;
  if (out) ++out->agreed;
  return "";
}

// The graph in f64: f32 inputs and constants become f64 and the types are
// inferred again, so only the rounding to f32 between ops goes (the kernels
// compute in double). An op that refuses f64 gives an error.
Expected<std::unique_ptr<Graph>> as_f64(const Graph& g) {
  auto d = g.clone();
  for (auto& v : d->values()) {
    if (v->type.dtype == DType::F32) v->type.dtype = DType::F64;
    if (v->constant && v->constant->dtype() == DType::F32)
      v->constant = std::make_shared<Tensor>(convert(*v->constant, DType::F64));
  }
  WEEC_TRY(infer_graph(*d));
  return d;
}

std::vector<Tensor> feeds_f64(const std::vector<Tensor>& feeds) {
  std::vector<Tensor> f;
  for (const Tensor& t : feeds) f.push_back(convert(t, DType::F64));
  return f;
}

Expected<std::vector<Tensor>> run_f64(const Graph& g, const std::vector<Tensor>& feeds) {
  WEEC_ASSIGN_OR_RETURN(auto d, as_f64(g));
  return run_graph(*d, ptrs(feeds_f64(feeds)));
}

// Whether ORT's outputs are further from the f64 result than the
// interpreter's wherever the two differ beyond the check's tolerance: then
// ORT's float32 rounding, magnified by an ill-conditioned net (c / x with x
// near 0 after cancellation, say), made the gap, not a weec bug.
bool ort_less_accurate(const Case& c, const Graph& g, const std::vector<Tensor>& ort_out,
                       const std::vector<Tensor>& want, double tol) {
  auto exact = run_f64(g, c.feeds);
  if (!exact || ort_out.size() != want.size() || exact->size() != want.size()) return false;
  for (size_t k = 0; k < want.size(); ++k)
    for (int64_t i = 0; i < want[k].numel(); ++i) {
      const double w = want[k].get_double(i), o = ort_out[k].get_double(i), e = (*exact)[k].get_double(i);
      if (std::fabs(w - o) <= tol + tol * std::fabs(w)) continue;
      if (!(std::fabs(w - e) < std::fabs(o - e))) return false;
    }
  return true;
}

}  // namespace

Expected<std::vector<Tensor>> rounding_spread(const Graph& g, const std::vector<Tensor>& feeds, int trials) {
  WEEC_ASSIGN_OR_RETURN(auto d, as_f64(g));
  const std::vector<Tensor> f = feeds_f64(feeds);
  WEEC_ASSIGN_OR_RETURN(std::vector<Tensor> exact, run_graph(*d, ptrs(f)));
  std::vector<Tensor> spread;
  for (const Tensor& e : exact) spread.push_back(Tensor(DType::F64, e.dims()));
  std::mt19937 rng(1);
  constexpr double two_u = 0x1p-23;  // twice float32's unit roundoff 2^-24
  std::uniform_real_distribution<double> dist(-two_u, two_u);
  auto jiggle = [&](Tensor& t) {
    if (t.dtype() == DType::F64)
      for (int64_t i = 0; i < t.numel(); ++i) t.set_double(i, t.get_double(i) * (1 + dist(rng)));
  };
  for (int trial = 0; trial < trials; ++trial) {
    auto p = d->clone();
    for (auto& v : p->values())
      if (v->constant && v->constant->dtype() == DType::F64) {
        Tensor t = *v->constant;
        jiggle(t);
        v->constant = std::make_shared<Tensor>(std::move(t));
      }
    InterpOptions opt;
    opt.perturb = [&](const Value&, Tensor& t) { jiggle(t); };
    WEEC_ASSIGN_OR_RETURN(std::vector<Tensor> r, run_graph(*p, ptrs(f), opt));
    for (size_t k = 0; k < r.size(); ++k)
      for (int64_t i = 0; i < r[k].numel(); ++i) {
        const double move = std::fabs(r[k].get_double(i) - exact[k].get_double(i));
        if (!(move <= spread[k].get_double(i))) spread[k].set_double(i, move);  // NaN spreads
      }
  }
  return spread;
}

bool within_rounding_spread(const Graph& g, const std::vector<Tensor>& feeds, const std::vector<Tensor>& a,
                            const std::vector<Tensor>& b, double tol, std::string* why) {
  auto spread = rounding_spread(g, feeds);
  if (!spread || spread->size() != a.size() || a.size() != b.size()) return false;
  double worst = 0, worst_gap = 0, worst_spread = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k].numel() != b[k].numel() || a[k].numel() != (*spread)[k].numel()) return false;
    for (int64_t i = 0; i < a[k].numel(); ++i) {
      const double x = a[k].get_double(i), y = b[k].get_double(i);
      const double gap = std::fabs(x - y), sp = (*spread)[k].get_double(i);
      if (x == y || gap <= tol + tol * std::fabs(y)) continue;
      if (!(gap <= kSpreadFactor * sp)) return false;
      if (gap / sp > worst) worst = gap / sp, worst_gap = gap, worst_spread = sp;
    }
  }
  if (why)
    *why = fmt::format("gap {:.3g} = {:.2f} rounding spreads of {:.3g}", worst_gap, worst, worst_spread);
  return true;
}

namespace {

// The int8 net as QDQ ONNX (what `weec weenet --int8` writes) in ORT vs the
// same QDQ graph in the interpreter. Both compute float between the
// quantisers, in different orders, so a value near a rounding tie may land
// one step apart: the tolerance is one step of the output's quantiser.
std::string check_ort_qdq(const Case& c, OrtOutcome* out) {
  auto qdq = c.graph->clone();
  PassContext ctx;
  ctx.quantize.calibration = c.calib;
  std::vector<std::string> passes = *pipeline("O1");
  passes.back() = "quantize";
  if (Status st = PassManager(passes).run(*qdq, ctx); !st) return "int8 QDQ: " + st.message();
  auto want = run_graph(*qdq, ptrs(c.feeds));
  if (!want) return "int8 QDQ interp: " + want.status().message();
  double step = 0;
  for (const Value* o : qdq->outputs)
    if (const Node* p = o->producer; p && p->op == OpKind::DequantizeLinear && p->input(1)->constant)
      for (int64_t i = 0; i < p->input(1)->constant->numel(); ++i)
        step = std::max(step, p->input(1)->constant->get_double(i));
  return check_ort(c, *qdq, *want, step * 1.001 + 1e-6, 0, "int8 interp-vs-ort", out);
}

}  // namespace

Tensor random_input(const Dims& dims, std::mt19937& rng) {
  Tensor t(DType::F32, dims);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int64_t i = 0; i < t.numel(); ++i) t.set_double(i, u(rng));
  return t;
}

std::vector<Tensor> random_inputs(const Graph& g, std::mt19937& rng) {
  std::vector<Tensor> v;
  for (const Value* in : g.inputs) v.push_back(random_input(in->type.shape.static_dims(), rng));
  return v;
}

std::string check(const Case& c, OrtOutcome* ort) {
  const Graph& g = *c.graph;
  auto want = run_graph(g, ptrs(c.feeds));
  if (!want) return "interp: " + want.status().message();
  auto o0 = optimised(g, "O0", {});
  auto o2 = optimised(g, "O2", {});
  if (!o0) return "O0 pipeline: " + o0.status().message();
  if (!o2) return "O2 pipeline: " + o2.status().message();
  auto r0 = run_graph(**o0, ptrs(c.feeds));
  auto r2 = run_graph(**o2, ptrs(c.feeds));
  if (!r0 || !r2) return "interp after O0/O2: " + (r0 ? r2.status() : r0.status()).message();
  if (auto d = compare(*r0, *want, 1e-5, 1e-5); !d.empty()) return "O0-vs-interp: " + d;
  if (auto d = compare(*r2, *r0, 1e-5, 1e-5); !d.empty()) {
    // -O2 rounds folded constants (BatchNorm into Conv weights) to f32:
    // one ulp there is magnified by an ill-conditioned net.
    std::string why;
    if (!within_rounding_spread(g, c.feeds, *r2, *r0, 1e-5, &why)) return "O0-vs-O2: " + d;
    if (ort) ++ort->ill_conditioned, ort->ill_check = "O0-vs-O2 (" + why + ")";
  }
  auto cr = run_c(**o2, c);
  if (!cr) return "C: " + cr.status().message();
  if (auto d = compare(*cr, *want, 1e-4, 1e-4); !d.empty()) {
    // An ill-conditioned net (say c / x with x near 0) magnifies the gap
    // between the interpreter's double accumulation and float32 code; if
    // ORT, an independent float32 implementation, agrees with the C, that
    // is the cause: counted, not failed (ORT-vs-interp is then skipped).
    auto r = c.ort ? c.ort->run(g, c.feeds) : Expected<std::vector<Tensor>>(error("no ORT"));
    const bool ort_agrees = r && compare(*r, *cr, 1e-4, 1e-4).empty();
    std::string why = "the C agrees with ORT";
    if (!ort_agrees && !within_rounding_spread(g, c.feeds, *cr, *want, 1e-4, &why))
      return "interp-vs-c: " + d;
    if (ort) ++ort->ill_conditioned, ort->ill_check = "interp-vs-c (" + why + ")";
  } else if (c.ort) {
    if (auto e = check_ort(c, g, *want, 1e-4, 1e-4, "interp-vs-ort", ort); !e.empty()) {
      auto r = c.ort->run(g, c.feeds);
      std::string why = "ORT further than the interpreter from f64";
      if (!r || (!ort_less_accurate(c, g, *r, *want, 1e-4) &&
                 !within_rounding_spread(g, c.feeds, *r, *want, 1e-4, &why)))
        return e;
      if (ort) ++ort->ill_conditioned, ort->ill_check = "interp-vs-ort (" + why + ")";
    }
  }
  if (c.calib.empty()) return "";
  auto q = optimised(g, "O2", c.calib);
  if (!q) return "int8 pipeline: " + q.status().message();
  auto qi = run_graph(**q, ptrs(c.feeds));
  if (!qi) return "int8 interp: " + qi.status().message();
  auto qc = run_c(**q, c);
  if (!qc) return "int8 C: " + qc.status().message();
  if (auto d = compare(*qc, *qi, 0, 0); !d.empty()) return "int8 interp-vs-c: " + d;
  return c.ort ? check_ort_qdq(c, ort) : "";
}

}  // namespace weec::diff
