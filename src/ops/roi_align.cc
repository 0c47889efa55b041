// RoiAlign: pools each region of interest of an NCHW feature map into an
// output_height x output_width grid by averaging (or taking the max of)
// bilinearly interpolated sample points. Follows ONNX Runtime's kernel, which
// produced the reference data, including its quirks: samples more than one
// pixel outside the map count as 0; output_half_pixel clamps the RoI size to
// at least 1; "max" mode takes the max of the four *weighted* corner values.
// Opset 10 had no coordinate_transformation_mode and behaved like
// output_half_pixel; the import hook makes that explicit.
#include <algorithm>
#include <cmath>

#include "ops/c_emit.h"
#include "ops/op_util.h"

namespace weec {

namespace {

struct Sample {  // bilinear taps of one sample point (weights 0 outside)
  int64_t pos[4] = {0, 0, 0, 0};
  double w[4] = {0, 0, 0, 0};
};

template <typename T>
Sample bilinear_sample(T y, T x, int64_t height, int64_t width) {
  Sample s;
  if (!(y >= T(-1) && y <= T(height) && x >= T(-1) && x <= T(width))) return s;  // outside, or NaN
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int64_t y_low = (int64_t)y, x_low = (int64_t)x, y_high, x_high;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = (T)y_low;
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = (T)x_low;
  } else {
    x_high = x_low + 1;
  }
  T ly = y - (T)y_low, lx = x - (T)x_low, hy = T(1) - ly, hx = T(1) - lx;
  s.pos[0] = y_low * width + x_low;
  s.pos[1] = y_low * width + x_high;
  s.pos[2] = y_high * width + x_low;
  s.pos[3] = y_high * width + x_high;
  s.w[0] = hy * hx;
  s.w[1] = hy * lx;
  s.w[2] = ly * hx;
  s.w[3] = ly * lx;
  return s;
}

// Caps the sampling grid of one bin so absurd RoIs fail instead of
// exhausting memory.
constexpr int64_t kMaxSamplesPerBin = int64_t(1) << 20;

// ceil(extent / bins) samples per bin; -1 when that is not a sane count.
template <typename T>
int64_t adaptive_grid(T extent, int64_t bins) {
  T g = std::ceil(extent / T(bins));
  if (!(g < T(kMaxSamplesPerBin))) return -1;  // also catches NaN
  return g > 0 ? (int64_t)g : 0;
}

// T is the compute type (float for f16/f32, double for f64). False if an RoI
// needs an unreasonable number of samples.
template <typename T>
bool roi_align(const T* x, const T* rois, const int64_t* batch, int64_t num_rois, int64_t channels,
               int64_t height, int64_t width, int64_t out_h, int64_t out_w, int64_t sampling_ratio, T scale,
               bool half_pixel, bool max_mode, T* y) {
  const T offset = half_pixel ? T(0.5) : T(0);
  std::vector<Sample> samples;
  for (int64_t r = 0; r < num_rois; ++r) {
    const T* roi = rois + r * 4;
    T start_w = roi[0] * scale - offset, start_h = roi[1] * scale - offset;
    T end_w = roi[2] * scale - offset, end_h = roi[3] * scale - offset;
    T roi_w = end_w - start_w, roi_h = end_h - start_h;
    if (!half_pixel) {  // legacy behaviour: force malformed RoIs to be 1x1
      roi_w = std::max(roi_w, T(1));
      roi_h = std::max(roi_h, T(1));
    }
    T bin_h = roi_h / T(out_h), bin_w = roi_w / T(out_w);
    int64_t grid_h = sampling_ratio > 0 ? sampling_ratio : adaptive_grid(roi_h, out_h);
    int64_t grid_w = sampling_ratio > 0 ? sampling_ratio : adaptive_grid(roi_w, out_w);
    if (grid_h < 0 || grid_w < 0 || grid_h > kMaxSamplesPerBin || grid_w > kMaxSamplesPerBin ||
        grid_h * grid_w > kMaxSamplesPerBin)
      return false;
    const T count = T(std::max<int64_t>(grid_h * grid_w, 1));
    // Sample positions depend only on the RoI, not on the channel.
    samples.clear();
    for (int64_t ph = 0; ph < out_h; ++ph)
      for (int64_t pw = 0; pw < out_w; ++pw)
        for (int64_t iy = 0; iy < grid_h; ++iy) {
          T yy = start_h + T(ph) * bin_h + (T(iy) + T(0.5)) * bin_h / T(grid_h);
          for (int64_t ix = 0; ix < grid_w; ++ix) {
            T xx = start_w + T(pw) * bin_w + (T(ix) + T(0.5)) * bin_w / T(grid_w);
            samples.push_back(bilinear_sample<T>(yy, xx, height, width));
          }
        }
    const int64_t per_bin = grid_h * grid_w;
    for (int64_t c = 0; c < channels; ++c) {
      const T* plane = x + (batch[r] * channels + c) * height * width;
      T* out = y + (r * channels + c) * out_h * out_w;
      for (int64_t bin = 0; bin < out_h * out_w; ++bin) {
        T acc = 0;
        bool first = true;
        for (int64_t k = 0; k < per_bin; ++k) {
          const Sample& s = samples[bin * per_bin + k];
          T v[4];
          for (int j = 0; j < 4; ++j) v[j] = T(s.w[j]) * plane[s.pos[j]];
          if (max_mode) {
            T m = std::max(std::max(std::max(v[0], v[1]), v[2]), v[3]);
            acc = first ? m : std::max(acc, m);
            first = false;
          } else {
            acc += v[0] + v[1] + v[2] + v[3];
          }
        }
        out[bin] = max_mode ? acc : acc / count;
      }
    }
  }
  return true;
}

Status roi_align_kernel(KernelContext& ctx) {
  const Tensor& x0 = ctx.input(0);
  const Tensor& rois0 = ctx.input(1);
  const Tensor& bi = ctx.input(2);
  if (x0.rank() != 4) return ctx.error("X must be 4-D (N, C, H, W), got {}", dims_str(x0.dims()));
  if (rois0.rank() != 2 || rois0.dim(1) != 4)
    return ctx.error("rois must have shape [num_rois, 4], got {}", dims_str(rois0.dims()));
  if (bi.rank() != 1 || bi.dim(0) != rois0.dim(0))
    return ctx.error("batch_indices must have shape [{}], got {}", rois0.dim(0), dims_str(bi.dims()));
  if (!is_float(x0.dtype()) || !is_integer(bi.dtype())) return ctx.error("unsupported input dtypes");
  const std::string& mode = ctx.attrs.s("mode");
  const std::string& ctm = ctx.attrs.s("coordinate_transformation_mode");
  if (mode != "avg" && mode != "max") return ctx.error("unknown mode '{}'", mode);
  if (ctm != "half_pixel" && ctm != "output_half_pixel")
    return ctx.error("unknown coordinate_transformation_mode '{}'", ctm);
  const int64_t out_h = ctx.attrs.i("output_height"), out_w = ctx.attrs.i("output_width");
  if (out_h <= 0 || out_w <= 0) return ctx.error("output_height and output_width must be positive");
  const int64_t n = x0.dim(0), c = x0.dim(1), h = x0.dim(2), w = x0.dim(3), num_rois = rois0.dim(0);
  std::vector<int64_t> batch = bi.to_int_vector();
  for (int64_t b : batch)
    if (b < 0 || b >= n) return ctx.error("batch index {} is out of range for batch size {}", b, n);
  if (num_rois > 0 && (h == 0 || w == 0)) return ctx.error("feature map is empty");
  const DType ct = x0.dtype() == DType::F64 ? DType::F64 : DType::F32;
  Tensor x = convert(x0, ct), rois = convert(rois0, ct);
  Tensor y(ct, {num_rois, c, out_h, out_w});
  bool half_pixel = ctm == "half_pixel", max_mode = mode == "max";
  float scale = ctx.attrs.f("spatial_scale");
  int64_t ratio = ctx.attrs.i("sampling_ratio");
  bool ok;
  if (ct == DType::F64)
    ok = roi_align<double>(x.data<double>(), rois.data<double>(), batch.data(), num_rois, c, h, w, out_h,
                           out_w, ratio, scale, half_pixel, max_mode, y.data<double>());
  else
    ok = roi_align<float>(x.data<float>(), rois.data<float>(), batch.data(), num_rois, c, h, w, out_h, out_w,
                          ratio, scale, half_pixel, max_mode, y.data<float>());
  if (!ok) return ctx.error("an RoI needs more than {} samples per output bin", kMaxSamplesPerBin);
  ctx.outputs[0] = convert(y, x0.dtype());
  return Status::ok();
}

Status infer_roi_align(InferContext& ctx) {
  const TensorType& x = ctx.input_type(0);
  if (!is_float(x.dtype)) return ctx.error("X must be float, got {}", dtype_name(x.dtype));
  const int64_t ranks[3] = {4, 2, 1};
  for (size_t i = 0; i < 3; ++i) {
    const Shape& s = ctx.input_type(i).shape;
    if (s.rank_known && s.rank() != ranks[i])
      return ctx.error("{} must have rank {}", ctx.input_desc(i), ranks[i]);
  }
  Shape out = Shape::of_rank(4);
  const Shape& rs = ctx.input_type(1).shape;
  const Shape& bs = ctx.input_type(2).shape;
  if (rs.rank_known && rs.dims[0].is_known())
    out.dims[0] = rs.dims[0];
  else if (bs.rank_known && bs.dims[0].is_known())
    out.dims[0] = bs.dims[0];
  if (x.shape.rank_known) out.dims[1] = x.shape.dims[1];
  out.dims[2] = Dim::known(ctx.attrs.i("output_height"));
  out.dims[3] = Dim::known(ctx.attrs.i("output_width"));
  ctx.outputs[0] = TensorType{x.dtype, out};
  return Status::ok();
}

// Opset 10 (no coordinate_transformation_mode) did not shift by half a pixel.
Status import_roi_align(ImportContext& ctx) {
  AttrMap attrs = ctx.attrs;
  if (ctx.opset < 16 && !attrs.count("coordinate_transformation_mode"))
    attrs["coordinate_transformation_mode"] = Attribute::of_string("output_half_pixel");
  ctx.emit(OpKind::RoiAlign, ctx.inputs, ctx.outputs, attrs);
  return Status::ok();
}

int64_t roi_align_macs(const Node& n) {
  const Shape& s = n.outputs[0]->type.shape;
  return s.is_static() ? numel_of(s.static_dims()) * 4 : 0;  // at least 4 taps per output
}

// ---- C emission: roi_align() above transcribed to C, one RoI per call
// (@T@ is the compute type). Sample points are recomputed per channel, with
// the same arithmetic. An RoI needing more than kMaxSamplesPerBin samples
// (an error in the kernel) produces zeros. ----

constexpr const char* kRoiAlignC = R"(static @T@ weec_roi_max@S@(@T@ a, @T@ b) { return a < b ? b : a; }

static void weec_roi_align@S@(const @T@* x, int64_t channels, int64_t height, int64_t width, const @T@ roi[4],
                             int64_t out_h, int64_t out_w, int64_t ratio, @T@ scale, int half_pixel,
                             int max_mode, @T@* y) {
  const @T@ offset = half_pixel ? (@T@)0.5 : (@T@)0;
  @T@ start_w = roi[0] * scale - offset, start_h = roi[1] * scale - offset;
  @T@ end_w = roi[2] * scale - offset, end_h = roi[3] * scale - offset;
  @T@ roi_w = end_w - start_w, roi_h = end_h - start_h, bin_h, bin_w, count, gh, gw;
  int64_t grid_h = ratio, grid_w = ratio, c, ph, pw, iy, ix, j;
  if (!half_pixel) {
    roi_w = weec_roi_max@S@(roi_w, (@T@)1);
    roi_h = weec_roi_max@S@(roi_h, (@T@)1);
  }
  bin_h = roi_h / (@T@)out_h;
  bin_w = roi_w / (@T@)out_w;
  if (ratio <= 0) {
    gh = @ceil@(roi_h / (@T@)out_h);
    gw = @ceil@(roi_w / (@T@)out_w);
    grid_h = !(gh < (@T@)@MAX@) ? -1 : (gh > 0 ? (int64_t)gh : 0);
    grid_w = !(gw < (@T@)@MAX@) ? -1 : (gw > 0 ? (int64_t)gw : 0);
  }
  if (grid_h < 0 || grid_w < 0 || grid_h > @MAX@ || grid_w > @MAX@ || grid_h * grid_w > @MAX@) {
    for (j = 0; j < channels * out_h * out_w; ++j) y[j] = 0;
    return;
  }
  count = (@T@)(grid_h * grid_w > 1 ? grid_h * grid_w : 1);
  for (c = 0; c < channels; ++c) {
    const @T@* plane = x + c * height * width;
    for (ph = 0; ph < out_h; ++ph) {
      for (pw = 0; pw < out_w; ++pw) {
        @T@ acc = 0;
        int first = 1;
        for (iy = 0; iy < grid_h; ++iy) {
          @T@ yy0 = start_h + (@T@)ph * bin_h + ((@T@)iy + (@T@)0.5) * bin_h / (@T@)grid_h;
          for (ix = 0; ix < grid_w; ++ix) {
            @T@ yy = yy0, xx = start_w + (@T@)pw * bin_w + ((@T@)ix + (@T@)0.5) * bin_w / (@T@)grid_w;
            int64_t pos[4] = {0, 0, 0, 0};
            @T@ w[4] = {0, 0, 0, 0}, v[4];
            if (yy >= (@T@)-1 && yy <= (@T@)height && xx >= (@T@)-1 && xx <= (@T@)width) {
              int64_t y_low, x_low, y_high, x_high;
              @T@ ly, lx, hy, hx;
              if (yy <= 0) yy = 0;
              if (xx <= 0) xx = 0;
              y_low = (int64_t)yy;
              x_low = (int64_t)xx;
              if (y_low >= height - 1) {
                y_high = y_low = height - 1;
                yy = (@T@)y_low;
              } else {
                y_high = y_low + 1;
              }
              if (x_low >= width - 1) {
                x_high = x_low = width - 1;
                xx = (@T@)x_low;
              } else {
                x_high = x_low + 1;
              }
              ly = yy - (@T@)y_low;
              lx = xx - (@T@)x_low;
              hy = (@T@)1 - ly;
              hx = (@T@)1 - lx;
              pos[0] = y_low * width + x_low;
              pos[1] = y_low * width + x_high;
              pos[2] = y_high * width + x_low;
              pos[3] = y_high * width + x_high;
              w[0] = hy * hx;
              w[1] = hy * lx;
              w[2] = ly * hx;
              w[3] = ly * lx;
            }
            for (j = 0; j < 4; ++j) v[j] = w[j] * plane[pos[j]];
            if (max_mode) {
              @T@ m = weec_roi_max@S@(weec_roi_max@S@(weec_roi_max@S@(v[0], v[1]), v[2]), v[3]);
              acc = first ? m : weec_roi_max@S@(acc, m);
              first = 0;
            } else {
              acc += v[0] + v[1] + v[2] + v[3];
            }
          }
        }
        y[(c * out_h + ph) * out_w + pw] = max_mode ? acc : acc / count;
      }
    }
  }
}
)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// Batch indices outside [0, N) (an error in the kernel) are clamped.
Status roi_align_emit_c(CEmitContext& c) {
  DType t = c.input_dtype(0);
  if (t != DType::F32 && t != DType::F64) return c.error("dtype {} is not supported", dtype_name(t));
  if (!is_float(c.input_dtype(1)) || !is_integer(c.input_dtype(2)))
    return c.error("unsupported input dtypes");
  const std::string& mode = c.attrs.s("mode");
  const std::string& ctm = c.attrs.s("coordinate_transformation_mode");
  if (mode != "avg" && mode != "max") return c.error("unknown mode '{}'", mode);
  if (ctm != "half_pixel" && ctm != "output_half_pixel")
    return c.error("unknown coordinate_transformation_mode '{}'", ctm);
  const int64_t out_h = c.attrs.i("output_height"), out_w = c.attrs.i("output_width");
  if (out_h <= 0 || out_w <= 0) return c.error("output_height and output_width must be positive");
  const Dims x = c.in_dims(0);
  if (x.size() != 4) return c.error("X must be 4-D");
  const int64_t n = x[0], ch = x[1], h = x[2], w = x[3], num_rois = c.in_dims(1)[0];
  if (c.out_count(0) == 0) return Status::ok();
  if (n == 0 || h == 0 || w == 0) return c.error("feature map is empty");
  std::string T = c_type(t), S = t == DType::F32 ? "_f" : "_d";
  std::string text = replace_all(replace_all(kRoiAlignC, "@T@", T), "@S@", S);
  text = replace_all(text, "@ceil@", c.math("ceil", t));
  text = replace_all(text, "@MAX@", fmt::format("{}", kMaxSamplesPerBin));
  c.helper("weec_roi_align" + S, text);
  std::vector<std::string> r = c.open_loops({num_rois});
  std::string b = c.var("b"), roi = c.var("roi");
  c.w.line("int64_t {} = (int64_t){}[{}];", b, c.in(2), r[0]);
  if (is_signed(c.input_dtype(2))) c.w.line("if ({0} < 0) {0} = 0;", b);
  c.w.line("if ({0} > {1}) {0} = {1};", b, n - 1);
  c.w.line(
      "const {0} {1}[4] = {{({0}){2}[{3} * 4], ({0}){2}[{3} * 4 + 1], ({0}){2}[{3} * 4 + 2], ({0}){2}[{3} * "
      "4 + 3]}};",
      T, roi, c.in(1), r[0]);
  c.w.line("weec_roi_align{}({} + {} * {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} + {} * {});", S,
           c.in(0), b, ch * h * w, ch, h, w, roi, out_h, out_w, c.attrs.i("sampling_ratio"),
           c_literal(c.attrs.f("spatial_scale"), t), ctm == "half_pixel" ? 1 : 0, mode == "max" ? 1 : 0,
           c.out(0), r[0], ch * out_h * out_w);
  c.close_loops(1);
  return Status::ok();
}

}  // namespace

const OpSchema& schema_RoiAlign() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::RoiAlign, "RoiAlign"};
    m.since_opset = 10;
    m.min_inputs = m.max_inputs = 3;
    m.attrs = {attr_string("coordinate_transformation_mode", "half_pixel"),
               attr_string("mode", "avg"),
               attr_int("output_height", 1),
               attr_int("output_width", 1),
               attr_int("sampling_ratio", 0),
               attr_float("spatial_scale", 1.f)};
    m.infer = infer_roi_align;
    m.kernel = roi_align_kernel;
    m.emit_c = roi_align_emit_c;
    m.macs = roi_align_macs;
    m.import = import_roi_align;
    m.doc = "RoI pooling by bilinear sampling (avg or max) into a fixed output grid";
    return m;
  }();
  return s;
}

}  // namespace weec
