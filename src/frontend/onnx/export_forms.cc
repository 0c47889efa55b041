#include "frontend/onnx/export_forms.h"

#include <onnx/defs/schema.h>

#include "ops/registry.h"

namespace weec {

namespace {

bool is_reduce_with_axes_attribute(OpKind k) {
  switch (k) {
    case OpKind::ReduceMean:
    case OpKind::ReduceMax:
    case OpKind::ReduceMin:
    case OpKind::ReduceProd:
    case OpKind::ReduceL1:
    case OpKind::ReduceL2:
    case OpKind::ReduceLogSum:
    case OpKind::ReduceLogSumExp:
    case OpKind::ReduceSumSquare:
      return true;
    default:
      return false;
  }
}

Tensor i64_tensor(const std::vector<int64_t>& v) {
  return Tensor::from_vector<int64_t>({(int64_t)v.size()}, v);
}

// Input i replaced by a new ONNX name that no IR value stands behind.
void replace_input(OnnxNodeDraft& d, size_t i, std::string name) {
  d.inputs[i] = std::move(name);
  d.input_values[i] = nullptr;
}

// Reduce* (not Sum) before opset 18: axes input -> attribute.
Status reduce_form(const Node& n, int64_t opset, OnnxNodeDraft& d) {
  if (opset >= 18 || !is_reduce_with_axes_attribute(n.op)) return Status::ok();
  std::vector<int64_t> axes;
  if (d.inputs.size() > 1 && d.input_values[1]) {
    const Value* ax = d.input_values[1];
    if (!ax->is_constant())
      return error(
          "{}: axes '{}' is computed at run time, but ONNX opset {} takes {} axes only as an attribute",
          n.describe(), ax->name, opset, d.op_type);
    axes = ax->constant->to_int_vector();
  }
  d.inputs.resize(1);
  d.input_values.resize(1);
  if (!axes.empty()) d.attrs["axes"] = Attribute::of_ints(axes);
  auto it = d.attrs.find("noop_with_empty_axes");
  if (it != d.attrs.end()) {
    if (it->second.i != 0 && axes.empty())
      return error("{}: noop_with_empty_axes=1 with no axes needs ONNX opset 18", n.describe());
    d.attrs.erase(it);  // irrelevant once axes are listed; absent before opset 18
  }
  return Status::ok();
}

// QuantizeLinear/DequantizeLinear: a [.., C, 1, ..] scale/zero point (the
// importer's numpy-broadcast form) back to 1-D with `axis`, or to a scalar.
Status quant_form(const Node& n, OnnxNodeDraft& d, OnnxGraphSink& sink) {
  if (n.op != OpKind::QuantizeLinear && n.op != OpKind::DequantizeLinear) return Status::ok();
  if (d.inputs.size() < 2 || !n.input(1)) return Status::ok();
  const Shape& ss = n.input(1)->type.shape;
  if (!ss.rank_known || ss.rank() <= 1) return Status::ok();
  if (!ss.is_static())
    return error("{}: scale '{}' has shape {}; ONNX needs a scalar or 1-D scale", n.describe(),
                 n.input(1)->name, shape_str(ss));
  Dims sd = ss.static_dims();
  std::vector<int64_t> wide;  // positions of dims other than 1
  for (size_t i = 0; i < sd.size(); ++i)
    if (sd[i] != 1) wide.push_back((int64_t)i);
  if (wide.size() > 1)
    return error("{}: scale '{}' of shape {} is neither per tensor nor per axis", n.describe(),
                 n.input(1)->name, dims_str(sd));
  Dims flat;
  if (!wide.empty()) {
    const Shape& xs = n.input(0)->type.shape;
    if (!xs.rank_known) return error("{}: per-axis scale needs the input's rank", n.describe());
    flat = {sd[wide[0]]};
    d.attrs["axis"] = Attribute::of_int(xs.rank() - (int64_t)sd.size() + wide[0]);
  } else {
    d.attrs.erase("axis");  // per tensor: a scalar
  }
  for (size_t i = 1; i < 3 && i < d.inputs.size(); ++i) {
    const Value* v = n.input(i);
    if (!v) continue;
    if (v->is_constant()) {
      Tensor t = *v->constant;
      t.reshape(flat);
      replace_input(d, i, sink.add_constant(v->name, t));
    } else {
      std::string shape = sink.add_constant(v->name + "_shape", i64_tensor(flat));
      replace_input(d, i, sink.add_node("Reshape", {d.inputs[i], shape}, v->name + "_flat"));
    }
  }
  return Status::ok();
}

// Resize's weec-internal nearest_mode "simple" (ceil on axes that shrink,
// floor on the others) as one ONNX rounding mode.
Status resize_form(const Node& n, OnnxNodeDraft& d) {
  auto it = d.attrs.find("nearest_mode");
  if (n.op != OpKind::Resize || it == d.attrs.end() || it->second.s != "simple") return Status::ok();
  auto mode = d.attrs.find("mode");
  if (mode != d.attrs.end() && mode->second.s != "nearest") {
    d.attrs.erase(it);  // only nearest rounds
    return Status::ok();
  }
  const Value* scales = n.input(2);
  if (!scales || !scales->is_constant())
    return error("{}: opset-10 nearest rounding needs constant scales to be written for ONNX opset 17",
                 n.describe());
  bool grows = false, shrinks = false;
  for (int64_t i = 0; i < scales->constant->numel(); ++i) {
    double s = scales->constant->get_double(i);
    grows |= s > 1;
    shrinks |= s < 1;
  }
  if (grows && shrinks)
    return error(
        "{}: opset-10 nearest rounding with axes that both grow and shrink has no ONNX opset 17 form",
        n.describe());
  it->second = Attribute::of_string(shrinks ? "ceil" : "floor");
  return Status::ok();
}

// Split without sizes: opset 13 needs the axis to divide evenly.
Status split_form(const Node& n, OnnxNodeDraft& d, OnnxGraphSink& sink) {
  if (n.op != OpKind::Split) return Status::ok();
  const Value* sizes = n.input(1);
  if (sizes && !(sizes->is_constant() && sizes->constant->numel() == 0)) return Status::ok();
  if (sizes) replace_input(d, 1, "");  // empty sizes mean "evenly", like none
  const Shape& s = n.input(0)->type.shape;
  const Attribute* a = n.attr("axis");
  int64_t axis = a ? a->i : 0, parts = (int64_t)n.outputs.size();
  if (!s.rank_known || axis < -s.rank() || axis >= s.rank()) return Status::ok();
  const Dim& dim = s.dims[axis < 0 ? axis + s.rank() : axis];
  if (!dim.is_known() || parts == 0 || dim.value % parts == 0) return Status::ok();
  std::vector<int64_t> v;
  int64_t chunk = (dim.value + parts - 1) / parts;
  for (int64_t i = 0; i < parts; ++i) v.push_back(i + 1 < parts ? chunk : dim.value - chunk * (parts - 1));
  if (d.inputs.size() < 2) {
    d.inputs.resize(2);
    d.input_values.resize(2);
  }
  replace_input(d, 1, sink.add_constant(n.name.empty() ? "split" : n.name + "_split", i64_tensor(v)));
  return Status::ok();
}

bool same_value(const Attribute& w, const onnx::AttributeProto& o) {
  using A = onnx::AttributeProto;
  switch (w.kind) {
    case Attribute::Kind::Int:
      return o.type() == A::INT && o.i() == w.i;
    case Attribute::Kind::Float:
      return o.type() == A::FLOAT && o.f() == w.f;
    case Attribute::Kind::String:
      return o.type() == A::STRING && o.s() == w.s;
    case Attribute::Kind::Ints:
      return o.type() == A::INTS &&
             std::equal(w.ints.begin(), w.ints.end(), o.ints().begin(), o.ints().end());
    case Attribute::Kind::Floats:
      return o.type() == A::FLOATS &&
             std::equal(w.floats.begin(), w.floats.end(), o.floats().begin(), o.floats().end());
    case Attribute::Kind::Strings:
      return o.type() == A::STRINGS &&
             std::equal(w.strings.begin(), w.strings.end(), o.strings().begin(), o.strings().end());
    default:
      return true;
  }
}

bool is_empty_list(const Attribute& a) {
  return (a.kind == Attribute::Kind::Ints && a.ints.empty()) ||
         (a.kind == Attribute::Kind::Floats && a.floats.empty()) ||
         (a.kind == Attribute::Kind::Strings && a.strings.empty());
}

// Attributes checked against ONNX's schema: unknown ones are refused, and a
// weec default that ONNX's default would not reproduce is written out.
Status attribute_form(const Node& n, int64_t opset, OnnxNodeDraft& d) {
  const onnx::OpSchema* os =
      onnx::OpSchemaRegistry::Schema(d.op_type, (int)opset, d.domain.empty() ? onnx::ONNX_DOMAIN : d.domain);
  if (!os) return error("{}: libonnx has no schema for {} at opset {}", n.describe(), d.op_type, opset);
  const auto& known = os->attributes();
  for (auto& [name, a] : d.attrs)
    if (!known.count(name))
      return error("{}: attribute '{}' does not exist in ONNX opset {}'s {}", n.describe(), name, opset,
                   d.op_type);
  for (const AttrSpec& spec : op_schema(n.op).attrs) {
    if (!spec.default_value || d.attrs.count(spec.name)) continue;
    auto it = known.find(spec.name);
    if (it == known.end()) continue;  // weec-only knob whose default is ONNX's behaviour
    const onnx::AttributeProto& od = it->second.default_value;
    bool onnx_has_default = od.type() != onnx::AttributeProto::UNDEFINED;
    if (onnx_has_default ? !same_value(*spec.default_value, od) : !is_empty_list(*spec.default_value))
      d.attrs[spec.name] = *spec.default_value;
  }
  return Status::ok();
}

}  // namespace

Status to_onnx_form(const Node& n, int64_t opset, OnnxNodeDraft& d, OnnxGraphSink& sink) {
  WEEC_TRY(reduce_form(n, opset, d));
  WEEC_TRY(quant_form(n, d, sink));
  WEEC_TRY(resize_form(n, d));
  WEEC_TRY(split_form(n, d, sink));
  return attribute_form(n, opset, d);
}

}  // namespace weec
