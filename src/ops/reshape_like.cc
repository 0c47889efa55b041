// Reshape, Flatten, Squeeze, Unsqueeze, Identity: ops that keep the elements
// in order and only change the dims. Canonical form: Reshape's target shape,
// Squeeze's and Unsqueeze's axes are inputs (older opsets had attributes; the
// import hooks turn them into constant inputs). Inference reads those inputs
// when they are constants and otherwise keeps what it can (the rank, symbolic
// dims carried through 0 / -1) without ever guessing a dim.
#include <algorithm>
#include <set>

#include "ops/grad.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

// ---- Reshape ----

Status check_shape_spec(const NodeContext& ctx, const std::vector<int64_t>& shape, bool allowzero) {
  int neg = 0;
  bool zero = false;
  for (int64_t s : shape) {
    if (s < -1) return ctx.error("shape value {} is invalid (must be >= -1)", s);
    if (s == -1) ++neg;
    if (s == 0) zero = true;
  }
  if (neg > 1) return ctx.error("shape has more than one -1");
  if (allowzero && zero && neg) return ctx.error("shape has both 0 and -1 with allowzero=1");
  return Status::ok();
}

Expected<Dims> reshape_dims(const NodeContext& ctx, const Dims& in, const std::vector<int64_t>& shape,
                            bool allowzero) {
  WEEC_TRY(check_shape_spec(ctx, shape, allowzero));
  Dims out(shape.size());
  int64_t infer_at = -1, known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t s = shape[i];
    if (s == -1) {
      infer_at = (int64_t)i;
      continue;
    }
    if (s == 0 && !allowzero) {
      if (i >= in.size()) return ctx.error("shape[{}] = 0 copies a dim the input {} lacks", i, dims_str(in));
      s = in[i];
    }
    out[i] = s;
    known *= s;
  }
  int64_t n = numel_of(in);
  if (infer_at >= 0) {
    if (known == 0 || n % known != 0)
      return ctx.error("cannot infer -1 in shape: input {} has {} elements, other dims give {}", dims_str(in),
                       n, known);
    out[infer_at] = n / known;
  } else if (known != n) {
    return ctx.error("cannot reshape {} ({} elements) to {}", dims_str(in), n, dims_str(out));
  }
  return out;
}

// Symbolic reshape. Dims copied by 0 are the same value on both sides, so they
// cancel; -1 is then known when the remaining factors are all known, or is a
// symbol when exactly one named input dim remains uncancelled.
Expected<Shape> reshape_shape(const NodeContext& ctx, const Shape& in, const std::vector<int64_t>& shape,
                              bool allowzero) {
  WEEC_TRY(check_shape_spec(ctx, shape, allowzero));
  Shape out = Shape::of_rank(shape.size());
  std::vector<bool> copied(in.rank_known ? in.dims.size() : 0, false);
  int64_t infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t s = shape[i];
    if (s == -1) {
      infer_at = (int64_t)i;
    } else if (s == 0 && !allowzero) {
      if (!in.rank_known) continue;  // stays unknown
      if (i >= in.dims.size())
        return ctx.error("shape[{}] = 0 copies a dim the input {} lacks", i, shape_str(in));
      out.dims[i] = in.dims[i];
      copied[i] = true;
    } else {
      out.dims[i] = Dim::known(s);
    }
  }
  if (!in.rank_known) return out;
  int64_t k_in = 1, k_out = 1;
  int unknown = 0;
  bool zero_in = false, overflow = false;
  std::multiset<std::string> sym_in, sym_out;
  for (size_t i = 0; i < in.dims.size(); ++i) {
    if (copied[i]) continue;
    const Dim& d = in.dims[i];
    if (d.is_known()) {
      overflow |= __builtin_mul_overflow(k_in, d.value, &k_in);
      zero_in |= d.value == 0;
    } else if (!d.symbol.empty()) {
      sym_in.insert(d.symbol);
    } else {
      ++unknown;
    }
  }
  for (size_t i = 0; i < shape.size(); ++i) {
    if ((int64_t)i == infer_at || (i < copied.size() && copied[i])) continue;
    const Dim& d = out.dims[i];
    if (d.is_known())
      overflow |= __builtin_mul_overflow(k_out, d.value, &k_out);
    else if (!d.symbol.empty())
      sym_out.insert(d.symbol);
    else
      ++unknown;
  }
  // A constant shape input can hold anything, e.g. [127, 2^57].
  if (overflow)
    return ctx.error("cannot reshape {} to {}: the element count overflows int64", shape_str(in),
                     shape_str(out));
  if (infer_at < 0) {
    if (unknown == 0 && sym_in == sym_out && k_in != k_out)
      return ctx.error("cannot reshape {} to {}", shape_str(in), shape_str(out));
    return out;
  }
  if (zero_in) {  // 0 elements: -1 can only be 0 (or the run fails)
    out.dims[infer_at] = Dim::known(0);
    return out;
  }
  if (unknown > 0 || k_out == 0) return out;
  for (const std::string& s : sym_out) {
    auto it = sym_in.find(s);
    if (it == sym_in.end()) return out;
    sym_in.erase(it);
  }
  if (sym_in.empty()) {
    if (k_in % k_out != 0)
      return ctx.error("cannot infer -1 reshaping {}: {} is not divisible by {}", shape_str(in), k_in, k_out);
    out.dims[infer_at] = Dim::known(k_in / k_out);
  } else if (sym_in.size() == 1 && k_in == k_out) {
    out.dims[infer_at] = Dim::named(*sym_in.begin());
  }
  return out;
}

Status infer_reshape(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  bool allowzero = ctx.attrs.i("allowzero") != 0;
  TensorType out{in.dtype, Shape::unknown_rank()};
  if (const Tensor* sh = ctx.input_constant(1)) {
    if (sh->rank() != 1) return ctx.error("shape input must be 1-D, got {}", dims_str(sh->dims()));
    WEEC_ASSIGN_OR_RETURN(out.shape, reshape_shape(ctx, in.shape, sh->to_int_vector(), allowzero));
  } else if (auto n = static_length(ctx.input_type(1))) {
    out.shape = Shape::of_rank(*n);
  }
  ctx.outputs[0] = out;
  return Status::ok();
}

Status kernel_reshape(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  const Tensor& sh = ctx.input(1);
  if (sh.rank() != 1) return ctx.error("shape input must be 1-D, got {}", dims_str(sh.dims()));
  WEEC_ASSIGN_OR_RETURN(Dims dims,
                        reshape_dims(ctx, in.dims(), sh.to_int_vector(), ctx.attrs.i("allowzero") != 0));
  ctx.outputs[0] = in;
  ctx.outputs[0].reshape(std::move(dims));
  return Status::ok();
}

// Opset < 5: the target shape is the `shape` attribute.
Status import_reshape(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  std::vector<Value*> ins = ctx.inputs;
  if (Value* v = attr_to_input(ctx, attrs, "shape")) {
    ins.resize(1);
    ins.push_back(v);
  }
  if (ins.size() < 2 || !ins[1])
    return ctx.error("Reshape needs a shape input (or, before opset 5, attribute)");
  ctx.emit(OpKind::Reshape, ins, ctx.outputs, attrs);
  return Status::ok();
}

// ---- Flatten ----

Status infer_flatten(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  TensorType out{in.dtype, Shape::of_rank(2)};
  if (in.shape.rank_known) {
    int64_t r = in.shape.rank(), axis = ctx.attrs.i("axis");
    if (axis < -r || axis > r) return ctx.error("axis {} is out of range for rank {}", axis, r);
    if (axis < 0) axis += r;
    out.shape.dims[0] = dim_product({in.shape.dims.begin(), in.shape.dims.begin() + axis});
    out.shape.dims[1] = dim_product({in.shape.dims.begin() + axis, in.shape.dims.end()});
  }
  ctx.outputs[0] = out;
  return Status::ok();
}

Status kernel_flatten(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  int64_t r = in.rank(), axis = ctx.attrs.i("axis");
  if (axis < -r || axis > r) return ctx.error("axis {} is out of range for rank {}", axis, r);
  if (axis < 0) axis += r;
  int64_t outer = numel_of(Dims(in.dims().begin(), in.dims().begin() + axis));
  int64_t inner = numel_of(Dims(in.dims().begin() + axis, in.dims().end()));
  ctx.outputs[0] = in;
  ctx.outputs[0].reshape({outer, inner});
  return Status::ok();
}

// ---- Squeeze / Unsqueeze ----

// Normalised, de-duplicated-checked axes for a rank.
Expected<std::vector<int64_t>> norm_axes(const NodeContext& ctx, const std::vector<int64_t>& axes,
                                         int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    WEEC_ASSIGN_OR_RETURN(int64_t n, normalize_axis(ctx, a, rank));
    if (std::find(out.begin(), out.end(), n) != out.end()) return ctx.error("axis {} is repeated", a);
    out.push_back(n);
  }
  return out;
}

Status infer_squeeze(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  TensorType out{in.dtype, Shape::unknown_rank()};
  ctx.outputs[0] = out;
  if (!in.shape.rank_known) return Status::ok();
  const auto& dims = in.shape.dims;
  std::vector<bool> drop(dims.size(), false);
  if (!ctx.has_input(1)) {
    for (size_t i = 0; i < dims.size(); ++i) {
      if (!dims[i].is_known()) return Status::ok();  // might be 1: rank unknown
      drop[i] = dims[i].value == 1;
    }
  } else if (const Tensor* ax = ctx.input_constant(1)) {
    WEEC_ASSIGN_OR_RETURN(auto axes, norm_axes(ctx, ax->to_int_vector(), in.shape.rank()));
    for (int64_t a : axes) {
      if (dims[a].is_known() && dims[a].value != 1)
        return ctx.error("cannot squeeze axis {} of size {}", a, dims[a].value);
      drop[a] = true;
    }
  } else {
    if (auto n = static_length(ctx.input_type(1)); n && *n <= in.shape.rank())
      ctx.outputs[0].shape = Shape::of_rank(in.shape.rank() - *n);
    return Status::ok();
  }
  Shape s = Shape::of_rank(0);
  for (size_t i = 0; i < dims.size(); ++i)
    if (!drop[i]) s.dims.push_back(dims[i]);
  ctx.outputs[0].shape = s;
  return Status::ok();
}

Status kernel_squeeze(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  std::vector<bool> drop(in.rank(), false);
  if (!ctx.has_input(1)) {
    for (int64_t i = 0; i < in.rank(); ++i) drop[i] = in.dim(i) == 1;
  } else {
    WEEC_ASSIGN_OR_RETURN(auto axes, norm_axes(ctx, ctx.input(1).to_int_vector(), in.rank()));
    for (int64_t a : axes) {
      if (in.dim(a) != 1) return ctx.error("cannot squeeze axis {} of size {}", a, in.dim(a));
      drop[a] = true;
    }
  }
  Dims dims;
  for (int64_t i = 0; i < in.rank(); ++i)
    if (!drop[i]) dims.push_back(in.dim(i));
  ctx.outputs[0] = in;
  ctx.outputs[0].reshape(std::move(dims));
  return Status::ok();
}

// Output positions of the inserted 1s (sorted flags over the output rank).
Expected<std::vector<bool>> unsqueeze_flags(const NodeContext& ctx, const std::vector<int64_t>& axes,
                                            int64_t in_rank) {
  int64_t out_rank = in_rank + (int64_t)axes.size();
  WEEC_ASSIGN_OR_RETURN(auto norm, norm_axes(ctx, axes, out_rank));
  std::vector<bool> ones(out_rank, false);
  for (int64_t a : norm) ones[a] = true;
  return ones;
}

Status infer_unsqueeze(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  ctx.outputs[0] = TensorType{in.dtype, Shape::unknown_rank()};
  if (!in.shape.rank_known) return Status::ok();
  const Tensor* ax = ctx.input_constant(1);
  if (!ax) {
    if (auto n = static_length(ctx.input_type(1)))
      ctx.outputs[0].shape = Shape::of_rank(in.shape.rank() + *n);
    return Status::ok();
  }
  WEEC_ASSIGN_OR_RETURN(auto ones, unsqueeze_flags(ctx, ax->to_int_vector(), in.shape.rank()));
  Shape s = Shape::of_rank(ones.size());
  size_t j = 0;
  for (size_t i = 0; i < ones.size(); ++i) s.dims[i] = ones[i] ? Dim::known(1) : in.shape.dims[j++];
  ctx.outputs[0].shape = s;
  return Status::ok();
}

Status kernel_unsqueeze(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(auto ones, unsqueeze_flags(ctx, ctx.input(1).to_int_vector(), in.rank()));
  Dims dims(ones.size());
  size_t j = 0;
  for (size_t i = 0; i < ones.size(); ++i) dims[i] = ones[i] ? 1 : in.dim(j++);
  ctx.outputs[0] = in;
  ctx.outputs[0].reshape(std::move(dims));
  return Status::ok();
}

// Opset < 13: `axes` was an attribute (optional for Squeeze, required for Unsqueeze).
Status import_axes_attr(ImportContext& ctx, OpKind op) {
  AttrMap attrs = ctx.attrs;
  std::vector<Value*> ins = ctx.inputs;
  if (Value* v = attr_to_input(ctx, attrs, "axes")) {
    ins.resize(1);
    ins.push_back(v);
  }
  if (op == OpKind::Unsqueeze && (ins.size() < 2 || !ins[1]))
    return ctx.error("Unsqueeze needs axes (an input from opset 13, an attribute before)");
  ctx.emit(op, ins, ctx.outputs, attrs);
  return Status::ok();
}

// ---- Identity ----

Status kernel_identity(KernelContext& ctx) {
  ctx.outputs[0] = ctx.input(0);
  return Status::ok();
}

}  // namespace

// Gradient of every view op here (ops/grad.h): dY back in X's dims.
Status view_grad(GradContext& c) {
  c.set(0, c.op(OpKind::Reshape, {c.dy(0), c.ints(c.dims(c.x(0)))}));
  return Status::ok();
}

const OpSchema& schema_Reshape() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Reshape, "Reshape"};
    m.view = true;
    m.min_inputs = m.max_inputs = 2;
    m.attrs = {attr_int("allowzero", 0)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_reshape;
    m.kernel = kernel_reshape;
    m.import = import_reshape;
    m.doc = "new dims for the same elements; 0 copies a dim (unless allowzero), -1 is inferred";
    m.grad = view_grad;
    return m;
  }();
  return s;
}

const OpSchema& schema_Flatten() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Flatten, "Flatten"};
    m.view = true;
    m.attrs = {attr_int("axis", 1)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_flatten;
    m.kernel = kernel_flatten;
    m.doc = "2-D view: dims before axis, dims from axis";
    m.grad = view_grad;
    return m;
  }();
  return s;
}

const OpSchema& schema_Squeeze() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Squeeze, "Squeeze"};
    m.view = true;
    m.min_inputs = 1;
    m.max_inputs = 2;
    m.fusion = FusionKind::Injective;
    m.infer = infer_squeeze;
    m.kernel = kernel_squeeze;
    m.import = [](ImportContext& c) { return import_axes_attr(c, OpKind::Squeeze); };
    m.doc = "removes size-1 dims (the given axes, or all)";
    m.grad = view_grad;
    return m;
  }();
  return s;
}

const OpSchema& schema_Unsqueeze() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Unsqueeze, "Unsqueeze"};
    m.view = true;
    m.min_inputs = m.max_inputs = 2;
    m.fusion = FusionKind::Injective;
    m.infer = infer_unsqueeze;
    m.kernel = kernel_unsqueeze;
    m.import = [](ImportContext& c) { return import_axes_attr(c, OpKind::Unsqueeze); };
    m.doc = "inserts size-1 dims at the given output axes";
    m.grad = view_grad;
    return m;
  }();
  return s;
}

const OpSchema& schema_Identity() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Identity, "Identity"};
    m.view = true;
    m.fusion = FusionKind::Injective;
    m.infer = infer_same_as_input0;
    m.kernel = kernel_identity;
    m.doc = "copies its input";
    m.grad = view_grad;
    return m;
  }();
  return s;
}

}  // namespace weec
