// Building and reading the QDQ form: QuantizeLinear/DequantizeLinear pairs
// on activations, DequantizeLinear behind integer weights and biases.
#pragma once

#include <optional>
#include <unordered_map>

#include "ir/graph.h"
#include "passes/range_observer.h"

namespace weec {

class QdqBuilder {
 public:
  QdqBuilder(Graph& g, DType activation_dtype, int weight_bits = 8)
      : g_(g), act_(activation_dtype), wmax_((1 << (weight_bits - 1)) - 1) {}
  int64_t qmin() const { return act_ == DType::U8 ? 0 : -128; }
  int64_t qmax() const { return act_ == DType::U8 ? 255 : 127; }

  const AffineParams* params(const Value* v) const;
  void set_params(const Value* v, AffineParams p);
  // Conv/Gemm/MatMul with a constant float weight and a quantised input:
  // per-output-channel symmetric weights (int8 values in [-wmax, wmax],
  // wmax = 2^(weight_bits-1) - 1) and an int32 bias behind
  // DequantizeLinear. `done` says whether the node was quantised.
  // `given` (optional) are the per-channel scales to use, in the weight
  // layout's dims; `used` (optional) receives the scales used.
  Status quantise_weights(Node& n, bool& done, const Tensor* given = nullptr, Tensor* used = nullptr);
  // v -> QuantizeLinear -> DequantizeLinear, every reader of v (and the
  // graph outputs) rewired to the dequantised value.
  Status insert_qdq(Value* v);

 private:
  Value* scalar_constant(const std::string& hint, Tensor t);
  Graph& g_;
  DType act_;
  int wmax_;
  std::unordered_map<const Value*, AffineParams> params_;
};

// Symmetric weight scales, the rule of post-training quantisation and of
// QAT's weight scales alike: max |w| / wmax over the elements each scale
// covers (`scale`, f32, broadcasts onto w: [M,1,1,1], [N,1] or [N]), rounded
// to f32; 1 for an all-zero channel.
void symmetric_weight_scales(const Tensor& w, Tensor& scale, int64_t wmax);

// The scale and zero point of a QuantizeLinear/DequantizeLinear node, read
// from its constant inputs (per tensor or per axis). nullopt if not constant.
struct QdqParams {
  std::vector<double> scale;
  std::vector<int64_t> zero_point;
  int64_t axis = -1;  // -1: per tensor
  DType qtype = DType::U8;
  bool per_tensor() const { return scale.size() == 1; }
  bool same_as(const QdqParams& o) const;
  QuantParams as_quant() const;
};
std::optional<QdqParams> qdq_params(const Node& n);

// The DequantizeLinear producing v, or nullptr.
Node* dequantize_producer(const Value* v);
// The single QuantizeLinear reading v (v read by nothing else and not a graph
// output), or nullptr.
Node* sole_quantize_user(const Graph& g, const Value* v);

}  // namespace weec
