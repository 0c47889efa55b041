// Signal processing (opset 17): DFT, STFT and MelWeightMatrix.
// Complex values travel as a trailing dimension: 1 = real, 2 = (re, im).
// Transforms are direct O(n^2) sums in double with exact twiddle indexing
// (angle index k*j mod n), so any length works and results match numpy's FFT
// to float precision. The window generators (HannWindow, ...) are not here:
// they import through their ONNX function bodies.
#include <cmath>
#include <complex>
#include <numbers>

#include "ops/c_emit.h"
#include "ops/op_util.h"
#include "ops/shape_util.h"

namespace weec {

namespace {

using cd = std::complex<double>;

// Twiddle table w[m] = exp(sign * 2*pi*i * m / n).
std::vector<cd> twiddles(int64_t n, bool inverse) {
  std::vector<cd> w(n);
  const double sign = inverse ? 1.0 : -1.0;
  for (int64_t m = 0; m < n; ++m) {
    double a = 2.0 * std::numbers::pi * (double)m / (double)n;
    w[m] = cd(std::cos(a), sign * std::sin(a));
  }
  return w;
}

// out[k] = sum_j x[j] w[(j*k) mod n] for k < n_out; x has n entries (already
// truncated/zero-padded). The inverse transform also scales by 1/n.
void dft_line(const std::vector<cd>& x, const std::vector<cd>& w, int64_t n_out, bool inverse, cd* out) {
  const int64_t n = (int64_t)x.size();
  for (int64_t k = 0; k < n_out; ++k) {
    cd acc = 0;
    int64_t m = 0;  // (j*k) mod n, advanced incrementally
    for (int64_t j = 0; j < n; ++j) {
      acc += x[j] * w[m];
      m += k;
      if (m >= n) m %= n;
    }
    out[k] = inverse ? acc / (double)n : acc;
  }
}

// Scalar integer input (shape [] or [1]).
Expected<int64_t> int_scalar(const NodeContext& ctx, const Tensor& t, const char* what) {
  if (t.numel() != 1 || !is_integer(t.dtype()))
    return ctx.error("{} must be an integer scalar, got {} {}", what, dtype_name(t.dtype()),
                     dims_str(t.dims()));
  return t.get_int(0);
}

// ---- DFT ----

Status dft_kernel(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  if (!is_float(in.dtype())) return ctx.error("input must be float, got {}", dtype_name(in.dtype()));
  const int64_t r = in.rank();
  if (r < 2 || (in.dim(r - 1) != 1 && in.dim(r - 1) != 2))
    return ctx.error("input must end in a dimension of 1 (real) or 2 (complex), got {}", dims_str(in.dims()));
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), r));
  if (axis == r - 1) return ctx.error("axis cannot be the last (real/imaginary) dimension");
  const bool inverse = ctx.attrs.i("inverse") != 0, onesided = ctx.attrs.i("onesided") != 0;
  if (inverse && onesided) return ctx.error("onesided and inverse cannot both be set");
  const int64_t len_in = in.dim(axis);
  int64_t n = len_in;
  if (ctx.has_input(1)) {
    WEEC_ASSIGN_OR_RETURN(n, int_scalar(ctx, ctx.input(1), "dft_length"));
    if (n <= 0) return ctx.error("dft_length must be positive, got {}", n);
  }
  const int64_t n_out = onesided ? n / 2 + 1 : n;
  const int64_t comp = in.dim(r - 1);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= in.dim(i);
  for (int64_t i = axis + 1; i < r - 1; ++i) inner *= in.dim(i);
  Dims out_dims = in.dims();
  out_dims[axis] = n_out;
  out_dims[r - 1] = 2;
  Tensor x = convert(in, DType::F64);
  Tensor y(DType::F64, out_dims);
  const double* px = x.data<double>();
  double* py = y.data<double>();
  std::vector<cd> w = twiddles(n, inverse), line(n), res(n_out);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        if (j >= len_in) {
          line[j] = 0;
          continue;
        }
        const double* e = px + ((o * len_in + j) * inner + i) * comp;
        line[j] = cd(e[0], comp == 2 ? e[1] : 0.0);
      }
      dft_line(line, w, n_out, inverse, res.data());
      for (int64_t k = 0; k < n_out; ++k) {
        double* e = py + ((o * n_out + k) * inner + i) * 2;
        e[0] = res[k].real();
        e[1] = res[k].imag();
      }
    }
  ctx.outputs[0] = convert(y, in.dtype());
  return Status::ok();
}

Status infer_dft(InferContext& ctx) {
  const TensorType& t = ctx.input_type(0);
  if (!is_float(t.dtype)) return ctx.error("input must be float, got {}", dtype_name(t.dtype));
  if (ctx.has_input(1) && !is_integer(ctx.input_type(1).dtype))
    return ctx.error("dft_length must be an integer");
  if (!t.shape.rank_known) {
    ctx.outputs[0] = TensorType{t.dtype, Shape::unknown_rank()};
    return Status::ok();
  }
  const int64_t r = t.shape.rank();
  if (r < 2) return ctx.error("input must have rank >= 2");
  const Dim& last = t.shape.dims[r - 1];
  if (last.is_known() && last.value != 1 && last.value != 2)
    return ctx.error("input must end in a dimension of 1 (real) or 2 (complex)");
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.attrs.i("axis"), r));
  if (axis == r - 1) return ctx.error("axis cannot be the last (real/imaginary) dimension");
  const bool onesided = ctx.attrs.i("onesided") != 0;
  if (onesided && ctx.attrs.i("inverse") != 0) return ctx.error("onesided and inverse cannot both be set");
  Shape s = t.shape;
  Dim n = s.dims[axis];
  if (ctx.has_input(1)) {
    n = Dim::unknown();
    if (const Tensor* c = ctx.input_constant(1)) {
      if (c->numel() != 1) return ctx.error("dft_length must be a scalar");
      int64_t v = c->get_int(0);
      if (v <= 0) return ctx.error("dft_length must be positive, got {}", v);
      n = Dim::known(v);
    }
  }
  if (onesided) n = n.is_known() ? Dim::known(n.value / 2 + 1) : Dim::unknown();
  s.dims[axis] = n;
  s.dims[r - 1] = Dim::known(2);
  ctx.outputs[0] = TensorType{t.dtype, s};
  return Status::ok();
}

// ---- STFT ----

Status stft_kernel(KernelContext& ctx) {
  const Tensor& sig = ctx.input(0);
  if (!is_float(sig.dtype())) return ctx.error("signal must be float, got {}", dtype_name(sig.dtype()));
  if (sig.rank() != 3 || (sig.dim(2) != 1 && sig.dim(2) != 2))
    return ctx.error("signal must have shape [batch, length, 1 or 2], got {}", dims_str(sig.dims()));
  WEEC_ASSIGN_OR_RETURN(int64_t step, int_scalar(ctx, ctx.input(1), "frame_step"));
  if (step <= 0) return ctx.error("frame_step must be positive, got {}", step);
  const bool has_window = ctx.has_input(2), has_length = ctx.has_input(3);
  if (!has_window && !has_length) return ctx.error("needs a window or a frame_length");
  int64_t n = 0;
  Tensor window;
  if (has_window) {
    if (ctx.input(2).rank() != 1) return ctx.error("window must be 1-D");
    window = convert(ctx.input(2), DType::F64);
    n = window.dim(0);
  }
  if (has_length) {
    WEEC_ASSIGN_OR_RETURN(int64_t fl, int_scalar(ctx, ctx.input(3), "frame_length"));
    if (has_window && fl != n) return ctx.error("frame_length {} does not match window length {}", fl, n);
    n = fl;
  }
  const int64_t batch = sig.dim(0), length = sig.dim(1), comp = sig.dim(2);
  if (n <= 0 || n > length) return ctx.error("frame length {} must be in [1, {}]", n, length);
  const bool onesided = ctx.attrs.i("onesided") != 0;
  const int64_t frames = (length - n) / step + 1, bins = onesided ? n / 2 + 1 : n;
  Tensor x = convert(sig, DType::F64);
  Tensor y(DType::F64, {batch, frames, bins, 2});
  const double* px = x.data<double>();
  const double* pw = has_window ? window.data<double>() : nullptr;
  double* py = y.data<double>();
  std::vector<cd> w = twiddles(n, false), line(n), res(bins);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t f = 0; f < frames; ++f) {
      for (int64_t j = 0; j < n; ++j) {
        const double* e = px + (b * length + f * step + j) * comp;
        line[j] = cd(e[0], comp == 2 ? e[1] : 0.0) * (pw ? pw[j] : 1.0);
      }
      dft_line(line, w, bins, false, res.data());
      double* o = py + (b * frames + f) * bins * 2;
      for (int64_t k = 0; k < bins; ++k) {
        o[2 * k] = res[k].real();
        o[2 * k + 1] = res[k].imag();
      }
    }
  ctx.outputs[0] = convert(y, sig.dtype());
  return Status::ok();
}

Status infer_stft(InferContext& ctx) {
  const TensorType& t = ctx.input_type(0);
  if (!is_float(t.dtype)) return ctx.error("signal must be float, got {}", dtype_name(t.dtype));
  if (t.shape.rank_known && t.shape.rank() != 3) return ctx.error("signal must have rank 3");
  if (!ctx.has_input(2) && !ctx.has_input(3)) return ctx.error("needs a window or a frame_length");
  Shape s = Shape::of_rank(4);
  s.dims[3] = Dim::known(2);
  if (t.shape.rank_known) s.dims[0] = t.shape.dims[0];
  int64_t n = -1;
  if (const Tensor* c = ctx.input_constant(3)) {
    if (c->numel() != 1) return ctx.error("frame_length must be a scalar");
    n = c->get_int(0);
  } else if (!ctx.has_input(3)) {
    const Shape& ws = ctx.input_type(2).shape;
    if (ws.rank_known && ws.rank() != 1) return ctx.error("window must be 1-D");
    if (ws.rank_known && ws.dims[0].is_known()) n = ws.dims[0].value;
  }
  if (n > 0) {
    s.dims[2] = Dim::known(ctx.attrs.i("onesided") != 0 ? n / 2 + 1 : n);
    const Tensor* step = ctx.input_constant(1);
    if (step && step->numel() == 1 && step->get_int(0) > 0 && t.shape.rank_known &&
        t.shape.dims[1].is_known() && t.shape.dims[1].value >= n)
      s.dims[1] = Dim::known((t.shape.dims[1].value - n) / step->get_int(0) + 1);
  }
  ctx.outputs[0] = TensorType{t.dtype, s};
  return Status::ok();
}

// ---- MelWeightMatrix ----

Status mel_kernel(KernelContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(int64_t num_mel, int_scalar(ctx, ctx.input(0), "num_mel_bins"));
  WEEC_ASSIGN_OR_RETURN(int64_t dft_length, int_scalar(ctx, ctx.input(1), "dft_length"));
  WEEC_ASSIGN_OR_RETURN(int64_t sample_rate, int_scalar(ctx, ctx.input(2), "sample_rate"));
  for (size_t i : {3, 4})
    if (ctx.input(i).numel() != 1 || !is_float(ctx.input(i).dtype()))
      return ctx.error("{} must be a float scalar", ctx.input_desc(i));
  if (num_mel <= 0 || dft_length <= 0 || sample_rate <= 0)
    return ctx.error("num_mel_bins, dft_length and sample_rate must be positive");
  auto out_type = dtype_from_onnx_code(ctx.attrs.i("output_datatype"));
  if (!out_type || *out_type == DType::String) return ctx.error("unsupported output_datatype");
  const double lower = ctx.input(3).get_double(0), upper = ctx.input(4).get_double(0);
  const int64_t num_bins = dft_length / 2 + 1;
  // The formula of the ONNX reference: num_mel + 2 equally spaced points on
  // the mel scale (step = range / (num_mel + 2)), mapped back to Hz and then
  // to spectrogram bins with floor((dft_length + 1) * hz / sample_rate).
  const double low_mel = 2595.0 * std::log10(1.0 + lower / 700.0);
  const double high_mel = 2595.0 * std::log10(1.0 + upper / 700.0);
  const double mel_step = (high_mel - low_mel) / (double)(num_mel + 2);
  auto range_error = [&] {
    return ctx.error("frequency range [{}, {}] Hz maps outside the {} spectrogram bins", lower, upper,
                     num_bins);
  };
  std::vector<int64_t> edge(num_mel + 2);
  for (int64_t i = 0; i < num_mel + 2; ++i) {
    double hz = 700.0 * (std::pow(10.0, ((double)i * mel_step + low_mel) / 2595.0) - 1.0);
    double bin = std::floor((double)(dft_length + 1) * hz / (double)sample_rate);
    if (!(bin >= 0 && bin <= (double)num_bins)) return range_error();
    edge[i] = (int64_t)bin;
  }
  std::vector<double> m(num_bins * num_mel, 0.0);
  for (int64_t i = 0; i < num_mel; ++i) {
    const int64_t lo = edge[i], center = edge[i + 1], hi = edge[i + 2];
    // The top edge may equal num_bins (it bounds a half-open range); any
    // written row must exist, as the reference would fail on it too.
    if (center == lo) {
      if (center >= num_bins) return range_error();
      m[center * num_mel + i] = 1;
    } else {
      for (int64_t j = lo; j <= center; ++j) {
        if (j >= num_bins) return range_error();
        m[j * num_mel + i] = double(j - lo) / double(center - lo);
      }
    }
    for (int64_t j = center; j < hi; ++j) {
      if (j >= num_bins) return range_error();
      m[j * num_mel + i] = double(hi - j) / double(hi - center);
    }
  }
  Tensor out(*out_type, {num_bins, num_mel});
  for (int64_t i = 0; i < out.numel(); ++i) out.set_double(i, m[i]);
  ctx.outputs[0] = std::move(out);
  return Status::ok();
}

Status infer_mel(InferContext& ctx) {
  auto out_type = dtype_from_onnx_code(ctx.attrs.i("output_datatype"));
  if (!out_type || *out_type == DType::String) return ctx.error("unsupported output_datatype");
  for (size_t i : {0, 1, 2})
    if (!is_integer(ctx.input_type(i).dtype)) return ctx.error("{} must be an integer", ctx.input_desc(i));
  for (size_t i : {3, 4})
    if (!is_float(ctx.input_type(i).dtype)) return ctx.error("{} must be float", ctx.input_desc(i));
  Shape s = Shape::of_rank(2);
  const Tensor* mel = ctx.input_constant(0);
  const Tensor* len = ctx.input_constant(1);
  if (mel && mel->numel() == 1 && mel->get_int(0) > 0) s.dims[1] = Dim::known(mel->get_int(0));
  if (len && len->numel() == 1 && len->get_int(0) > 0) s.dims[0] = Dim::known(len->get_int(0) / 2 + 1);
  ctx.outputs[0] = TensorType{*out_type, s};
  return Status::ok();
}

// ---- C emission ----
// The kernels' direct sums in double, with the same twiddle table (emitted as
// a static array with round-trip precision) and the same (j*k) mod n indexing.

// Name of the static twiddle table for length n: re at [2m], im at [2m+1].
std::string twiddle_table(CEmitContext& c, int64_t n, bool inverse) {
  std::string name = fmt::format("weec_twiddle_{}_{}", n, inverse ? "inv" : "fwd");
  std::vector<cd> w = twiddles(n, inverse);
  std::string text = fmt::format("static const double {}[{}] = {{\n", name, 2 * n);
  for (const cd& v : w) text += fmt::format("  {:.17g}, {:.17g},\n", v.real(), v.imag());
  text += "};\n";
  return c.helper(name, text);
}

// Emits one transform line: out[k] for k < n_out from `count` input elements
// (the rest are zero padding), element j's real part at `re(j)`, imaginary at
// `im(j)` (empty for real input); `store(k, re, im)` writes a result.
template <typename Re, typename Im, typename Store>
void emit_dft_line(CEmitContext& c, int64_t n, int64_t n_out, int64_t count, bool inverse, Re&& re, Im&& im,
                   Store&& store) {
  std::string w = twiddle_table(c, n, inverse);
  std::string k = c.var("k"), j = c.var("j"), m = c.var("m"), sr = c.var("sr"), si = c.var("si");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", k, n_out);
  c.w.line("double {} = 0.0, {} = 0.0;", sr, si);
  c.w.line("int32_t {} = 0;", m);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", j, count);
  c.w.line("const double xr = {}, wr = {}[2 * {}], wi = {}[2 * {} + 1];", re(j), w, m, w, m);
  std::string xi = im(j);
  if (xi.empty()) {
    c.w.line("{} += xr * wr;", sr);
    c.w.line("{} += xr * wi;", si);
  } else {
    c.w.line("const double xi = {};", xi);
    c.w.line("{} += xr * wr - xi * wi;", sr);
    c.w.line("{} += xr * wi + xi * wr;", si);
  }
  c.w.line("{} += {};", m, k);
  c.w.line("if ({0} >= {1}) {0} -= {1};", m, n);
  c.w.close();
  if (inverse) c.w.line("{0} /= {2}; {1} /= {2};", sr, si, c_literal_i64(n, DType::F64));
  store(k, sr, si);
  c.w.close();
}

Status dft_emit_c(CEmitContext& c) {
  Dims in = c.in_dims(0);
  const int64_t r = (int64_t)in.size();
  const DType t = c.input_dtype(0);
  if (t != DType::F32 && t != DType::F64) return c.error("dtype {} is not supported", dtype_name(t));
  if (r < 2 || (in[r - 1] != 1 && in[r - 1] != 2)) return c.error("input must end in a dimension of 1 or 2");
  WEEC_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c, c.attrs.i("axis"), r));
  if (axis == r - 1) return c.error("axis cannot be the last (real/imaginary) dimension");
  const bool inverse = c.attrs.i("inverse") != 0, onesided = c.attrs.i("onesided") != 0;
  const int64_t len_in = in[axis], comp = in[r - 1];
  int64_t n = len_in;
  if (c.has_input(1)) {
    const Tensor* lt = c.input_constant(1);
    if (!lt) return c.error("dft_length must be a constant for the C backend");
    WEEC_ASSIGN_OR_RETURN(n, int_scalar(c, *lt, "dft_length"));
    if (n <= 0) return c.error("dft_length must be positive, got {}", n);
  }
  const int64_t n_out = onesided ? n / 2 + 1 : n;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= in[i];
  for (int64_t i = axis + 1; i < r - 1; ++i) inner *= in[i];
  if (outer * inner == 0) return Status::ok();
  const std::string T = c_type(t), x = c.in(0), y = c.out(0);
  std::string o = c.var("o"), i = c.var("i");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", o, outer);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, inner);
  auto at = [&](const std::string& j) {
    return fmt::format("(({} * {} + {}) * {} + {}) * {}", o, len_in, j, inner, i, comp);
  };
  emit_dft_line(
      c, n, n_out, std::min(n, len_in), inverse,
      [&](const std::string& j) { return fmt::format("(double){}[{}]", x, at(j)); },
      [&](const std::string& j) {
        return comp == 2 ? fmt::format("(double){}[{} + 1]", x, at(j)) : std::string();
      },
      [&](const std::string& k, const std::string& re, const std::string& im) {
        std::string e = fmt::format("(({} * {} + {}) * {} + {}) * 2", o, n_out, k, inner, i);
        c.w.line("{}[{}] = ({}){};", y, e, T, re);
        c.w.line("{}[{} + 1] = ({}){};", y, e, T, im);
      });
  c.w.close();
  c.w.close();
  return Status::ok();
}

Status stft_emit_c(CEmitContext& c) {
  Dims in = c.in_dims(0);
  const DType t = c.input_dtype(0);
  if (t != DType::F32 && t != DType::F64) return c.error("dtype {} is not supported", dtype_name(t));
  if (in.size() != 3 || (in[2] != 1 && in[2] != 2))
    return c.error("signal must have shape [batch, length, 1 or 2]");
  const Tensor* st = c.input_constant(1);
  if (!st) return c.error("frame_step must be a constant for the C backend");
  WEEC_ASSIGN_OR_RETURN(int64_t step, int_scalar(c, *st, "frame_step"));
  if (step <= 0) return c.error("frame_step must be positive, got {}", step);
  const bool has_window = c.has_input(2);
  int64_t n = 0;
  if (has_window) {
    Dims wd = c.in_dims(2);
    if (wd.size() != 1) return c.error("window must be 1-D");
    n = wd[0];
  }
  if (c.has_input(3)) {
    const Tensor* lt = c.input_constant(3);
    if (!lt) return c.error("frame_length must be a constant for the C backend");
    WEEC_ASSIGN_OR_RETURN(int64_t fl, int_scalar(c, *lt, "frame_length"));
    if (has_window && fl != n) return c.error("frame_length {} does not match window length {}", fl, n);
    n = fl;
  } else if (!has_window) {
    return c.error("needs a window or a frame_length");
  }
  const int64_t batch = in[0], length = in[1], comp = in[2];
  if (n <= 0 || n > length) return c.error("frame length {} must be in [1, {}]", n, length);
  const bool onesided = c.attrs.i("onesided") != 0;
  const int64_t frames = (length - n) / step + 1, bins = onesided ? n / 2 + 1 : n;
  if (batch == 0) return Status::ok();
  const std::string T = c_type(t), x = c.in(0), y = c.out(0), win = has_window ? c.in(2) : "";
  std::string b = c.var("b"), f = c.var("f");
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", b, batch);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", f, frames);
  auto at = [&](const std::string& j) {
    return fmt::format("({} * {} + {} * {} + {}) * {}", b, length, f, step, j, comp);
  };
  auto scaled = [&](const std::string& v, const std::string& j) {
    return has_window ? fmt::format("(double){} * (double){}[{}]", v, win, j) : fmt::format("(double){}", v);
  };
  emit_dft_line(
      c, n, bins, n, false, [&](const std::string& j) { return scaled(fmt::format("{}[{}]", x, at(j)), j); },
      [&](const std::string& j) {
        return comp == 2 ? scaled(fmt::format("{}[{} + 1]", x, at(j)), j) : std::string();
      },
      [&](const std::string& k, const std::string& re, const std::string& im) {
        std::string e = fmt::format("(({} * {} + {}) * {} + {}) * 2", b, frames, f, bins, k);
        c.w.line("{}[{}] = ({}){};", y, e, T, re);
        c.w.line("{}[{} + 1] = ({}){};", y, e, T, im);
      });
  c.w.close();
  c.w.close();
  return Status::ok();
}

// The kernel's formula at run time (the Hz edges are run-time inputs). The
// kernel rejects frequency ranges that map outside the bins; here such edges
// are clamped into range instead, since generated code cannot fail.
Status mel_emit_c(CEmitContext& c) {
  int64_t v[3];
  const char* names[3] = {"num_mel_bins", "dft_length", "sample_rate"};
  for (size_t i = 0; i < 3; ++i) {
    const Tensor* k = c.input_constant(i);
    if (!k) return c.error("{} must be a constant for the C backend", names[i]);
    WEEC_ASSIGN_OR_RETURN(v[i], int_scalar(c, *k, names[i]));
    if (v[i] <= 0) return c.error("num_mel_bins, dft_length and sample_rate must be positive");
  }
  const int64_t num_mel = v[0], dft_length = v[1], sample_rate = v[2], num_bins = dft_length / 2 + 1;
  const DType ot = c.output_dtype();
  const std::string T = c_type(ot), y = c.out(0);
  std::string edge = c.scratch(DType::I64, num_mel + 2, "edge"), lo = c.var("low_mel"),
              hi = c.var("high_mel"), step = c.var("mel_step"), i = c.var("i"), j = c.var("j"),
              q = c.var("q");
  std::string log10 = c.math("log10", DType::F64), pow = c.math("pow", DType::F64),
              floor = c.math("floor", DType::F64);
  c.w.line("const double {} = 2595.0 * {}(1.0 + (double){}[0] / 700.0);", lo, log10, c.in(3));
  c.w.line("const double {} = 2595.0 * {}(1.0 + (double){}[0] / 700.0);", hi, log10, c.in(4));
  c.w.line("const double {} = ({} - {}) / {};", step, hi, lo, c_literal_i64(num_mel + 2, DType::F64));
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, num_mel + 2);
  c.w.line("const double hz = 700.0 * ({}(10.0, ((double){} * {} + {}) / 2595.0) - 1.0);", pow, i, step, lo);
  c.w.line("const double bin = {}({} * hz / {});", floor, c_literal_i64(dft_length + 1, DType::F64),
           c_literal_i64(sample_rate, DType::F64));
  c.w.line("{}[{}] = bin >= 0.0 && bin <= {} ? (int64_t)bin : 0;", edge, i,
           c_literal_i64(num_bins, DType::F64));
  c.w.close();
  c.w.line("for (int32_t {0} = 0; {0} < {1}; ++{0}) {2}[{0}] = 0;", q, num_bins * num_mel, y);
  c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, num_mel);
  c.w.line("const int64_t lo = {0}[{1}], center = {0}[{1} + 1], hi = {0}[{1} + 2];", edge, i);
  c.w.open("if (center == lo) {{");
  c.w.line("if (center < {}) {}[center * {} + {}] = {};", num_bins, y, num_mel, i, c_literal(1, ot));
  c.w.close();
  c.w.open("else {{");
  c.w.line(
      "for (int64_t {0} = lo; {0} <= center && {0} < {1}; ++{0}) {2}[{0} * {3} + {4}] = ({5})((double)({0} - "
      "lo) / (double)(center - lo));",
      j, num_bins, y, num_mel, i, T);
  c.w.close();
  c.w.line(
      "for (int64_t {0} = center; {0} < hi && {0} < {1}; ++{0}) {2}[{0} * {3} + {4}] = ({5})((double)(hi - "
      "{0}) / (double)(hi - center));",
      j, num_bins, y, num_mel, i, T);
  c.w.close();
  return Status::ok();
}

}  // namespace

const OpSchema& schema_DFT() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::DFT, "DFT"};
    m.since_opset = 17;
    m.min_inputs = 1;
    m.max_inputs = 2;
    m.attrs = {attr_int("axis", 1), attr_int("inverse", 0), attr_int("onesided", 0)};
    m.infer = infer_dft;
    m.kernel = dft_kernel;
    m.emit_c = dft_emit_c;
    m.doc = "discrete Fourier transform along an axis; trailing dim 1 (real) or 2 (complex)";
    return m;
  }();
  return s;
}

const OpSchema& schema_STFT() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::STFT, "STFT"};
    m.since_opset = 17;
    m.min_inputs = 2;
    m.max_inputs = 4;
    m.attrs = {attr_int("onesided", 1)};
    m.infer = infer_stft;
    m.kernel = stft_kernel;
    m.emit_c = stft_emit_c;
    m.doc = "short-time Fourier transform: [batch, frames, bins, 2]";
    return m;
  }();
  return s;
}

const OpSchema& schema_MelWeightMatrix() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::MelWeightMatrix, "MelWeightMatrix"};
    m.since_opset = 17;
    m.min_inputs = m.max_inputs = 5;
    m.attrs = {attr_int("output_datatype", 1)};
    m.infer = infer_mel;
    m.kernel = mel_kernel;
    m.emit_c = mel_emit_c;
    m.doc = "triangular mel filterbank matrix [dft_length / 2 + 1, num_mel_bins]";
    return m;
  }();
  return s;
}

}  // namespace weec
