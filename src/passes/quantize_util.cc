#include "passes/quantize_util.h"

#include <algorithm>
#include <cmath>

#include "ops/op_util.h"

namespace weec {

const AffineParams* QdqBuilder::params(const Value* v) const {
  auto it = params_.find(v);
  return it == params_.end() ? nullptr : &it->second;
}

void QdqBuilder::set_params(const Value* v, AffineParams p) {
  // ONNX stores scales as f32: use exactly the value the graph will hold.
  p.scale = (double)(float)p.scale;
  params_[v] = p;
}

Value* QdqBuilder::scalar_constant(const std::string& hint, Tensor t) {
  return g_.add_constant(g_.unique_name(hint), std::move(t));
}

void symmetric_weight_scales(const Tensor& w, Tensor& scale, int64_t wmax) {
  std::vector<double> mx((size_t)scale.numel(), 0.0);
  for_each_broadcast(w.dims(), {broadcast_strides(scale.dims(), w.dims())},
                     [&](int64_t i, const int64_t* off) {
                       mx[(size_t)off[0]] = std::max(mx[(size_t)off[0]], std::fabs(w.get_double(i)));
                     });
  for (int64_t c = 0; c < scale.numel(); ++c)  // all-zero channel: any scale
    scale.set_double(c, mx[(size_t)c] > 0 ? (double)(float)(mx[(size_t)c] / (double)wmax) : 1.0);
}

namespace {

Tensor zero_point_tensor(DType t, Dims dims, int64_t zp) {
  Tensor z(t, std::move(dims));
  for (int64_t i = 0; i < z.numel(); ++i) z.set_double(i, (double)zp);
  return z;
}

// Output-channel axis of the weight and the dims its scale is given in:
// broadcastable onto the weight ([M,1,1,1]) or 1-D along the last axis.
struct WeightLayout {
  int64_t axis = 0;
  Dims scale_dims;
};

std::optional<WeightLayout> weight_layout(const Node& n, const Tensor& w) {
  if (n.op == OpKind::Conv && w.rank() >= 3) {
    Dims d(w.rank(), 1);
    d[0] = w.dim(0);
    return WeightLayout{0, d};
  }
  if (w.rank() != 2) return std::nullopt;
  bool trans_b = n.op == OpKind::Gemm && n.attr("transB") && n.attr("transB")->i;
  if (trans_b) return WeightLayout{0, {w.dim(0), 1}};
  return WeightLayout{1, {w.dim(1)}};  // 1-D along the last axis broadcasts numpy-style
}

}  // namespace

Status QdqBuilder::quantise_weights(Node& n, bool& done, const Tensor* given, Tensor* used) {
  done = false;
  Value* x = n.inputs[0];
  Value* wv = n.input(1);
  if (!x || !wv || !wv->constant || wv->type.dtype != DType::F32 || !params(x)) return Status::ok();
  if (n.op == OpKind::Gemm) {
    auto attr_f = [&](const char* k, float d) { return n.attr(k) ? n.attr(k)->f : d; };
    if ((n.attr("transA") && n.attr("transA")->i) || attr_f("alpha", 1) != 1 || attr_f("beta", 1) != 1)
      return Status::ok();
  }
  const Tensor& w = *wv->constant;
  auto layout = weight_layout(n, w);
  if (!layout) return Status::ok();
  const int64_t channels = w.dim(layout->axis);
  const int64_t inner = numel_of(Dims(w.dims().begin() + layout->axis + 1, w.dims().end()));
  Tensor st(DType::F32, layout->scale_dims);
  if (given) {
    if (given->numel() != channels)
      return error("{}: {} given weight scales for {} channels", n.describe(), given->numel(), channels);
    for (int64_t c = 0; c < channels; ++c) {
      st.data<float>()[c] = (float)given->get_double(c);
      if (!(st.data<float>()[c] > 0))
        return error("{}: weight scale {} is not positive", n.describe(), st.data<float>()[c]);
    }
  } else {
    symmetric_weight_scales(w, st, wmax_);
  }
  std::vector<double> scale(st.data<float>(), st.data<float>() + channels);
  const double wmax = wmax_;
  Tensor wq(DType::I8, w.dims());
  for (int64_t i = 0; i < w.numel(); ++i) {
    double q = std::nearbyint(w.get_double(i) / scale[(i / inner) % channels]);
    wq.data<int8_t>()[i] = (int8_t)std::clamp(q, -wmax, wmax);
  }
  if (used) *used = st;
  AttrMap axis_attr{{"axis", Attribute::of_int(layout->axis)}};
  Value* wq_v = scalar_constant(wv->name + "_quantized", std::move(wq));
  Value* ws_v = scalar_constant(wv->name + "_scale", st);
  Value* wz_v =
      scalar_constant(wv->name + "_zero_point", zero_point_tensor(DType::I8, layout->scale_dims, 0));
  Value* wdq = g_.add_value(g_.unique_name(wv->name + "_dequantized"), wv->type);
  g_.add_node(OpKind::DequantizeLinear, {wq_v, ws_v, wz_v}, {wdq}, axis_attr);
  n.inputs[1] = wdq;

  // Bias: int32 with scale s_x * s_w[c] and zero point 0, as QLinearConv wants it.
  Value* bv = n.input(2);
  if (bv && bv->constant && bv->type.dtype == DType::F32 && bv->constant->numel() == channels) {
    const Tensor& b = *bv->constant;
    double sx = params(x)->scale;
    Tensor bq(DType::I32, {channels}), bs(DType::F32, {channels});
    for (int64_t c = 0; c < channels; ++c) {
      double s = (double)(float)(sx * scale[c]);
      bs.data<float>()[c] = (float)s;
      double q = std::nearbyint(b.get_double(c) / s);
      bq.data<int32_t>()[c] = (int32_t)std::clamp(q, -2147483647.0, 2147483647.0);
    }
    Value* bq_v = scalar_constant(bv->name + "_quantized", std::move(bq));
    Value* bs_v = scalar_constant(bv->name + "_scale", std::move(bs));
    Value* bz_v = scalar_constant(bv->name + "_zero_point", zero_point_tensor(DType::I32, {channels}, 0));
    Value* bdq = g_.add_value(g_.unique_name(bv->name + "_dequantized"),
                              TensorType{DType::F32, Shape::of({channels})});
    g_.add_node(OpKind::DequantizeLinear, {bq_v, bs_v, bz_v}, {bdq}, {{"axis", Attribute::of_int(0)}});
    // A Gemm's C of [1,N] becomes [N]: the same broadcast onto [M,N].
    n.inputs[2] = bdq;
  }
  done = true;
  return Status::ok();
}

Status QdqBuilder::insert_qdq(Value* v) {
  const AffineParams& p = *params(v);
  auto users = g_.users(v);
  Value* s = scalar_constant(v->name + "_scale", Tensor::scalar<float>((float)p.scale));
  Value* z = scalar_constant(v->name + "_zero_point", zero_point_tensor(act_, {}, p.zero_point));
  QuantParams qp{{p.scale}, {p.zero_point}, -1};
  Value* q = g_.add_value(g_.unique_name(v->name + "_q"), TensorType{act_, v->type.shape, qp});
  Value* dq = g_.add_value(g_.unique_name(v->name + "_dq"), v->type);
  g_.add_node(OpKind::QuantizeLinear, {v, s, z}, {q});
  g_.add_node(OpKind::DequantizeLinear, {q, s, z}, {dq});
  for (auto& [node, idx] : users) node->inputs[idx] = dq;
  // A graph output keeps its name on the value the graph now returns.
  bool is_output = false;
  for (Value*& o : g_.outputs)
    if (o == v) {
      o = dq;
      is_output = true;
    }
  if (is_output) {
    std::string name = v->name;
    v->name = g_.unique_name(name + "_float");
    dq->name = name;
  }
  return Status::ok();
}

bool QdqParams::same_as(const QdqParams& o) const {
  return scale == o.scale && zero_point == o.zero_point && qtype == o.qtype &&
         (per_tensor() || axis == o.axis);
}

QuantParams QdqParams::as_quant() const { return QuantParams{scale, zero_point, per_tensor() ? -1 : axis}; }

std::optional<QdqParams> qdq_params(const Node& n) {
  if (n.op != OpKind::QuantizeLinear && n.op != OpKind::DequantizeLinear) return std::nullopt;
  const Value* s = n.input(1);
  const Value* z = n.input(2);
  if (!s || !s->constant || (z && !z->constant)) return std::nullopt;
  QdqParams p;
  const Tensor& st = *s->constant;
  for (int64_t i = 0; i < st.numel(); ++i) p.scale.push_back(st.get_double(i));
  for (int64_t i = 0; i < st.numel(); ++i) p.zero_point.push_back(z ? z->constant->get_int(i) : 0);
  p.qtype = z ? z->constant->dtype() : DType::U8;
  if (n.op == OpKind::DequantizeLinear) p.qtype = n.inputs[0]->type.dtype;
  if (st.numel() > 1) {
    if (st.rank() == 1) {
      p.axis = n.attr("axis") ? n.attr("axis")->i : 1;
      const Value* x = n.inputs[0];
      if (p.axis < 0 && x->type.shape.rank_known) p.axis += x->type.shape.rank();
    } else {
      const Value* x = n.inputs[0];
      int64_t off = x->type.shape.rank() - st.rank();  // numpy alignment from the right
      for (int64_t d = 0; d < st.rank(); ++d)
        if (st.dim(d) == st.numel()) p.axis = d + off;
    }
  }
  return p;
}

Node* dequantize_producer(const Value* v) {
  return v && v->producer && v->producer->op == OpKind::DequantizeLinear ? v->producer : nullptr;
}

Node* sole_quantize_user(const Graph& g, const Value* v) {
  auto users = g.users(v);
  if (users.size() != 1 || users[0].first->op != OpKind::QuantizeLinear || users[0].second != 0)
    return nullptr;
  if (std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end()) return nullptr;
  return users[0].first;
}

}  // namespace weec
