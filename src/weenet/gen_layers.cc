// WeeNet layers outside the convolution family: BatchNorm, activations,
// broadcasting elementwise ops with a constant, reductions, reshape-like
// ops, Gemm/MatMul, Softmax; and the composites (residual Add, Concat).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "weenet/generator.h"

namespace weec::weenet {

Value* Generator::batchnorm(Value* x) {
  const Dims xd = dims_of(x);
  if (xd.size() < 2) return nullptr;
  const int64_t C = xd[1];
  Tensor var(DType::F32, {C});
  for (int64_t i = 0; i < C; ++i) var.set_double(i, rng.real(0.3, 2.0));
  Value* v = b_.constant(fresh("var"), std::move(var));
  log.push_back(fmt::format("batchnorm C={}", C));
  return op(OpKind::BatchNormalization, {x, weights({C}, 1.5), weights({C}, 0.5), weights({C}, 0.5), v});
}

Value* Generator::activation(Value* x) {
  // int8 lowers one-input activations to 256-entry lookup tables (or fuses
  // Relu into the requantisation); Clip's bounds are inputs, so it stays float.
  std::vector<OpKind> kinds = {OpKind::Relu,      OpKind::Relu, OpKind::Sigmoid,     OpKind::Tanh,
                               OpKind::LeakyRelu, OpKind::Elu,  OpKind::HardSigmoid, OpKind::HardSwish,
                               OpKind::Softplus,  OpKind::Abs,  OpKind::Neg};
  if (!spec_.int8) kinds.push_back(OpKind::Clip);
  const OpKind k = rng.pick(kinds);
  AttrMap attrs;
  std::vector<Value*> in = {x};
  std::string text = std::string(op_name(k));
  if (k == OpKind::LeakyRelu || k == OpKind::Elu) {
    const float alpha = static_cast<float>(rng.real(0.01, 0.5));
    attrs["alpha"] = Attribute::of_float(alpha);
    text += fmt::format(" alpha={}", alpha);
  }
  if (k == OpKind::Clip) {
    // ReLU6 or a random window.
    const bool relu6 = rng.coin(0.5);
    const float lo = relu6 ? 0.f : static_cast<float>(rng.real(-1, 0)),
                hi = relu6 ? 6.f : static_cast<float>(rng.real(0.1, 1));
    in.push_back(b_.constant(fresh("lo"), Tensor::scalar<float>(lo)));
    in.push_back(b_.constant(fresh("hi"), Tensor::scalar<float>(hi)));
    text += fmt::format(" [{}, {}]", lo, hi);
  }
  log.push_back(text);
  return op(k, in, attrs);
}

Value* Generator::binary_const(Value* x) {
  const Dims xd = dims_of(x);
  std::vector<OpKind> kinds = {OpKind::Add, OpKind::Mul};
  if (!spec_.int8) kinds.insert(kinds.end(), {OpKind::Sub, OpKind::Div, OpKind::Max, OpKind::Min});
  const OpKind k = rng.pick(kinds);
  // The constant's shape: a scalar, the last dim, per channel, full, or x's dims with some set to 1.
  Dims cd;
  const int form = static_cast<int>(rng.uniform(0, 4));
  if (form == 1 && !xd.empty()) {
    cd = {xd.back()};
  } else if (form == 2 && xd.size() >= 2) {
    cd = Dims(xd.size() - 1, 1);
    cd[0] = xd[1];
  } else if (form == 3) {
    cd = xd;
  } else if (form == 4) {
    cd = xd;
    for (auto& d : cd)
      if (rng.coin(0.5)) d = 1;
  }
  Tensor c(DType::F32, cd);
  for (int64_t i = 0; i < c.numel(); ++i) {
    const double v = rng.real(0.5, 1.5);  // Div: away from zero
    c.set_double(i, k == OpKind::Div || rng.coin(0.7) ? v : -v);
  }
  Value* cv = b_.constant(fresh("c"), std::move(c));
  const bool swap = rng.coin(0.3);
  log.push_back(fmt::format("{} {} const{}", op_name(k), swap ? "by" : "with", dims_text(cd)));
  return swap ? op(k, {cv, x}) : op(k, {x, cv});
}

Value* Generator::reduce(Value* x) {
  const Dims xd = dims_of(x);
  if (xd.empty()) return nullptr;
  const OpKind k = rng.pick(std::vector<OpKind>{OpKind::ReduceMean, OpKind::ReduceSum, OpKind::ReduceMax,
                                                OpKind::ReduceMin, OpKind::ReduceL2});
  std::vector<int64_t> axes;
  for (size_t i = 0; i < xd.size(); ++i)
    if (rng.coin(0.4)) axes.push_back(rng.coin(0.3) ? int64_t(i) - int64_t(xd.size()) : int64_t(i));
  if (axes.empty()) axes.push_back(static_cast<int64_t>(xd.size()) - 1);
  const bool keep = rng.coin(0.5);
  AttrMap attrs;
  attrs["keepdims"] = Attribute::of_int(keep ? 1 : 0);
  log.push_back(fmt::format("{} axes=[{}] keepdims={}", op_name(k), fmt::join(axes, ","), keep));
  return op(k, {x, ints(axes)}, attrs);
}

Value* Generator::reshape_like(Value* x) {
  const Dims xd = dims_of(x);
  const int form = static_cast<int>(rng.uniform(0, 2));
  if (form == 0) {  // Flatten at any axis
    const int64_t axis = rng.uniform(0, static_cast<int64_t>(xd.size()));
    AttrMap attrs;
    attrs["axis"] = Attribute::of_int(axis);
    log.push_back(fmt::format("flatten axis={}", axis));
    return op(OpKind::Flatten, {x}, attrs);
  }
  if (form == 1 && xd.size() >= 2) {  // Transpose by a random permutation
    std::vector<int64_t> perm(xd.size());
    std::iota(perm.begin(), perm.end(), 0);
    for (size_t i = perm.size() - 1; i > 0; --i)
      std::swap(perm[i], perm[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(i)))]);
    AttrMap attrs;
    attrs["perm"] = Attribute::of_ints(perm);
    log.push_back(fmt::format("transpose perm=[{}]", fmt::join(perm, ",")));
    return op(OpKind::Transpose, {x}, attrs);
  }
  // Reshape: the batch dim kept, the rest split as [a, -1] or merged.
  const int64_t rest =
      std::accumulate(xd.begin() + (xd.empty() ? 0 : 1), xd.end(), int64_t{1}, std::multiplies<int64_t>());
  std::vector<int64_t> shape = {xd.empty() ? 1 : xd[0]};
  std::vector<int64_t> divs;
  for (int64_t d = 1; d <= rest; ++d)
    if (rest % d == 0) divs.push_back(d);
  if (rng.coin(0.6)) {
    shape.push_back(rng.pick(divs));
    shape.push_back(-1);
  } else {
    shape.push_back(rest);
  }
  log.push_back(fmt::format("reshape [{}]", fmt::join(shape, ",")));
  return op(OpKind::Reshape, {x, ints(shape)});
}

Value* Generator::gemm(Value* x) {
  const Dims xd = dims_of(x);
  if (xd.size() != 2) return nullptr;
  const bool ta = !spec_.int8 && rng.coin(0.2), tb = spec_.int8 || rng.coin(0.6);
  const int64_t M = ta ? xd[1] : xd[0], K = ta ? xd[0] : xd[1], N = small_dim(24);
  if (!fits({M, N})) return nullptr;
  AttrMap attrs;
  if (ta) attrs["transA"] = Attribute::of_int(1);
  if (tb) attrs["transB"] = Attribute::of_int(1);
  float alpha = 1, beta = 1;
  if (!spec_.int8 && rng.coin(0.2)) alpha = static_cast<float>(rng.real(0.25, 2));
  if (!spec_.int8 && rng.coin(0.2)) beta = static_cast<float>(rng.real(0.25, 2));
  if (alpha != 1) attrs["alpha"] = Attribute::of_float(alpha);
  if (beta != 1) attrs["beta"] = Attribute::of_float(beta);
  std::vector<Value*> in = {x, weights(tb ? Dims{N, K} : Dims{K, N}, 1.0 / std::sqrt(double(K)))};
  Dims cd;
  const int c_form = static_cast<int>(rng.uniform(0, spec_.int8 ? 1 : 4));
  if (c_form == 1) cd = {N};
  if (c_form == 2) cd = {1, N};
  if (c_form == 3) cd = {M, N};
  if (c_form == 4) cd = {M, 1};
  if (c_form != 0) in.push_back(weights(cd, 0.5));
  log.push_back(fmt::format("gemm M={} K={} N={} transA={} transB={} alpha={} beta={} C={}", M, K, N, ta, tb,
                            alpha, beta, c_form ? dims_text(cd) : "none"));
  return op(OpKind::Gemm, in, attrs);
}

Value* Generator::matmul(Value* x) {
  const Dims xd = dims_of(x);
  if (xd.size() < 2 || xd.size() > 4) return nullptr;
  const int64_t K = xd.back(), N = small_dim(24);
  Dims yd = xd, wd = {K, N};
  yd.back() = N;
  if (!fits(yd)) return nullptr;
  // Broadcast batch dims of the constant: none, all 1s, or x's own.
  if (!spec_.int8 && xd.size() > 2 && rng.coin(0.5)) {
    Dims batch(xd.begin(), xd.end() - 2);
    for (auto& d : batch)
      if (rng.coin(0.5)) d = 1;
    wd.insert(wd.begin(), batch.begin(), batch.end());
  }
  log.push_back(fmt::format("matmul x{} by const{}", dims_text(xd), dims_text(wd)));
  return op(OpKind::MatMul, {x, weights(wd, 1.0 / std::sqrt(double(K)))});
}

Value* Generator::softmax(Value* x) {
  const Dims xd = dims_of(x);
  if (xd.empty()) return nullptr;
  const int64_t axis = rng.uniform(-static_cast<int64_t>(xd.size()), static_cast<int64_t>(xd.size()) - 1);
  const OpKind k = rng.coin(0.7) ? OpKind::Softmax : OpKind::LogSoftmax;
  AttrMap attrs;
  attrs["axis"] = Attribute::of_int(axis);
  log.push_back(fmt::format("{} axis={}", op_name(k), axis));
  return op(k, {x}, attrs);
}

}  // namespace weec::weenet
