// GridSample (opset 16): samples an NCHW input at the normalized (x, y)
// locations of grid [N, H_out, W_out, 2] with bilinear, nearest or bicubic
// interpolation and zeros / border / reflection padding. Follows ONNX
// Runtime's kernel (the reference data agrees with it and with PyTorch):
// nearest rounds half to even; bicubic uses the A = -0.75 cubic convolution
// over a 4x4 neighbourhood; reflection reflects about the borders implied by
// align_corners (pixel centres, or pixel edges when align_corners = 0).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/c_emit.h"
#include "ops/op_util.h"

namespace weec {

namespace {

enum class Mode { Bilinear, Nearest, Bicubic };
enum class Padding { Zeros, Border, Reflection };

template <typename T>
T denormalize(T n, int64_t length, bool align_corners) {
  // align_corners: [-1, 1] -> [0, length - 1]; else [-1, 1] -> [-0.5, length - 0.5].
  return align_corners ? (n + T(1)) / T(2) * T(length - 1) : ((n + T(1)) * T(length) - T(1)) / T(2);
}

template <typename T>
T reflect(T x, T lo, T hi) {
  T range = hi - lo;
  if (range <= T(0)) return lo;  // single pixel with align_corners: every point maps to it
  // n = whole ranges travelled past the border (kept in floating point so
  // huge coordinates cannot overflow an integer); odd n flips the direction.
  if (x < lo) {
    T dx = lo - x, n = std::floor(dx / range), r = dx - n * range;
    return std::fmod(n, T(2)) == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    T dx = x - hi, n = std::floor(dx / range), r = dx - n * range;
    return std::fmod(n, T(2)) == 0 ? hi - r : lo + r;
  }
  return x;
}

template <typename T>
struct Sampler {
  const T* image;  // one H x W plane
  int64_t h, w;
  Padding padding;
  T x_lo, y_lo, x_hi, y_hi;  // reflection borders

  T pixel(int64_t r, int64_t c) const {
    switch (padding) {
      case Padding::Zeros:
        if (c < 0 || c >= w || r < 0 || r >= h) return T(0);
        break;
      case Padding::Border:
        c = std::clamp<int64_t>(c, 0, w - 1);
        r = std::clamp<int64_t>(r, 0, h - 1);
        break;
      case Padding::Reflection:
        // Clamp after reflecting: guards against rounding at the far edge.
        c = std::clamp<int64_t>((int64_t)reflect(T(c), x_lo, x_hi), 0, w - 1);
        r = std::clamp<int64_t>((int64_t)reflect(T(r), y_lo, y_hi), 0, h - 1);
        break;
    }
    return image[r * w + c];
  }
};

template <typename T>
void cubic_coeffs(T x, T c[4]) {
  const T a = T(-0.75);
  x = std::abs(x);
  c[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  c[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  c[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

template <typename T>
void grid_sample(const T* x, const T* grid, int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh,
                 int64_t ow, Mode mode, Padding padding, bool align_corners, T* y) {
  T x_lo = align_corners ? T(0) : T(-0.5), x_hi = align_corners ? T(w - 1) : T(w) - T(0.5);
  T y_lo = align_corners ? T(0) : T(-0.5), y_hi = align_corners ? T(h - 1) : T(h) - T(0.5);
  for (int64_t b = 0; b < n; ++b) {
    const T* g = grid + b * oh * ow * 2;
    for (int64_t ch = 0; ch < c; ++ch) {
      Sampler<T> s{x + (b * c + ch) * h * w, h, w, padding, x_lo, y_lo, x_hi, y_hi};
      T* out = y + (b * c + ch) * oh * ow;
      for (int64_t p = 0; p < oh * ow; ++p) {
        T gx = denormalize(g[p * 2], w, align_corners), gy = denormalize(g[p * 2 + 1], h, align_corners);
        if (mode == Mode::Nearest) {
          gx = std::nearbyint(gx);
          gy = std::nearbyint(gy);
        }
        if (gx < x_lo || gx > x_hi || gy < y_lo || gy > y_hi) {
          if (padding == Padding::Border) {
            gx = std::clamp(gx, T(0), T(w - 1));
            gy = std::clamp(gy, T(0), T(h - 1));
          } else if (padding == Padding::Reflection) {
            gx = reflect(gx, x_lo, x_hi);
            gy = reflect(gy, y_lo, y_hi);
          }
        }
        if (std::isnan(gx) || std::isnan(gy)) {  // NaN grid, or infinity reflected
          out[p] = std::numeric_limits<T>::quiet_NaN();
          continue;
        }
        // Only zero padding leaves points outside; beyond 4 pixels out every
        // tap reads a zero, so clamping there keeps results and integer casts safe.
        gx = std::clamp(gx, T(-4), T(w + 3));
        gy = std::clamp(gy, T(-4), T(h + 3));
        if (mode == Mode::Nearest) {
          out[p] = s.pixel((int64_t)gy, (int64_t)gx);
        } else if (mode == Mode::Bilinear) {
          T fx = std::floor(gx), fy = std::floor(gy);
          int64_t x1 = (int64_t)fx, y1 = (int64_t)fy, x2 = x1 + 1, y2 = y1 + 1;
          T dx2 = T(x2) - gx, dx1 = gx - T(x1), dy2 = T(y2) - gy, dy1 = gy - T(y1);
          out[p] = dy2 * (dx2 * s.pixel(y1, x1) + dx1 * s.pixel(y1, x2)) +
                   dy1 * (dx2 * s.pixel(y2, x1) + dx1 * s.pixel(y2, x2));
        } else {
          int64_t x0 = (int64_t)std::floor(gx) - 1, y0 = (int64_t)std::floor(gy) - 1;
          T cx[4], cy[4], v[4];
          cubic_coeffs<T>(gx - T(x0) - 1, cx);
          cubic_coeffs<T>(gy - T(y0) - 1, cy);
          for (int64_t i = 0; i < 4; ++i) {
            v[i] = 0;
            for (int64_t j = 0; j < 4; ++j) v[i] += cx[j] * s.pixel(y0 + i, x0 + j);
          }
          out[p] = cy[0] * v[0] + cy[1] * v[1] + cy[2] * v[2] + cy[3] * v[3];
        }
      }
    }
  }
}

Status grid_sample_kernel(KernelContext& ctx) {
  const Tensor& x0 = ctx.input(0);
  const Tensor& g0 = ctx.input(1);
  if (x0.rank() != 4) return ctx.error("X must be 4-D (N, C, H, W), got {}", dims_str(x0.dims()));
  if (g0.rank() != 4 || g0.dim(3) != 2 || g0.dim(0) != x0.dim(0))
    return ctx.error("grid must have shape [{}, H_out, W_out, 2], got {}", x0.dim(0), dims_str(g0.dims()));
  if (x0.dtype() == DType::String || x0.dtype() == DType::Bool || !is_float(g0.dtype()))
    return ctx.error("unsupported dtypes {} / {}", dtype_name(x0.dtype()), dtype_name(g0.dtype()));
  const std::string& ms = ctx.attrs.s("mode");
  const std::string& ps = ctx.attrs.s("padding_mode");
  Mode mode;
  if (ms == "bilinear" || ms == "linear")
    mode = Mode::Bilinear;
  else if (ms == "nearest")
    mode = Mode::Nearest;
  else if (ms == "bicubic" || ms == "cubic")
    mode = Mode::Bicubic;
  else
    return ctx.error("unknown mode '{}'", ms);
  Padding padding;
  if (ps == "zeros")
    padding = Padding::Zeros;
  else if (ps == "border")
    padding = Padding::Border;
  else if (ps == "reflection")
    padding = Padding::Reflection;
  else
    return ctx.error("unknown padding_mode '{}'", ps);
  bool align = ctx.attrs.i("align_corners") != 0;
  const int64_t n = x0.dim(0), c = x0.dim(1), h = x0.dim(2), w = x0.dim(3), oh = g0.dim(1), ow = g0.dim(2);
  if ((h == 0 || w == 0) && n * c * oh * ow > 0) return ctx.error("cannot sample an empty image");
  // f64 and integer inputs compute in double; f16/bf16/f32 in float like ONNX Runtime.
  const DType ct = (x0.dtype() == DType::F64 || !is_float(x0.dtype())) ? DType::F64 : DType::F32;
  Tensor x = convert(x0, ct), g = convert(g0, ct);
  Tensor y(ct, {n, c, oh, ow});
  if (ct == DType::F64)
    grid_sample<double>(x.data<double>(), g.data<double>(), n, c, h, w, oh, ow, mode, padding, align,
                        y.data<double>());
  else
    grid_sample<float>(x.data<float>(), g.data<float>(), n, c, h, w, oh, ow, mode, padding, align,
                       y.data<float>());
  ctx.outputs[0] = convert(y, x0.dtype());
  return Status::ok();
}

Status infer_grid_sample(InferContext& ctx) {
  const TensorType& x = ctx.input_type(0);
  const TensorType& g = ctx.input_type(1);
  if (x.dtype == DType::String || x.dtype == DType::Bool)
    return ctx.error("X must be numeric, got {}", dtype_name(x.dtype));
  if (!is_float(g.dtype)) return ctx.error("grid must be float, got {}", dtype_name(g.dtype));
  if (x.shape.rank_known && x.shape.rank() != 4) return ctx.error("X must be 4-D");
  if (g.shape.rank_known && g.shape.rank() != 4) return ctx.error("grid must be 4-D");
  Shape out = Shape::of_rank(4);
  if (x.shape.rank_known) out.dims[0] = x.shape.dims[0], out.dims[1] = x.shape.dims[1];
  if (g.shape.rank_known) {
    if (!out.dims[0].is_known()) out.dims[0] = g.shape.dims[0];
    out.dims[2] = g.shape.dims[1];
    out.dims[3] = g.shape.dims[2];
  }
  ctx.outputs[0] = TensorType{x.dtype, out};
  return Status::ok();
}

int64_t grid_sample_macs(const Node& n) {
  const Shape& s = n.outputs[0]->type.shape;
  return s.is_static() ? numel_of(s.static_dims()) * 4 : 0;
}

// ---- C emission: the kernel above, transcribed to C for one sample point
// (@T@ is the compute type, float or double; modes are passed as ints). ----

constexpr const char* kGridSampleC = R"(static @T@ weec_gs_reflect@S@(@T@ x, @T@ lo, @T@ hi) {
  @T@ range = hi - lo;
  if (range <= (@T@)0) return lo;
  if (x < lo) {
    @T@ dx = lo - x, n = @floor@(dx / range), r = dx - n * range;
    return @fmod@(n, (@T@)2) == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    @T@ dx = x - hi, n = @floor@(dx / range), r = dx - n * range;
    return @fmod@(n, (@T@)2) == 0 ? hi - r : lo + r;
  }
  return x;
}

static int64_t weec_gs_clamp@S@(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (hi < v ? hi : v); }

static @T@ weec_gs_pixel@S@(const @T@* img, int64_t h, int64_t w, int padding, const @T@ b[4], int64_t r, int64_t c) {
  if (padding == 0) {
    if (c < 0 || c >= w || r < 0 || r >= h) return (@T@)0;
  } else if (padding == 1) {
    c = weec_gs_clamp@S@(c, 0, w - 1);
    r = weec_gs_clamp@S@(r, 0, h - 1);
  } else {
    c = weec_gs_clamp@S@((int64_t)weec_gs_reflect@S@((@T@)c, b[0], b[2]), 0, w - 1);
    r = weec_gs_clamp@S@((int64_t)weec_gs_reflect@S@((@T@)r, b[1], b[3]), 0, h - 1);
  }
  return img[r * w + c];
}

static void weec_gs_cubic@S@(@T@ x, @T@ c[4]) {
  const @T@ a = (@T@)-0.75;
  x = @fabs@(x);
  c[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  c[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  c[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

static @T@ weec_gs_fclamp@S@(@T@ v, @T@ lo, @T@ hi) { return v < lo ? lo : (hi < v ? hi : v); }

static @T@ weec_gs_sample@S@(const @T@* img, int64_t h, int64_t w, int mode, int padding, int align, @T@ nx, @T@ ny) {
  @T@ b[4];
  @T@ gx = align ? (nx + 1) / 2 * (@T@)(w - 1) : ((nx + 1) * (@T@)w - 1) / 2;
  @T@ gy = align ? (ny + 1) / 2 * (@T@)(h - 1) : ((ny + 1) * (@T@)h - 1) / 2;
  b[0] = align ? (@T@)0 : (@T@)-0.5;
  b[1] = b[0];
  b[2] = align ? (@T@)(w - 1) : (@T@)w - (@T@)0.5;
  b[3] = align ? (@T@)(h - 1) : (@T@)h - (@T@)0.5;
  if (mode == 1) {
    gx = @nearbyint@(gx);
    gy = @nearbyint@(gy);
  }
  if (gx < b[0] || gx > b[2] || gy < b[1] || gy > b[3]) {
    if (padding == 1) {
      gx = weec_gs_fclamp@S@(gx, 0, (@T@)(w - 1));
      gy = weec_gs_fclamp@S@(gy, 0, (@T@)(h - 1));
    } else if (padding == 2) {
      gx = weec_gs_reflect@S@(gx, b[0], b[2]);
      gy = weec_gs_reflect@S@(gy, b[1], b[3]);
    }
  }
  if (gx != gx || gy != gy) return gx != gx ? gx : gy;
  gx = weec_gs_fclamp@S@(gx, (@T@)-4, (@T@)(w + 3));
  gy = weec_gs_fclamp@S@(gy, (@T@)-4, (@T@)(h + 3));
  if (mode == 1) return weec_gs_pixel@S@(img, h, w, padding, b, (int64_t)gy, (int64_t)gx);
  if (mode == 0) {
    @T@ fx = @floor@(gx), fy = @floor@(gy);
    int64_t x1 = (int64_t)fx, y1 = (int64_t)fy, x2 = x1 + 1, y2 = y1 + 1;
    @T@ dx2 = (@T@)x2 - gx, dx1 = gx - (@T@)x1, dy2 = (@T@)y2 - gy, dy1 = gy - (@T@)y1;
    return dy2 * (dx2 * weec_gs_pixel@S@(img, h, w, padding, b, y1, x1) + dx1 * weec_gs_pixel@S@(img, h, w, padding, b, y1, x2)) +
           dy1 * (dx2 * weec_gs_pixel@S@(img, h, w, padding, b, y2, x1) + dx1 * weec_gs_pixel@S@(img, h, w, padding, b, y2, x2));
  } else {
    int64_t x0 = (int64_t)@floor@(gx) - 1, y0 = (int64_t)@floor@(gy) - 1, i, j;
    @T@ cx[4], cy[4], v[4];
    weec_gs_cubic@S@(gx - (@T@)x0 - 1, cx);
    weec_gs_cubic@S@(gy - (@T@)y0 - 1, cy);
    for (i = 0; i < 4; ++i) {
      v[i] = 0;
      for (j = 0; j < 4; ++j) v[i] += cx[j] * weec_gs_pixel@S@(img, h, w, padding, b, y0 + i, x0 + j);
    }
    return cy[0] * v[0] + cy[1] * v[1] + cy[2] * v[2] + cy[3] * v[3];
  }
}
)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

Status grid_sample_emit_c(CEmitContext& c) {
  DType t = c.input_dtype(0);
  if (t != DType::F32 && t != DType::F64) return c.error("dtype {} is not supported", dtype_name(t));
  if (!is_float(c.input_dtype(1))) return c.error("grid must be float");
  const std::string& ms = c.attrs.s("mode");
  const std::string& ps = c.attrs.s("padding_mode");
  int mode = (ms == "bilinear" || ms == "linear") ? 0
             : ms == "nearest"                    ? 1
             : (ms == "bicubic" || ms == "cubic") ? 2
                                                  : -1;
  int padding = ps == "zeros" ? 0 : ps == "border" ? 1 : ps == "reflection" ? 2 : -1;
  if (mode < 0) return c.error("unknown mode '{}'", ms);
  if (padding < 0) return c.error("unknown padding_mode '{}'", ps);
  const Dims x = c.in_dims(0), g = c.in_dims(1);
  if (x.size() != 4 || g.size() != 4 || g[3] != 2 || g[0] != x[0]) return c.error("bad X or grid shape");
  const int64_t n = x[0], ch = x[1], h = x[2], w = x[3], oh = g[1], ow = g[2];
  if (c.out_count(0) == 0) return Status::ok();
  if (h == 0 || w == 0) return c.error("cannot sample an empty image");
  std::string T = c_type(t), S = t == DType::F32 ? "_f" : "_d";
  std::string text = replace_all(kGridSampleC, "@T@", T);
  text = replace_all(text, "@S@", S);
  for (const char* fn : {"floor", "fmod", "fabs", "nearbyint"})
    text = replace_all(text, fmt::format("@{}@", fn), c.math(fn, t));
  c.helper("weec_gs_sample" + S, text);
  std::vector<std::string> v = c.open_loops({n, ch, oh * ow});
  std::string grid = fmt::format("({} * {} + {}) * 2", v[0], oh * ow, v[2]);
  c.store(0, {},
          fmt::format(
              "weec_gs_sample{}({} + ({} * {} + {}) * {}, {}, {}, {}, {}, {}, ({}){}[{}], ({}){}[{} + 1])", S,
              c.in(0), v[0], ch, v[1], h * w, h, w, mode, padding, c.attrs.i("align_corners") != 0 ? 1 : 0, T,
              c.in(1), grid, T, c.in(1), grid),
          fmt::format("({} * {} + {}) * {} + {}", v[0], ch, v[1], oh * ow, v[2]));
  c.close_loops(3);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_GridSample() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::GridSample, "GridSample"};
    m.since_opset = 16;
    m.min_inputs = m.max_inputs = 2;
    m.attrs = {attr_int("align_corners", 0), attr_string("mode", "bilinear"),
               attr_string("padding_mode", "zeros")};
    m.infer = infer_grid_sample;
    m.kernel = grid_sample_kernel;
    m.emit_c = grid_sample_emit_c;
    m.macs = grid_sample_macs;
    m.doc =
        "samples NCHW input at normalized grid points (bilinear/nearest/bicubic; zeros/border/reflection)";
    return m;
  }();
  return s;
}

}  // namespace weec
