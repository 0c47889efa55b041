// WeeNet layers of the convolution family: Conv, ConvTranspose, pools.
#include <algorithm>
#include <cmath>

#include "weenet/generator.h"

namespace weec::weenet {

namespace {

// A window over one spatial axis: kernel, stride, dilation, pads.
struct Axis {
  int64_t k = 1, s = 1, d = 1, pb = 0, pe = 0;
  int64_t span() const { return (k - 1) * d + 1; }
};

std::string ints_text(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "x" : "") + std::to_string(v[i]);
  return s;
}

// Divisors of n.
std::vector<int64_t> divisors(int64_t n) {
  std::vector<int64_t> d;
  for (int64_t i = 1; i <= n; ++i)
    if (n % i == 0) d.push_back(i);
  return d;
}

struct Window {
  std::vector<Axis> axes;
  std::string auto_pad = "NOTSET";

  std::vector<int64_t> field(int64_t Axis::*m) const {
    std::vector<int64_t> v;
    for (auto& a : axes) v.push_back(a.*m);
    return v;
  }
  std::vector<int64_t> pads() const {
    std::vector<int64_t> v;
    for (auto& a : axes) v.push_back(a.pb);
    for (auto& a : axes) v.push_back(a.pe);
    return v;
  }
  void set_attrs(AttrMap& m, bool with_dilations) const {
    m["kernel_shape"] = Attribute::of_ints(field(&Axis::k));
    m["strides"] = Attribute::of_ints(field(&Axis::s));
    if (with_dilations) m["dilations"] = Attribute::of_ints(field(&Axis::d));
    if (auto_pad == "NOTSET")
      m["pads"] = Attribute::of_ints(pads());
    else
      m["auto_pad"] = Attribute::of_string(auto_pad);
  }
  std::string text() const {
    std::string s = fmt::format("k={} s={} d={}", ints_text(field(&Axis::k)), ints_text(field(&Axis::s)),
                                ints_text(field(&Axis::d)));
    if (auto_pad == "NOTSET") return s + fmt::format(" pads=[{}]", fmt::join(pads(), ","));
    return s + " auto_pad=" + auto_pad;
  }
};

// Output length of a forward window (conv, pool) or 0 if it does not fit.
int64_t out_len(int64_t in, const Axis& a, const std::string& auto_pad, bool ceil_mode = false) {
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") return (in + a.s - 1) / a.s;
  const int64_t room = in + a.pb + a.pe - a.span();
  if (room < 0) return 0;
  return (ceil_mode ? (room + a.s - 1) / a.s : room / a.s) + 1;
}

}  // namespace

Value* Generator::conv(Value* x) {
  const Dims xd = dims_of(x);
  if (xd.size() != 3 && xd.size() != 4) return nullptr;
  const int64_t C = xd[1];
  // Groups: 1, depthwise or another divisor; outputs per group 1-4.
  std::vector<int64_t> gs = divisors(C);
  int64_t group = rng.coin(0.4) ? 1 : rng.coin(0.5) ? C : rng.pick(gs);
  const int64_t per_group = rng.coin(0.3) ? 1 : rng.uniform(1, std::max<int64_t>(1, 12 / group));
  const int64_t cout = std::min<int64_t>(group * per_group, std::max<int64_t>(group, 24));
  if (cout % group) return nullptr;
  Window w;
  const double r = rng.real(0, 1);
  w.auto_pad = r < 0.12 ? "SAME_UPPER" : r < 0.2 ? "SAME_LOWER" : r < 0.27 ? "VALID" : "NOTSET";
  Dims yd = {xd[0], cout};
  for (size_t i = 2; i < xd.size(); ++i) {
    Axis a;
    a.d = rng.coin(0.25) ? rng.uniform(2, 3) : 1;
    a.k = rng.uniform(1, 5);
    while (a.k > 1 && a.span() > xd[i] + 2) --a.k;  // keep most windows inside the input
    a.s = rng.coin(0.35) ? rng.uniform(2, 3) : 1;
    if (w.auto_pad == "NOTSET") {
      a.pb = rng.coin(0.5) ? rng.uniform(0, a.span() - 1) : 0;
      a.pe = rng.coin(0.5) ? rng.uniform(0, a.span() - 1) : a.pb;
    }
    const int64_t o = out_len(xd[i], a, w.auto_pad);
    if (o < 1) return nullptr;
    yd.push_back(o);
    w.axes.push_back(a);
  }
  if (!fits(yd)) return nullptr;
  const int64_t cin_g = C / group;
  Dims wd = {cout, cin_g};
  int64_t fan_in = cin_g;
  for (auto& a : w.axes) {
    wd.push_back(a.k);
    fan_in *= a.k;
  }
  AttrMap attrs;
  w.set_attrs(attrs, true);
  if (group != 1) attrs["group"] = Attribute::of_int(group);
  std::vector<Value*> in = {x, weights(wd, 1.0 / std::sqrt(double(fan_in)))};
  const bool bias = rng.coin(0.7);
  if (bias) in.push_back(weights({cout}, 0.5));
  log.push_back(fmt::format("conv{}d {}->{} {} group={}{}{}", xd.size() - 2, C, cout, w.text(), group,
                            group == C && group > 1 ? " (depthwise)" : "", bias ? " bias" : ""));
  return op(OpKind::Conv, in, attrs);
}

Value* Generator::conv_transpose(Value* x) {
  const Dims xd = dims_of(x);
  if (xd.size() != 3 && xd.size() != 4) return nullptr;
  const int64_t C = xd[1];
  const int64_t group = rng.coin(0.7) ? 1 : rng.pick(divisors(C));
  const int64_t cout = group * rng.uniform(1, std::max<int64_t>(1, 8 / group));
  std::vector<int64_t> out_pad;
  Dims yd = {xd[0], cout}, wd = {C, cout / group};
  Window w;
  for (size_t i = 2; i < xd.size(); ++i) {
    Axis a;
    a.k = rng.uniform(1, 4);
    a.s = rng.uniform(1, 3);
    a.d = rng.coin(0.2) ? 2 : 1;
    a.pb = rng.uniform(0, a.span() - 1);
    a.pe = rng.coin(0.5) ? a.pb : rng.uniform(0, a.span() - 1);
    const int64_t op_pad = rng.coin(0.3) ? rng.uniform(0, std::max(a.s, a.d) - 1) : 0;
    const int64_t o = a.s * (xd[i] - 1) + op_pad + a.span() - a.pb - a.pe;
    if (o < 1) return nullptr;
    yd.push_back(o);
    wd.push_back(a.k);
    out_pad.push_back(op_pad);
    w.axes.push_back(a);
  }
  if (!fits(yd)) return nullptr;
  AttrMap attrs;
  w.set_attrs(attrs, true);
  if (group != 1) attrs["group"] = Attribute::of_int(group);
  if (std::any_of(out_pad.begin(), out_pad.end(), [](int64_t p) { return p != 0; }))
    attrs["output_padding"] = Attribute::of_ints(out_pad);
  std::vector<Value*> in = {x, weights(wd, 0.5)};
  if (rng.coin(0.5)) in.push_back(weights({cout}, 0.5));
  log.push_back(fmt::format("conv_transpose{}d {}->{} {} group={} output_padding={}", xd.size() - 2, C, cout,
                            w.text(), group, ints_text(out_pad)));
  return op(OpKind::ConvTranspose, in, attrs);
}

Value* Generator::pool(Value* x) {
  const Dims xd = dims_of(x);
  if (xd.size() != 3 && xd.size() != 4) return nullptr;
  const bool max = rng.coin(0.5);
  Window w;
  // ceil_mode only without padding: where a last window would start in the
  // end padding, runtimes disagree (ONNX's reference drops it, some don't).
  const bool padded = rng.coin(0.4), ceil_mode = !padded && rng.coin(0.3);
  Dims yd = {xd[0], xd[1]};
  for (size_t i = 2; i < xd.size(); ++i) {
    Axis a;
    a.k = std::min<int64_t>(rng.uniform(1, 3), xd[i]);
    a.s = rng.uniform(1, 3);
    a.d = max && rng.coin(0.15) && 2 * a.k - 1 <= xd[i] ? 2 : 1;
    if (padded) {
      a.pb = rng.uniform(0, a.k - 1);
      a.pe = rng.uniform(0, a.k - 1);
    }
    const int64_t o = out_len(xd[i], a, "NOTSET", ceil_mode);
    if (o < 1) return nullptr;
    yd.push_back(o);
    w.axes.push_back(a);
  }
  AttrMap attrs;
  w.set_attrs(attrs, max);
  if (ceil_mode) attrs["ceil_mode"] = Attribute::of_int(1);
  const bool include_pad = !max && padded && rng.coin(0.5);
  if (include_pad) attrs["count_include_pad"] = Attribute::of_int(1);
  log.push_back(fmt::format("{}pool{}d {}{}{}", max ? "max" : "avg", xd.size() - 2, w.text(),
                            ceil_mode ? " ceil_mode" : "", include_pad ? " count_include_pad" : ""));
  return op(max ? OpKind::MaxPool : OpKind::AveragePool, {x}, attrs);
}

Value* Generator::global_pool(Value* x) {
  if (dims_of(x).size() < 3) return nullptr;
  const bool max = !spec_.int8 && rng.coin(0.4);
  log.push_back(max ? "global_max_pool" : "global_avg_pool");
  return op(max ? OpKind::GlobalMaxPool : OpKind::GlobalAveragePool, {x});
}

}  // namespace weec::weenet
