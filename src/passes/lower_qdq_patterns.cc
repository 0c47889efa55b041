#include "passes/lower_qdq_patterns.h"

#include <algorithm>
#include <cmath>

#include "ops/op.h"
#include "ops/registry.h"
#include "quant/fixed_point.h"

namespace weec {
namespace {

// ONNX TensorProto codes of the out_dtype attribute.
int64_t onnx_code(DType t) { return t == DType::U8 ? 2 : t == DType::I16 ? 5 : t == DType::I32 ? 6 : 3; }

int64_t qmin_of(DType t) { return t == DType::U8 ? 0 : t == DType::I16 ? -32768 : -128; }
int64_t qmax_of(DType t) { return t == DType::U8 ? 255 : t == DType::I16 ? 32767 : 127; }

bool is_preserving(OpKind op) {
  switch (op) {
    case OpKind::MaxPool:
    case OpKind::Reshape:
    case OpKind::Flatten:
    case OpKind::Squeeze:
    case OpKind::Unsqueeze:
    case OpKind::Transpose:
    case OpKind::Identity:
      return true;
    default:
      return false;
  }
}

// (m0, shift) lists for real multipliers.
Status multipliers(const std::vector<double>& m, std::vector<int64_t>& m0, std::vector<int64_t>& shift) {
  for (double v : m) {
    WEEC_ASSIGN_OR_RETURN(quant::QuantizedMultiplier q, quant::quantize_multiplier(v));
    m0.push_back(q.m0);
    shift.push_back(q.shift);
  }
  return Status::ok();
}

AttrMap requant_attrs(const std::vector<int64_t>& m0, const std::vector<int64_t>& shift, const QdqParams& y,
                      bool relu) {
  int64_t lo = qmin_of(y.qtype);
  if (relu) lo = std::max(lo, y.zero_point[0]);  // ReLU: nothing below real 0
  return {{"multiplier", Attribute::of_ints(m0)},
          {"shift", Attribute::of_ints(shift)},
          {"y_zero_point", Attribute::of_int(y.zero_point[0])},
          {"act_min", Attribute::of_int(lo)},
          {"act_max", Attribute::of_int(qmax_of(y.qtype))},
          {"out_dtype", Attribute::of_int(onnx_code(y.qtype))}};
}

Tensor transpose_2d(const Tensor& w) {
  Tensor t(w.dtype(), {w.dim(1), w.dim(0)});
  const size_t es = dtype_size(w.dtype());
  for (int64_t i = 0; i < w.dim(0); ++i)
    for (int64_t j = 0; j < w.dim(1); ++j)
      std::memcpy((char*)t.raw() + (j * w.dim(0) + i) * es, (const char*)w.raw() + (i * w.dim(1) + j) * es,
                  es);
  return t;
}

}  // namespace

Value* QdqLowering::constant(const std::string& hint, Tensor t) {
  return g_.add_constant(g_.unique_name(hint), std::move(t));
}

Value* QdqLowering::quantised_input(Value* v, QdqParams& p) {
  Node* dq = dequantize_producer(v);
  if (!dq) return nullptr;
  auto pp = qdq_params(*dq);
  if (!pp || !pp->per_tensor()) return nullptr;
  p = *pp;
  return dq->inputs[0];
}

bool QdqLowering::match_output(Node* n, bool allow_relu, Match& m) {
  m.op = n;
  Value* y = n->outputs[0];
  if (allow_relu) {
    auto users = g_.users(y);
    if (users.size() == 1 && users[0].first->op == OpKind::Relu &&
        std::find(g_.outputs.begin(), g_.outputs.end(), y) == g_.outputs.end()) {
      m.relu = users[0].first;
      y = m.relu->outputs[0];
    }
  }
  m.quantize = sole_quantize_user(g_, y);
  if (!m.quantize) return false;
  auto p = qdq_params(*m.quantize);
  if (!p || !p->per_tensor()) return false;
  m.y = *p;
  return true;
}

void QdqLowering::replace(const Match& m, OpKind op, std::vector<Value*> inputs, AttrMap attrs) {
  Value* out = m.quantize->outputs[0];
  std::string name = m.op->name;
  for (Node* n : {m.quantize, m.relu, m.op})
    if (n) {
      removed_.insert(n);
      g_.remove_node(n);
    }
  g_.add_node(op, std::move(inputs), {out}, std::move(attrs), std::move(name));
  ++lowered_;
}

Status QdqLowering::try_lower(Node* n) {
  if (removed_.count(n)) return Status::ok();
  int before = lowered_;
  switch (n->op) {
    case OpKind::Conv:
    case OpKind::Gemm:
    case OpKind::MatMul:
      WEEC_TRY(lower_weighted(n));
      break;
    case OpKind::Add:
    case OpKind::Mul:
      WEEC_TRY(lower_binary(n));
      break;
    case OpKind::AveragePool:
    case OpKind::GlobalAveragePool:
      WEEC_TRY(lower_average_pool(n));
      break;
    case OpKind::QuantizeLinear:
    case OpKind::DequantizeLinear:
      return Status::ok();
    default:
      if (is_preserving(n->op))
        WEEC_TRY(lower_preserving(n));
      else
        WEEC_TRY(lower_lookup(n));
  }
  // A float op between a DQ and a Q that no pattern took.
  if (lowered_ == before && !removed_.count(n) && n->inputs.size() && dequantize_producer(n->inputs[0]))
    ++left_float_;
  return Status::ok();
}

Status QdqLowering::lower_weighted(Node* n) {
  QdqParams px, pw, pb;
  Value* xq = quantised_input(n->inputs[0], px);
  Node* wdq = dequantize_producer(n->input(1));
  if (!xq || !wdq || !wdq->inputs[0]->constant || wdq->inputs[0]->type.dtype != DType::I8)
    return Status::ok();
  auto pwo = qdq_params(*wdq);
  if (!pwo) return Status::ok();
  pw = *pwo;
  if (std::any_of(pw.zero_point.begin(), pw.zero_point.end(), [](int64_t z) { return z != 0; }))
    return Status::ok();  // asymmetric weights: not this pattern
  Tensor w = *wdq->inputs[0]->constant;
  Value* bias = nullptr;
  if (n->input(2)) {
    Node* bdq = dequantize_producer(n->input(2));
    auto pbo = bdq ? qdq_params(*bdq) : std::nullopt;
    if (!pbo || !bdq->inputs[0]->constant || bdq->inputs[0]->type.dtype != DType::I32) return Status::ok();
    pb = *pbo;
    bias = bdq->inputs[0];
  }
  int64_t channels = 0;
  AttrMap attrs;
  if (n->op == OpKind::Conv) {
    const Attribute* ap = n->attr("auto_pad");
    if (ap && ap->s != "NOTSET" && ap->s != "VALID") return Status::ok();
    if (w.rank() < 3 || w.rank() > 4) return Status::ok();
    channels = w.dim(0);
    for (const char* k : {"dilations", "pads", "strides"})
      if (n->attr(k)) attrs[k] = *n->attr(k);
    attrs["group"] = Attribute::of_int(n->attr("group") ? n->attr("group")->i : 1);
    attrs["kernel_shape"] = Attribute::of_ints(Dims(w.dims().begin() + 2, w.dims().end()));
  } else {
    if (xq->type.shape.rank() != 2 || w.rank() != 2) return Status::ok();
    if (n->op == OpKind::Gemm) {
      auto flag = [&](const char* k) { return n->attr(k) && n->attr(k)->i; };
      auto real = [&](const char* k) { return n->attr(k) ? n->attr(k)->f : 1.0f; };
      if (flag("transA") || real("alpha") != 1 || real("beta") != 1) return Status::ok();
      if (!flag("transB")) w = transpose_2d(w);
    } else {
      w = transpose_2d(w);
    }
    channels = w.dim(0);  // [N, K]
  }
  if (!(pw.scale.size() == 1 || (int64_t)pw.scale.size() == channels)) return Status::ok();
  if (bias && (bias->constant->numel() != channels ||
               !(pb.scale.size() == 1 || (int64_t)pb.scale.size() == channels)))
    return Status::ok();
  Match m;
  if (!match_output(n, true, m)) return Status::ok();
  // M_c = s_x * s_w[c] / s_y; the bias must already be in units of s_x * s_w[c].
  std::vector<double> real;
  for (size_t c = 0; c < pw.scale.size(); ++c) {
    double acc_scale = px.scale[0] * pw.scale[c];
    if (bias) {
      double sb = pb.scale[pb.scale.size() == 1 ? 0 : c];
      if (std::fabs(sb - acc_scale) > 1e-6 * acc_scale) return Status::ok();
    }
    real.push_back(acc_scale / m.y.scale[0]);
  }
  std::vector<int64_t> m0, shift;
  WEEC_TRY(multipliers(real, m0, shift));
  AttrMap rq = requant_attrs(m0, shift, m.y, m.relu != nullptr);
  attrs.insert(rq.begin(), rq.end());
  attrs["x_zero_point"] = Attribute::of_int(px.zero_point[0]);
  Value* wv = constant(n->name.empty() ? "qweight" : n->name + "_qweight", std::move(w));
  std::vector<Value*> ins{xq, wv};
  if (bias) {
    Tensor b = *bias->constant;
    b.reshape({channels});
    ins.push_back(constant(n->name.empty() ? "qbias" : n->name + "_qbias", std::move(b)));
  }
  replace(m, n->op == OpKind::Conv ? OpKind::QConv : OpKind::QGemm, std::move(ins), std::move(attrs));
  return Status::ok();
}

Status QdqLowering::lower_preserving(Node* n) {
  QdqParams px;
  Value* xq = n->inputs.empty() ? nullptr : quantised_input(n->inputs[0], px);
  if (!xq || n->outputs.size() != 1) return Status::ok();
  Match m;
  if (!match_output(n, false, m) || !m.y.same_as(px) || m.y.qtype != xq->type.dtype) return Status::ok();
  std::vector<Value*> ins = n->inputs;
  ins[0] = xq;
  replace(m, n->op, std::move(ins), n->attrs);
  return Status::ok();
}

Status QdqLowering::lower_lookup(Node* n) {
  const OpSchema& s = op_schema(n->op);
  if (s.fusion != FusionKind::Elementwise || n->inputs.size() != 1 || n->outputs.size() != 1 || !s.kernel)
    return Status::ok();
  QdqParams px;
  Value* xq = quantised_input(n->inputs[0], px);
  if (!xq || (xq->type.dtype != DType::I8 && xq->type.dtype != DType::U8)) return Status::ok();
  Match m;
  if (!match_output(n, false, m) || (m.y.qtype != DType::I8 && m.y.qtype != DType::U8)) return Status::ok();
  // Run the float op's own kernel on all 256 inputs, then quantise.
  const int64_t lo = qmin_of(xq->type.dtype);
  Tensor x(DType::F32, {256});
  for (int64_t i = 0; i < 256; ++i)
    x.data<float>()[i] = (float)(px.scale[0] * (double)(lo + i - px.zero_point[0]));
  KernelContext k(*n, s, {&x});
  WEEC_TRY(s.kernel(k));
  std::vector<int64_t> table(256);
  for (int64_t i = 0; i < 256; ++i) {
    double y = k.outputs[0].get_double(i) / m.y.scale[0];
    double q = std::isnan(y) ? 0 : std::nearbyint(y) + (double)m.y.zero_point[0];
    table[i] = (int64_t)std::clamp(q, (double)qmin_of(m.y.qtype), (double)qmax_of(m.y.qtype));
  }
  replace(m, OpKind::QLookup, {xq},
          {{"table", Attribute::of_ints(table)}, {"out_dtype", Attribute::of_int(onnx_code(m.y.qtype))}});
  return Status::ok();
}

Status QdqLowering::lower_binary(Node* n) {
  QdqParams pa, pb;
  Value* aq = quantised_input(n->inputs[0], pa);
  Value* bq = quantised_input(n->inputs[1], pb);
  if (!aq || !bq || aq->type.dtype != bq->type.dtype) return Status::ok();
  Match m;
  if (!match_output(n, n->op == OpKind::Add, m)) return Status::ok();
  std::vector<int64_t> m0, shift;
  AttrMap attrs;
  if (n->op == OpKind::Add) {
    WEEC_ASSIGN_OR_RETURN(quant::QAddParams q, quant::qadd_params(pa.scale[0], pb.scale[0], m.y.scale[0]));
    m0 = {q.y.m0};
    shift = {q.y.shift};
    attrs = {{"left_shift", Attribute::of_int(q.left_shift)},
             {"a_multiplier", Attribute::of_int(q.a.m0)},
             {"a_shift", Attribute::of_int(q.a.shift)},
             {"b_multiplier", Attribute::of_int(q.b.m0)},
             {"b_shift", Attribute::of_int(q.b.shift)}};
  } else {
    WEEC_TRY(multipliers({pa.scale[0] * pb.scale[0] / m.y.scale[0]}, m0, shift));
  }
  AttrMap rq = requant_attrs(m0, shift, m.y, m.relu != nullptr);
  attrs.insert(rq.begin(), rq.end());
  attrs["a_zero_point"] = Attribute::of_int(pa.zero_point[0]);
  attrs["b_zero_point"] = Attribute::of_int(pb.zero_point[0]);
  replace(m, n->op == OpKind::Add ? OpKind::QAdd : OpKind::QMul, {aq, bq}, std::move(attrs));
  return Status::ok();
}

Status QdqLowering::lower_average_pool(Node* n) {
  QdqParams px;
  Value* xq = quantised_input(n->inputs[0], px);
  if (!xq || (xq->type.dtype != DType::I8 && xq->type.dtype != DType::U8) || !xq->type.shape.is_static())
    return Status::ok();
  Dims xd = xq->type.shape.static_dims();
  int64_t count = 1;
  AttrMap attrs;
  if (n->op == OpKind::AveragePool) {
    auto flag = [&](const char* k) { return n->attr(k) && n->attr(k)->i; };
    const Attribute* ap = n->attr("auto_pad");
    if (flag("ceil_mode") || n->attr("dilations") || (ap && ap->s != "NOTSET" && ap->s != "VALID"))
      return Status::ok();
    const Attribute* pads = n->attr("pads");
    bool padded = pads && std::any_of(pads->ints.begin(), pads->ints.end(), [](int64_t p) { return p != 0; });
    if (padded && !flag("count_include_pad")) return Status::ok();  // windows of varying count
    for (int64_t k : n->attr("kernel_shape")->ints) count *= k;
    for (const char* k : {"kernel_shape", "strides", "pads", "count_include_pad"})
      if (n->attr(k)) attrs[k] = *n->attr(k);
  } else {
    for (size_t d = 2; d < xd.size(); ++d) count *= xd[d];
  }
  Match m;
  if (!match_output(n, false, m) || m.y.qtype != xq->type.dtype) return Status::ok();
  std::vector<int64_t> m0, shift;
  WEEC_TRY(multipliers({px.scale[0] / (m.y.scale[0] * (double)count)}, m0, shift));
  AttrMap rq = requant_attrs(m0, shift, m.y, false);
  attrs.insert(rq.begin(), rq.end());
  attrs["x_zero_point"] = Attribute::of_int(px.zero_point[0]);
  replace(m, n->op == OpKind::AveragePool ? OpKind::QAveragePool : OpKind::QGlobalAveragePool, {xq},
          std::move(attrs));
  return Status::ok();
}

}  // namespace weec
