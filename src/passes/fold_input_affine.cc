// Part of simplify-inference: a Mul by / Add of a constant on the *input*
// side of a Gemm, MatMul or Conv folds into its weights and bias, e.g. the
// input normalisation (x / 255 - mean) / std that exported models start with:
//   Gemm(x * c)  = (c W) x + b          Gemm(x + c) = W x + (b + W c)
//   Conv(x * c)  = Conv_{c W}(x)        Conv(x + c) = Conv_W(x) + (b + c sum W)
// c is a scalar, or (Gemm) one value per input feature. Conv takes a scalar
// only, and the Add only without padding (padded zeros would not get + c).
// Weights are recomputed in double and stored in their dtype.
#include "passes/fold_input_affine.h"

#include <algorithm>

namespace weec {
namespace {

const Tensor* constant_of(const Value* v) {
  return v && v->is_constant() && is_float(v->type.dtype) ? v->constant.get() : nullptr;
}

bool sole_use_is_input0(const Graph& g, const Value* v, Node*& user) {
  auto users = g.users(v);
  if (users.size() != 1 || users[0].second != 0) return false;
  if (std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end()) return false;
  user = users[0].first;
  return true;
}

bool zero_pads(const Node& conv) {
  const Attribute* ap = conv.attr("auto_pad");
  if (ap && ap->s != "NOTSET" && ap->s != "VALID") return false;
  const Attribute* p = conv.attr("pads");
  return !p || std::all_of(p->ints.begin(), p->ints.end(), [](int64_t x) { return x == 0; });
}

void replace_constant(Graph& g, Node* n, size_t i, Tensor t) {
  Value* old = n->input(i);
  Value* v = g.add_constant(g.unique_name(old ? old->name + ".folded" : "bias.folded"), std::move(t));
  if (n->inputs.size() <= i) n->inputs.resize(i + 1, nullptr);
  n->inputs[i] = v;
}

}  // namespace

Expected<bool> fold_input_affine(Graph& g, Node* n) {
  if ((n->op != OpKind::Mul && n->op != OpKind::Add) || n->outputs.size() != 1) return false;
  const bool mul = n->op == OpKind::Mul;
  // The constant operand, either side.
  size_t ci = constant_of(n->input(1)) ? 1 : constant_of(n->input(0)) ? 0 : 2;
  if (ci == 2 || constant_of(n->input(1 - ci))) return false;
  const Tensor& c = *n->inputs[ci]->constant;
  Value* x = n->inputs[1 - ci];
  if (x->type != n->outputs[0]->type) return false;  // c must not broadcast x to a bigger shape
  Node* user = nullptr;
  if (!sole_use_is_input0(g, n->outputs[0], user)) return false;
  const Tensor* w = constant_of(user->input(1));
  if (!w) return false;

  Tensor nw(w->dtype(), w->dims());
  std::vector<double> bias_delta;  // per output channel, for Add
  if (user->op == OpKind::Gemm || user->op == OpKind::MatMul) {
    if (w->rank() != 2 || !x->type.shape.rank_known) return false;
    const bool tb = user->op == OpKind::Gemm && user->attr("transB") && user->attr("transB")->i;
    if (user->op == OpKind::Gemm && user->attr("transA") && user->attr("transA")->i) return false;
    if (user->op == OpKind::MatMul && (!mul || x->type.shape.rank() != 2))
      return false;  // no bias to fold into
    const int64_t K = tb ? w->dim(1) : w->dim(0), N = tb ? w->dim(0) : w->dim(1);
    if (!(c.numel() == 1 || (c.numel() == K && c.dims().back() == K))) return false;
    bias_delta.assign(N, 0.0);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) {
        int64_t at = tb ? j * K + k : k * N + j;
        double cv = c.get_double(c.numel() == 1 ? 0 : k), wv = w->get_double(at);
        nw.set_double(at, mul ? wv * cv : wv);
        bias_delta[j] += wv * cv;
      }
  } else if (user->op == OpKind::Conv) {
    if (c.numel() != 1 || w->rank() < 3 || (!mul && !zero_pads(*user))) return false;
    const int64_t M = w->dim(0), per = w->numel() / M;
    bias_delta.assign(M, 0.0);
    const double cv = c.get_double(0);
    for (int64_t i = 0; i < w->numel(); ++i) {
      nw.set_double(i, mul ? w->get_double(i) * cv : w->get_double(i));
      bias_delta[i / per] += w->get_double(i) * cv;
    }
  } else {
    return false;
  }

  if (mul) {
    replace_constant(g, user, 1, std::move(nw));
  } else {
    // b' = b + W c, as a 1-D bias of the output channels.
    const int64_t N = (int64_t)bias_delta.size();
    const Tensor* b = user->input(2) ? constant_of(user->input(2)) : nullptr;
    if (user->input(2) && (!b || !(b->numel() == 1 || b->numel() == N))) return false;
    auto real = [&](const char* k) { return user->attr(k) ? user->attr(k)->f : 1.0f; };
    if (user->op == OpKind::Gemm && (real("alpha") != 1.0f || real("beta") != 1.0f)) return false;
    Tensor nb(w->dtype(), {N});
    for (int64_t j = 0; j < N; ++j)
      nb.set_double(j, (b ? b->get_double(b->numel() == 1 ? 0 : j) : 0.0) + bias_delta[j]);
    replace_constant(g, user, 2, std::move(nb));
  }
  user->inputs[0] = x;
  g.remove_node(n);
  return true;
}

}  // namespace weec
