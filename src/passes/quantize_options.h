// Options of post-training quantisation (the "quantize" pass) and the
// calibration data it runs on.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace weec {

// How an activation's clipping range is chosen from what calibration saw.
enum class CalibMethod {
  MinMax,      // the observed min and max
  Percentile,  // the `percentile` / 100 - `percentile` quantiles of the values
  Mse,         // the clip range minimising the expected squared quantisation error
};
std::string_view calib_method_name(CalibMethod m);
bool parse_calib_method(std::string_view s, CalibMethod& out);

// An activation's scale and zero point: x = (q - zero_point) * scale.
struct AffineParams {
  double scale = 1;
  int64_t zero_point = 0;
};

// Quantisation parameters by value name (as before the quantize pass): each
// quantised activation's scale and zero point, and each quantised weight's
// per-channel scales (f32, in the dims they broadcast onto the weight in).
struct QuantChoices {
  std::map<std::string, AffineParams> activations;
  std::map<std::string, Tensor> weight_scales;
};

struct QuantizeOptions {
  // Calibration samples: one vector of graph inputs per sample. Empty means
  // the quantize pass has nothing to run on and fails with a message.
  std::vector<std::vector<Tensor>> calibration;
  CalibMethod method = CalibMethod::MinMax;
  double percentile = 99.99;
  // Activations: int8 (zero point in [-128,127]) or uint8. Weights are
  // symmetric per-channel, biases int32 with scale s_in * s_w.
  DType activation_dtype = DType::I8;
  // Weight precision: 8 (values in [-127, 127]) or 4 (in [-7, 7]; still an
  // int8 tensor in the graph and in ONNX, stored packed two per byte in the
  // generated C).
  int weight_bits = 8;
  // Keep the graph's inputs and outputs quantised (no float at the edges).
  bool int_io = false;
  // Parameters learned elsewhere (quantisation-aware training): when set, no
  // calibration runs; the activations named here get these parameters,
  // scale-preserving ops share their input's, and weights named in
  // weight_scales use those scales (others: max |w| / (2^(bits-1) - 1)).
  std::shared_ptr<const QuantChoices> given;
  // When set, the pass records the parameters it chose.
  QuantChoices* chosen = nullptr;
  // Called after each calibration sample (done, total), e.g. for a progress bar.
  std::function<void(size_t, size_t)> progress;
};

}  // namespace weec
