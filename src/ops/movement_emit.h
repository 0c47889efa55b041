// C emission helpers shared by the data-movement ops (transpose, depth_space,
// slice, concat/split, tile, pad, gather, scatter, select, resize): affine
// index expressions, strided copies as merged loop nests, literals of
// constant elements and static index tables. Shapes are static when these
// run, so everything that depends only on shapes and constant inputs is
// decided here and the generated loops are plain strided copies.
#pragma once

#include <string>
#include <vector>

#include "ops/c_emit.h"
#include "ops/shape_util.h"

namespace weec {

// `base + vars[0] * coefs[0] + ...` as a C expression; zero coefficients are
// dropped, unit ones are written without the multiplication.
inline std::string affine_index(int64_t base, const std::vector<std::string>& vars, const Dims& coefs) {
  std::string s;
  for (size_t d = 0; d < vars.size(); ++d) {
    int64_t k = coefs[d];
    if (k == 0) continue;
    std::string term = (k == 1 || k == -1) ? vars[d] : fmt::format("{} * {}", vars[d], k < 0 ? -k : k);
    if (s.empty())
      s = k < 0 ? "-" + term : term;
    else
      s += (k < 0 ? " - " : " + ") + term;
  }
  if (s.empty()) return fmt::format("{}", base);
  if (base != 0) s = fmt::format("{} {} {}", base, s[0] == '-' ? "-" : "+", s[0] == '-' ? s.substr(1) : s);
  return s;
}

// Element i of a constant tensor as a C literal of its own dtype.
inline std::string element_literal(const Tensor& t, int64_t i) {
  if (is_float(t.dtype())) return c_literal(t.get_double(i), t.dtype());
  return c_literal_i64(t.get_int(i), t.dtype());
}

// For every multi-index i over `dims`:
//   out[out_base + sum i_d * out_steps_d] = in[in_base + sum i_d * in_steps_d].
// Steps may be negative (reversed slices) or zero (broadcast, tile).
struct StridedCopy {
  Dims dims, in_steps, out_steps;
  int64_t in_base = 0, out_base = 0;
};

// Drops unit dims and merges neighbours that are contiguous in both the
// input and the output, so a plain copy becomes one loop.
inline StridedCopy merge_dims(const StridedCopy& s) {
  StridedCopy m{{}, {}, {}, s.in_base, s.out_base};
  for (size_t d = 0; d < s.dims.size(); ++d) {
    if (s.dims[d] == 1) continue;
    if (!m.dims.empty() && m.in_steps.back() == s.in_steps[d] * s.dims[d] &&
        m.out_steps.back() == s.out_steps[d] * s.dims[d]) {
      m.dims.back() *= s.dims[d];
      m.in_steps.back() = s.in_steps[d];
      m.out_steps.back() = s.out_steps[d];
      continue;
    }
    m.dims.push_back(s.dims[d]);
    m.in_steps.push_back(s.in_steps[d]);
    m.out_steps.push_back(s.out_steps[d]);
  }
  return m;
}

// Emits the copy of `s` from input `in_i` to output `out_k`. Input elements
// are read through load() (a fused prologue inlines there), outputs written
// through store(), once each.
inline void emit_strided_copy(CEmitContext& c, size_t in_i, size_t out_k, const StridedCopy& s) {
  if (numel_of(s.dims) == 0) return;
  StridedCopy m = merge_dims(s);
  std::vector<std::string> v = c.open_loops(m.dims);
  std::string src = affine_index(m.in_base, v, m.in_steps);
  c.store(out_k, {}, c.load(in_i, src), affine_index(m.out_base, v, m.out_steps));
  c.close_loops(v.size());
}

// Row-major steps of `dims` permuted: step of output dim i is the input
// stride of dim perm[i]. Used by Transpose, DepthToSpace, SpaceToDepth.
inline StridedCopy permute_copy(const Dims& view, const std::vector<int64_t>& perm) {
  StridedCopy s;
  Dims strides = strides_of(view);
  for (int64_t p : perm) {
    s.dims.push_back(view[p]);
    s.in_steps.push_back(strides[p]);
  }
  s.out_steps = strides_of(s.dims);
  return s;
}

// Declares `static const int32_t NAME[] = {...};` and returns NAME. Empty
// tables are not valid C: callers skip loops of zero trips before this.
inline std::string emit_index_table(CEmitContext& c, const std::string& hint, const std::vector<int64_t>& v) {
  std::string name = c.var(hint);
  std::string body;
  for (size_t i = 0; i < v.size(); ++i) body += (i ? ", " : "") + c_literal_i64(v[i], DType::I32);
  c.w.line("static const int32_t {}[{}] = {{{}}};", name, v.size(), body);
  return name;
}

// Reads index element `flat` of input i (any integer dtype) as int64_t,
// counts negatives from the end of an axis of `dim` elements and clamps into
// [0, dim) so that out-of-range indices (an error in the reference kernel,
// undefined in ONNX) never read outside the buffer. Declares `name`.
inline void emit_wrapped_index(CEmitContext& c, const std::string& name, size_t input,
                               const std::string& flat, int64_t dim) {
  c.w.line("int64_t {} = (int64_t){}[{}];", name, c.in(input), flat);
  if (is_signed(c.input_dtype(input))) c.w.line("if ({0} < 0) {0} += {1};", name, dim);
  if (is_signed(c.input_dtype(input))) c.w.line("if ({0} < 0) {0} = 0;", name);
  c.w.line("if ({0} > {1}) {0} = {1};", name, dim - 1);
}

}  // namespace weec
