#include "shrink_edits.h"

#include "ir/verifier.h"
#include "ops/registry.h"

namespace weec::diff {

namespace {

int64_t int_attr(const Node& n, const std::string& key, int64_t def) {
  const Attribute* a = n.attr(key);
  return a ? a->i : def;
}

Dims dims(const Value* v) { return v->type.shape.static_dims(); }

// Replaces n's constant input i by `t` (a fresh constant: the old one may be shared).
void set_const(Graph& g, Node& n, size_t i, Tensor t) {
  n.inputs[i] = g.add_constant(g.unique_name(n.inputs[i]->name), std::move(t));
}

// Resizes n's input i along `axis` to `len` when it is a constant with that axis.
void fit_const(Graph& g, Node& n, size_t i, size_t axis, int64_t len) {
  Value* v = n.input(i);
  if (v && v->constant && axis < v->constant->dims().size() && v->constant->dims()[axis] != len)
    set_const(g, n, i, resize_axis(*v->constant, axis, len));
}

// Makes n's constants fit its first input again (see reinfer).
void adapt(Graph& g, Node& n) {
  const Value* x = n.input(0);
  if (!x || x->constant || !x->type.shape.is_static()) return;
  const Dims xd = dims(x);
  const int64_t C = xd.size() > 1 ? xd[1] : 0;
  const Value* w = n.input(1);
  switch (n.op) {
    case OpKind::Conv: {
      if (!w || !w->constant || xd.size() < 3) return;
      const int64_t group = int_attr(n, "group", 1), per_group = w->constant->dims()[0] / group;
      if (group > 1 && w->constant->dims()[1] == 1) {  // depthwise: one group per channel
        n.attrs["group"] = Attribute::of_int(C);
        fit_const(g, n, 1, 0, C * per_group);
        fit_const(g, n, 2, 0, C * per_group);
        return;
      }
      n.attrs.erase("group");
      fit_const(g, n, 1, 1, C);
      return;
    }
    case OpKind::ConvTranspose:
      n.attrs.erase("group");
      fit_const(g, n, 1, 0, C);
      return;
    case OpKind::BatchNormalization:
      for (size_t i = 1; i < 5; ++i) fit_const(g, n, i, 0, C);
      return;
    case OpKind::Gemm:
      if (xd.size() == 2)
        fit_const(g, n, 1, int_attr(n, "transB", 0) ? 1 : 0, xd[int_attr(n, "transA", 0) ? 0 : 1]);
      return;
    case OpKind::MatMul:
      if (w && w->constant && w->constant->dims().size() >= 2)
        fit_const(g, n, 1, w->constant->dims().size() - 2, xd.back());
      return;
    default:
      // Broadcast constants: an axis (aligned from the right) that is neither 1 nor x's.
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        const Value* v = n.inputs[i];
        if (!v || !v->constant || v->constant->dims().size() > xd.size()) continue;
        const Dims cd = v->constant->dims();
        for (size_t a = 0; a < cd.size(); ++a) {
          const int64_t want = xd[xd.size() - cd.size() + a];
          if (cd[a] != 1 && cd[a] != want) fit_const(g, n, i, a, want);
        }
      }
  }
}

// Drops nodes whose outputs nothing reads (after a bypass).
void remove_dead(Graph& g) {
  for (bool again = true; again;) {
    again = false;
    for (size_t k = g.nodes().size(); k-- > 0;) {
      Node* n = g.nodes()[k].get();
      bool used = false;
      for (Value* v : n->outputs)
        used = used || !g.users(v).empty() ||
               std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
      if (!used) g.remove_node(n), again = true;
    }
  }
  g.remove_unused_values();
}

// Keeps `h` as a candidate if it still infers and verifies, and is not empty.
void add(std::vector<Candidate>& out, std::unique_ptr<Graph> h, bool fresh) {
  if (!h || h->nodes().empty() || !reinfer(*h) || !verify_graph(*h)) return;
  out.push_back({std::move(h), fresh});
}

// g cut after node k (later nodes dropped), before node k (its first
// non-constant input made the graph input), or with node k bypassed.
void cuts(const Graph& g, size_t k, std::vector<Candidate>& out) {
  if (k + 1 < g.nodes().size()) {
    auto h = g.clone();
    h->outputs = {h->nodes()[k]->outputs[0]};
    remove_dead(*h);
    add(out, std::move(h), false);
  }
  auto h = g.clone();
  Node* n = h->nodes()[k].get();
  for (Value* in : n->inputs) {
    if (!in || in->constant || !in->producer) continue;
    auto cut = h->clone();  // before k: the earlier nodes are dropped as dead
    Value* x = cut->add_input(cut->unique_name("x"), in->type);
    cut->replace_all_uses(cut->find_value(in->name), x);
    cut->inputs = {x};
    remove_dead(*cut);
    bool reads_other = false;  // an earlier value still read: not a cut
    for (auto& m : cut->nodes())
      for (Value* v : m->inputs) reads_other = reads_other || (v && !v->constant && !v->producer && v != x);
    if (!reads_other) add(out, std::move(cut), true);
    if (in->type == n->outputs[0]->type) {  // bypass: n's output replaced by this input
      auto by = h->clone();
      by->replace_all_uses(by->find_value(n->outputs[0]->name), by->find_value(in->name));
      for (Value*& o : by->outputs)
        if (o->name == n->outputs[0]->name) o = by->find_value(in->name);
      remove_dead(*by);
      add(out, std::move(by), false);
    }
  }
}

// Node k with attribute `key` set to `a` (`erase`: removed), and its weights
// cut to one tap per spatial axis when `kernel_axis` >= 0.
void with_attr(const Graph& g, size_t k, const std::string& key, const Attribute* a,
               std::vector<Candidate>& out, int kernel_axis = -1) {
  auto h = g.clone();
  Node& n = *h->nodes()[k];
  if (a)
    n.attrs[key] = *a;
  else
    n.attrs.erase(key);
  if (kernel_axis >= 0 && (n.op == OpKind::Conv || n.op == OpKind::ConvTranspose))
    fit_const(*h, n, 1, 2 + kernel_axis, 1);
  if (key == "group" && n.op == OpKind::Conv) fit_const(*h, n, 1, 1, dims(n.inputs[0])[1]);
  if (key == "group" && n.op == OpKind::ConvTranspose)
    fit_const(*h, n, 1, 1, n.outputs[0]->type.shape.static_dims()[1]);
  add(out, std::move(h), false);
}

// Simpler attributes: dilations, strides and kernel sizes of 1, no padding,
// one group, no ceil_mode / count_include_pad / output_padding, alpha = beta = 1.
void simpler_attrs(const Graph& g, size_t k, std::vector<Candidate>& out) {
  const Node& n = *g.nodes()[k];
  for (const auto& [key, a] : n.attrs) {
    if (key == "dilations" || key == "strides" || key == "kernel_shape")
      for (size_t i = 0; i < a.ints.size(); ++i)
        if (a.ints[i] > 1) {
          Attribute b = a;
          b.ints[i] = 1;
          with_attr(g, k, key, &b, out, key == "kernel_shape" ? static_cast<int>(i) : -1);
        }
    const bool nonzero = std::any_of(a.ints.begin(), a.ints.end(), [](int64_t v) { return v != 0; });
    if ((key == "pads" || key == "output_padding") && nonzero) with_attr(g, k, key, nullptr, out);
    if ((key == "group" || key == "ceil_mode" || key == "count_include_pad") && a.i != 0 &&
        !(key == "group" && a.i == 1))
      with_attr(g, k, key, nullptr, out);
    if (key == "auto_pad" && a.s != "NOTSET") with_attr(g, k, key, nullptr, out);
    if ((key == "alpha" || key == "beta") && n.op == OpKind::Gemm && a.f != 1.f)
      with_attr(g, k, key, nullptr, out);
  }
}

// Smaller values for a dim of d: 1, half, one less.
std::vector<int64_t> smaller(int64_t d) {
  std::vector<int64_t> v;
  for (int64_t s : {int64_t{1}, d / 2, d - 1})
    if (s >= 1 && s < d && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
  return v;
}

// Smaller input dims (batch, channels, spatial), and fewer output channels
// of a Conv, ConvTranspose or Gemm (its consumers adapt in reinfer).
void smaller_dims(const Graph& g, std::vector<Candidate>& out) {
  for (size_t i = 0; i < g.inputs.size(); ++i)
    for (size_t a = 0; a < dims(g.inputs[i]).size(); ++a)
      for (int64_t s : smaller(dims(g.inputs[i])[a])) {
        auto h = g.clone();
        Dims d = dims(h->inputs[i]);
        d[a] = s;
        h->inputs[i]->type.shape = Shape::of(d);
        add(out, std::move(h), true);
      }
  for (size_t k = 0; k < g.nodes().size(); ++k) {
    const Node& n = *g.nodes()[k];
    const Value* w = n.input(1);
    const bool ct = n.op == OpKind::ConvTranspose;
    if (!w || !w->constant || (n.op != OpKind::Conv && n.op != OpKind::Gemm && !ct)) continue;
    // Output channels: W's axis 0 (Conv: all groups; Gemm with transB), axis 1
    // (Gemm; ConvTranspose: per group).
    const size_t axis = ct || (n.op == OpKind::Gemm && !int_attr(n, "transB", 0)) ? 1 : 0;
    const int64_t group = int_attr(n, "group", 1), m = n.outputs[0]->type.shape.static_dims()[1];
    const int64_t per = ct ? 1 : group;  // groups along W's axis
    for (int64_t s : smaller(m / group)) {
      auto h = g.clone();
      Node& hn = *h->nodes()[k];
      fit_const(*h, hn, 1, axis, s * per);
      if (Value* b = hn.input(2);
          b && b->constant && b->constant->dims().size() >= 1 && b->constant->dims().back() == m)
        fit_const(*h, hn, 2, b->constant->dims().size() - 1, s * group);
      add(out, std::move(h), false);
    }
  }
}

}  // namespace

Tensor resize_axis(const Tensor& t, size_t axis, int64_t n) {
  Dims d = t.dims();
  const int64_t old = d[axis];
  d[axis] = n;
  Tensor r(t.dtype(), d);
  int64_t inner = 1;
  for (size_t a = axis + 1; a < d.size(); ++a) inner *= d[a];
  for (int64_t i = 0; i < r.numel(); ++i) {
    const int64_t outer = i / (inner * n), j = i / inner % n, in = i % inner;
    r.set_double(i, t.get_double((outer * old + j % old) * inner + in));
  }
  return r;
}

bool reinfer(Graph& g) {
  for (auto& n : g.nodes()) {
    if (infer_node(*n)) continue;
    adapt(g, *n);
    if (!infer_node(*n)) return false;
  }
  g.remove_unused_values();
  for (const Value* o : g.outputs)
    if (!o->type.shape.is_static() || numel_of(dims(o)) == 0) return false;
  return true;
}

std::vector<Candidate> shrink_candidates(const Graph& g) {
  std::vector<Candidate> out;
  for (size_t k = 0; k < g.nodes().size(); ++k) cuts(g, k, out);
  for (size_t k = 0; k < g.nodes().size(); ++k) simpler_attrs(g, k, out);
  smaller_dims(g, out);
  return out;
}

}  // namespace weec::diff
