// OneHot, Compress, NonZero and Unique: selection ops whose output size
// usually depends on the data (inference leaves those dims unknown unless the
// deciding input is a constant).
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "ops/movement_emit.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

// ---- OneHot ----

Expected<int64_t> onehot_depth(const NodeContext& ctx, const Tensor& d) {
  if (d.numel() != 1) return ctx.error("depth must hold one value, has {}", d.numel());
  double v = d.get_double(0);
  if (!(v >= 1) || v > 1e12) return ctx.error("depth {} is invalid", v);
  return (int64_t)v;
}

Status infer_onehot(InferContext& ctx) {
  const TensorType &ind = ctx.input_type(0), &values = ctx.input_type(2);
  ctx.outputs[0] = TensorType{values.dtype, Shape::unknown_rank()};
  if (!ind.shape.rank_known) return Status::ok();
  int64_t r = ind.shape.rank();
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), r + 1));
  Dim depth = Dim::unknown();
  if (const Tensor* d = ctx.input_constant(1)) {
    WEEC_ASSIGN_OR_RETURN(int64_t v, onehot_depth(ctx, *d));
    depth = Dim::known(v);
  }
  Shape out = ind.shape;
  out.dims.insert(out.dims.begin() + axis, depth);
  ctx.outputs[0].shape = out;
  return Status::ok();
}

Status kernel_onehot(KernelContext& ctx) {
  const Tensor &ind = ctx.input(0), &values = ctx.input(2);
  WEEC_ASSIGN_OR_RETURN(int64_t depth, onehot_depth(ctx, ctx.input(1)));
  if (values.numel() != 2) return ctx.error("values must hold [off, on], has {} elements", values.numel());
  int64_t r = ind.rank();
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), r + 1));
  Dims out_dims = ind.dims();
  out_dims.insert(out_dims.begin() + axis, depth);
  int64_t outer = numel_of(Dims(ind.dims().begin(), ind.dims().begin() + axis));
  int64_t inner = numel_of(Dims(ind.dims().begin() + axis, ind.dims().end()));
  Tensor out(values.dtype(), out_dims);
  ElemCopy copy(values, out);
  for (int64_t o = 0; o < out.numel(); ++o) copy(o, 0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      // Opset 11: indices in [-depth, -1] count from the end; others are all-off.
      int64_t k = ind.get_int(o * inner + i);
      if (k < 0) k += depth;
      if (k >= 0 && k < depth) copy((o * depth + k) * inner + i, 1);
    }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- Compress ----

// Positions selected by the condition among the first `n`.
std::vector<int64_t> selected(const Tensor& cond, int64_t n) {
  std::vector<int64_t> sel;
  for (int64_t i = 0; i < std::min(n, cond.numel()); ++i)
    if (cond.get_double(i) != 0) sel.push_back(i);
  return sel;
}

Status infer_compress(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  const Tensor* cond = ctx.input_constant(1);
  if (!ctx.attrs.has("axis")) {
    Dim n = in.shape.rank_known ? dim_product(in.shape.dims) : Dim::unknown();
    Shape out = Shape::of_rank(1);
    if (cond && n.is_known()) out.dims[0] = Dim::known((int64_t)selected(*cond, n.value).size());
    ctx.outputs[0] = TensorType{in.dtype, out};
    return Status::ok();
  }
  ctx.outputs[0] = TensorType{in.dtype, in.shape};
  if (!in.shape.rank_known) return Status::ok();
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), in.shape.rank()));
  Dim& d = ctx.outputs[0].shape.dims[axis];
  d = cond && d.is_known() ? Dim::known((int64_t)selected(*cond, d.value).size()) : Dim::unknown();
  return Status::ok();
}

Status kernel_compress(KernelContext& ctx) {
  const Tensor &in = ctx.input(0), &cond = ctx.input(1);
  if (cond.rank() != 1) return ctx.error("condition must be 1-D, got {}", dims_str(cond.dims()));
  if (!ctx.attrs.has("axis")) {
    auto sel = selected(cond, in.numel());
    Tensor out(in.dtype(), {(int64_t)sel.size()});
    ElemCopy copy(in, out);
    for (size_t i = 0; i < sel.size(); ++i) copy((int64_t)i, sel[i]);
    ctx.outputs[0] = std::move(out);
    return Status::ok();
  }
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), in.rank()));
  auto sel = selected(cond, in.dim(axis));
  Dims dims = in.dims();
  dims[axis] = (int64_t)sel.size();
  int64_t outer = numel_of(Dims(in.dims().begin(), in.dims().begin() + axis));
  int64_t inner = numel_of(Dims(in.dims().begin() + axis + 1, in.dims().end()));
  Tensor out(in.dtype(), dims);
  ElemCopy copy(in, out);
  int64_t dst = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t s : sel) {
      copy.block(dst, (o * in.dim(axis) + s) * inner, inner);
      dst += inner;
    }
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

// ---- C emission ----

// Indices and values may be run-time inputs; depth is the static output dim.
Status emit_onehot(CEmitContext& c) {
  const Dims ind = c.in_dims(0), out = c.out_dims(0);
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), (int64_t)ind.size() + 1));
  if (c.in_count(2) != 2) return c.error("values must hold [off, on], has {} elements", c.in_count(2));
  if (c.out_count(0) == 0) return Status::ok();
  int64_t depth = out[axis];
  int64_t outer = numel_of(Dims(ind.begin(), ind.begin() + axis));
  int64_t inner = numel_of(Dims(ind.begin() + axis, ind.end()));
  DType it = c.input_dtype(0);
  std::vector<std::string> v = c.open_loops({outer, inner});
  // As the kernel's get_int: floats truncate toward zero.
  std::string k = c.var("k");
  c.w.line("int64_t {} = (int64_t){}[{} * {} + {}];", k, c.in(0), v[0], inner, v[1]);
  if (is_signed(it)) c.w.line("if ({0} < 0) {0} += {1};", k, depth);
  std::vector<std::string> d = c.open_loops({depth}, "d");
  std::string value = fmt::format("{0} == {1} ? {2}[1] : {2}[0]", k, d[0], c.in(2));
  c.store(0, {}, value, fmt::format("({} * {} + {}) * {} + {}", v[0], depth, d[0], inner, v[1]));
  c.close_loops(3);
  return Status::ok();
}

// Supported when the condition is a constant (else the output size is not
// static): a gather of the selected slices.
Status emit_compress(CEmitContext& c) {
  const Tensor* cond = c.input_constant(1);
  if (!cond) return c.error("the condition must be a constant for the C backend");
  const Dims in = c.in_dims(0);
  if (c.out_count(0) == 0) return Status::ok();
  int64_t outer = 1, n = numel_of(in), inner = 1;
  if (c.attrs.has("axis")) {
    WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), (int64_t)in.size()));
    outer = numel_of(Dims(in.begin(), in.begin() + axis));
    n = in[axis];
    inner = numel_of(Dims(in.begin() + axis + 1, in.end()));
  }
  std::vector<int64_t> sel = selected(*cond, n);
  std::string table = emit_index_table(c, "sel", sel);
  int64_t count = (int64_t)sel.size();
  std::vector<std::string> v = c.open_loops({outer, count, inner});
  std::string src = fmt::format("({} * {} + {}[{}]) * {} + {}", v[0], n, table, v[1], inner, v[2]);
  c.store(0, {}, c.load(0, src), fmt::format("({} * {} + {}) * {} + {}", v[0], count, v[1], inner, v[2]));
  c.close_loops(3);
  return Status::ok();
}

// ---- NonZero ----

Status infer_nonzero(InferContext& ctx) {
  const Shape& in = ctx.input_type(0).shape;
  Shape out = Shape::of_rank(2);
  if (in.rank_known) out.dims[0] = Dim::known(std::max<int64_t>(in.rank(), 1));
  ctx.outputs[0] = TensorType{DType::I64, out};
  return Status::ok();
}

Status kernel_nonzero(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  if (in.dtype() == DType::String) return ctx.error("string input is not supported");
  // A scalar counts as a 1-element vector (numpy's behaviour).
  Dims dims = in.rank() == 0 ? Dims{1} : in.dims();
  int64_t rank = (int64_t)dims.size();
  std::vector<int64_t> hits;
  for (int64_t i = 0; i < in.numel(); ++i)
    if (in.get_double(i) != 0) hits.push_back(i);
  int64_t nnz = (int64_t)hits.size();
  Tensor out(DType::I64, {rank, nnz});
  int64_t* o = out.data<int64_t>();
  Dims strides = strides_of(dims);
  for (int64_t k = 0; k < nnz; ++k)
    for (int64_t d = 0; d < rank; ++d) o[d * nnz + k] = hits[k] / strides[d] % dims[d];
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_OneHot() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::OneHot, "OneHot"};
    m.since_opset = 9;
    m.min_inputs = m.max_inputs = 3;
    m.attrs = {attr_int("axis", -1)};
    m.fusion = FusionKind::Injective;
    m.infer = infer_onehot;
    m.kernel = kernel_onehot;
    m.emit_c = emit_onehot;
    m.doc = "one-hot encoding along a new axis with [off, on] values";
    return m;
  }();
  return s;
}

const OpSchema& schema_Compress() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Compress, "Compress"};
    m.since_opset = 9;
    m.min_inputs = m.max_inputs = 2;
    m.attrs = {attr_optional("axis", Attribute::Kind::Int)};
    m.infer = infer_compress;
    m.kernel = kernel_compress;
    m.emit_c = emit_compress;
    m.doc = "slices along axis (or flattened elements) where condition is true";
    return m;
  }();
  return s;
}

const OpSchema& schema_NonZero() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::NonZero, "NonZero"};
    m.since_opset = 9;
    m.infer = infer_nonzero;
    m.kernel = kernel_nonzero;
    m.doc = "indices of non-zero elements, i64 [rank, count]";
    return m;
  }();
  return s;
}

namespace {

// ---- Unique ----
// Works on "rows": the slices along axis (or single elements without axis),
// laid out contiguously by a permutation so they compare lexicographically
// like numpy.unique. NaNs sort last and compare equal to each other.

template <typename T>
int compare_elem(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  }
  return a < b ? -1 : (b < a ? 1 : 0);
}

template <typename T>
std::function<int(int64_t, int64_t)> row_comparer(const T* rows, int64_t len) {
  return [rows, len](int64_t a, int64_t b) {
    for (int64_t i = 0; i < len; ++i)
      if (int c = compare_elem(rows[a * len + i], rows[b * len + i])) return c;
    return 0;
  };
}

Status infer_unique(InferContext& ctx) {
  const TensorType& in = ctx.input_type(0);
  std::vector<TensorType> out(4, TensorType{DType::I64, Shape::of_rank(1)});
  out[0] = TensorType{in.dtype, Shape::of_rank(1)};
  if (ctx.attrs.has("axis")) {
    out[0].shape = in.shape;
    if (in.shape.rank_known) {
      WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), in.shape.rank()));
      out[0].shape.dims[axis] = Dim::unknown();
      out[2].shape.dims[0] = in.shape.dims[axis];
    }
  } else if (in.shape.rank_known) {
    out[2].shape.dims[0] = dim_product(in.shape.dims);
  }
  for (size_t i = 0; i < ctx.outputs.size(); ++i) ctx.outputs[i] = out[i];
  return Status::ok();
}

Status kernel_unique(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  bool has_axis = ctx.attrs.has("axis");
  int64_t axis = 0;
  Dims view = {1, in.numel(), 1};  // [outer, n, inner]
  if (has_axis) {
    WEEC_ASSIGN_OR_RETURN(axis, normalize_axis(ctx, ctx.attrs.i("axis"), in.rank()));
    view = {numel_of(Dims(in.dims().begin(), in.dims().begin() + axis)), in.dim(axis),
            numel_of(Dims(in.dims().begin() + axis + 1, in.dims().end()))};
  }
  const int64_t n = view[1], len = view[0] * view[2];
  Tensor rows = permute_tensor(in, view, {1, 0, 2});  // [n, outer, inner]
  std::function<int(int64_t, int64_t)> cmp;
  std::vector<std::string> str_rows;
  Tensor keys = is_half(in.dtype()) ? to_f32(rows) : rows;
  if (in.dtype() == DType::String) {
    const auto& s = keys.strings();
    cmp = [&s, len](int64_t a, int64_t b) {
      for (int64_t i = 0; i < len; ++i)
        if (int c = s[a * len + i].compare(s[b * len + i])) return c < 0 ? -1 : 1;
      return 0;
    };
  } else {
    WEEC_TRY(visit_numeric(keys.dtype(), [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      cmp = row_comparer<T>(keys.data<T>(), len);
      return Status::ok();
    }));
  }
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
  // Groups of equal rows, in sorted order: first occurrence and count.
  std::vector<int64_t> first, count, group_of(n);
  for (int64_t i = 0; i < n; ++i) {
    if (i == 0 || cmp(order[i - 1], order[i]) != 0) {
      first.push_back(order[i]);
      count.push_back(0);
    }
    group_of[order[i]] = (int64_t)first.size() - 1;
    ++count.back();
  }
  const int64_t nu = (int64_t)first.size();
  std::vector<int64_t> out_pos(nu);  // group -> output position
  std::iota(out_pos.begin(), out_pos.end(), 0);
  if (ctx.attrs.i("sorted") == 0) {
    std::vector<int64_t> by_first(nu);
    std::iota(by_first.begin(), by_first.end(), 0);
    std::sort(by_first.begin(), by_first.end(), [&](int64_t a, int64_t b) { return first[a] < first[b]; });
    for (int64_t p = 0; p < nu; ++p) out_pos[by_first[p]] = p;
  }
  Tensor y_rows(in.dtype(), {nu, view[0], view[2]});
  ElemCopy copy(rows, y_rows);
  std::vector<int64_t> indices(nu), counts(nu), inverse(n);
  for (int64_t g = 0; g < nu; ++g) {
    copy.block(out_pos[g] * len, first[g] * len, len);
    indices[out_pos[g]] = first[g];
    counts[out_pos[g]] = count[g];
  }
  for (int64_t j = 0; j < n; ++j) inverse[j] = out_pos[group_of[j]];
  Tensor y = permute_tensor(y_rows, {nu, view[0], view[2]}, {1, 0, 2});
  Dims y_dims = {nu};
  if (has_axis) {
    y_dims = in.dims();
    y_dims[axis] = nu;
  }
  y.reshape(y_dims);
  std::vector<Tensor> outs = {std::move(y), int64_vector(indices), int64_vector(inverse),
                              int64_vector(counts)};
  for (size_t i = 0; i < ctx.outputs.size(); ++i) ctx.outputs[i] = std::move(outs[i]);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_Unique() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::Unique, "Unique"};
    m.since_opset = 11;
    m.max_outputs = 4;
    m.attrs = {attr_optional("axis", Attribute::Kind::Int), attr_int("sorted", 1)};
    m.infer = infer_unique;
    m.kernel = kernel_unique;
    m.doc = "distinct elements (or slices along axis), with indices, inverse indices and counts";
    return m;
  }();
  return s;
}

}  // namespace weec
