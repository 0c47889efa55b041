// The im2col copy of QConv's strided form (qconv_emit.cc): per kernel tap,
// the range of output columns whose input column lies inside X is computed
// once, so the copy loops carry no bounds test; rows and columns outside X
// get x_zero_point (which the folded bias cancels: it adds 0 to the sum).
#include "ops/qop_util.h"

namespace weec::qop {

namespace {

bool always_inside(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pad) {
  return pad <= 0 && (out - 1) * s + (k - 1) * d - pad <= in - 1;
}

std::string loop(const std::string& v, const std::string& from, const std::string& to) {
  return fmt::format("for (int32_t {0} = {1}; {0} < {2}; ++{0})", v, from, to);
}

}  // namespace

Plane plane_of(const nn::Window& w) {
  const size_t r = w.rank();
  auto at = [&](const Dims& d, int64_t one) { return r == 2 ? d[0] : one; };
  return {at(w.in, 1),      w.in[r - 1],        at(w.kernel, 1),    w.kernel[r - 1],    at(w.strides, 1),
          w.strides[r - 1], at(w.dilations, 1), w.dilations[r - 1], at(w.pad_begin, 0), w.pad_begin[r - 1],
          at(w.pad_end, 0), w.pad_end[r - 1],   at(w.out, 1),       w.out[r - 1]};
}

void emit_qconv_im2col(CEmitContext& c, const Im2colSpec& s, const std::string& oh0, int64_t rows) {
  const Plane& g = s.g;
  const bool h_in = always_inside(g.H, g.OH, g.KH, g.SH, g.DH, g.PT);
  const bool w_in = always_inside(g.W, g.OW, g.KW, g.SW, g.DW, g.PL);
  const std::string pad = std::to_string(s.x_zp), OW = std::to_string(g.OW);
  std::string ic = c.var("ic"), kh = c.var("kh"), kw = c.var("kw"), rr = c.var("r"), ow = c.var("ow"),
              xp = c.var("xp"), d = c.var("d"), ih = c.var("ih");
  c.w.open("{} {{", loop(ic, "0", std::to_string(s.cin_g)));
  c.w.line("const {}* {} = {} + {} * {};", s.xt, xp, s.x, ic, g.H * g.W);
  c.w.open("{} {} {{", loop(kh, "0", std::to_string(g.KH)), loop(kw, "0", std::to_string(g.KW)));
  c.w.line("{}* {} = {} + (({} * {} + {}) * {} + {}) * {};", s.xt, d, s.col, ic, g.KH, kh, g.KW, kw, s.nb);
  std::string lo = "0", hi = OW;
  if (!w_in) {  // ow * SW + kw * DW - PL in [0, W)
    lo = c.var("lo");
    hi = c.var("hi");
    std::string sh = fmt::format("({} * {} - {})", kw, g.DW, g.PL);
    c.w.line("const int32_t {0} = {1} >= 0 ? 0 : (-{1} + {2}) / {3};", lo, sh, g.SW - 1, g.SW);
    c.w.line(
        "const int32_t {0} = {1} > {2} ? 0 : (({2} - {1}) / {3} + 1 < {4} ? ({2} - {1}) / {3} + 1 : {4});",
        hi, sh, g.W - 1, g.SW, g.OW);
  }
  c.w.open("{} {{", loop(rr, "0", std::to_string(rows)));
  c.w.line("const int32_t {} = ({} + {}) * {} + {} * {} - {};", ih, oh0, rr, g.SH, kh, g.DH, g.PT);
  std::string dr = fmt::format("{}[{} * {} + {}]", d, rr, g.OW, ow);
  if (!h_in) {
    c.w.open("if ({0} < 0 || {0} >= {1}) {{", ih, g.H);
    c.w.line("{} {} = {};", loop(ow, "0", OW), dr, pad);
    c.w.line("continue;");
    c.w.close();
  }
  if (!w_in) c.w.line("{} {} = {};", loop(ow, "0", lo), dr, pad);
  std::string col = g.SW == 1 ? ow : fmt::format("{} * {}", ow, g.SW);
  c.w.line("{} {} = {}[{} * {} + {} + {} * {} - {}];", loop(ow, lo, hi), dr, xp, ih, g.W, col, kw, g.DW,
           g.PL);
  if (!w_in) c.w.line("{} {} = {};", loop(ow, hi, OW), dr, pad);
  c.w.close();
  c.w.close();
  c.w.close();
}

}  // namespace weec::qop
