// The WeeNet generator's plumbing (PRNG, names, constants) and the choice of
// layers: which families apply to a shape, residual and concat branches.
#include "weenet/generator.h"

#include <cmath>

#include "ops/op_util.h"
#include "ops/registry.h"

namespace weec::weenet {

uint64_t Rng::next() {
  uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int64_t Rng::uniform(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
}

double Rng::real(double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53;
}

Dims dims_of(const Value* v) { return v->type.shape.static_dims(); }

std::string dims_text(const Dims& d) { return fmt::format("[{}]", fmt::join(d, ",")); }

Generator::Generator(uint64_t seed, const Spec& spec, Graph& g)
    : rng(seed), spec_(spec), g_(g), b_(g, infer_node) {}

std::string Generator::fresh(const std::string& prefix) { return fmt::format("{}{}", prefix, names_++); }

Value* Generator::input(const Dims& dims) { return b_.input(fresh("x"), static_type(DType::F32, dims)); }

int64_t Generator::small_dim(int64_t most) {
  static const std::vector<int64_t> kDims = {1, 1, 2, 3, 4, 5, 7, 8, 9, 11, 13, 16, 17, 19, 23, 24};
  int64_t d;
  do d = rng.pick(kDims);
  while (d > most);
  return d;
}

bool Generator::fits(const Dims& d) const { return numel_of(d) <= spec_.max_elements; }

Value* Generator::op(OpKind k, std::vector<Value*> in, AttrMap attrs) {
  return b_.op(k, std::move(in), std::move(attrs), fresh(std::string(op_name(k))));
}

Value* Generator::weights(const Dims& d, double bound) {
  Tensor t(DType::F32, d);
  for (int64_t i = 0; i < t.numel(); ++i) t.set_double(i, rng.real(-bound, bound));
  return b_.constant(fresh("w"), std::move(t));
}

Value* Generator::ints(const std::vector<int64_t>& v) {
  return b_.constant(fresh("i"), Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v));
}

Value* Generator::same_shape_layer(Value* x) {
  const Dims xd = dims_of(x);
  const int pick = static_cast<int>(rng.uniform(0, xd.size() >= 3 ? 3 : 1));
  if (pick == 0) return activation(x);
  if (pick == 1) {
    // Broadcasting keeps x's shape when the constant's dims are x's or 1s.
    Value* y = binary_const(x);
    if (y && dims_of(y) != xd) return nullptr;  // never: the constant's rank <= x's
    return y;
  }
  if (pick == 2 && !spec_.int8) return batchnorm(x);
  // A stride-1 conv with "same" output size and as many channels.
  const int64_t C = xd[1];
  AttrMap attrs;
  std::vector<int64_t> k, pads(2 * (xd.size() - 2), 0);
  for (size_t i = 2; i < xd.size(); ++i) {
    const int64_t kk = 2 * rng.uniform(0, 1) + 1;  // 1 or 3
    k.push_back(kk);
    pads[i - 2] = pads[i - 2 + xd.size() - 2] = kk / 2;
  }
  const int64_t group = rng.coin(0.5) ? C : 1;
  attrs["kernel_shape"] = Attribute::of_ints(k);
  attrs["pads"] = Attribute::of_ints(pads);
  if (group > 1) attrs["group"] = Attribute::of_int(group);
  Dims wd = {C, C / group};
  wd.insert(wd.end(), k.begin(), k.end());
  log.push_back(fmt::format("conv (same shape) C={} k={} group={}", C, dims_text(k), group));
  return op(OpKind::Conv, {x, weights(wd, 1.0 / std::sqrt(double(numel_of(wd) / C))), weights({C}, 0.3)},
            attrs);
}

Value* Generator::residual_add(Value* x) {
  const size_t before = g_.nodes().size();
  Value* y = x;
  const int64_t n = rng.uniform(1, 3);
  for (int64_t i = 0; i < n && y; ++i) y = same_shape_layer(y);
  if (!y || y == x || g_.nodes().size() == before) return nullptr;
  log.push_back("add (residual)");
  return op(OpKind::Add, {x, y});
}

Value* Generator::concat_branches(Value* x) {
  const Dims xd = dims_of(x);
  if (xd.size() < 2 || spec_.int8) return nullptr;
  Value* a = same_shape_layer(x);
  Value* b = rng.coin(0.3) ? x : same_shape_layer(x);
  if (!a || !b) return nullptr;
  Dims yd = xd;
  yd[1] *= 2;
  if (!fits(yd)) return nullptr;
  AttrMap attrs;
  attrs["axis"] = Attribute::of_int(1);
  log.push_back("concat (channels)");
  return op(OpKind::Concat, {a, b}, attrs);
}

Value* Generator::any_layer(Value* x) {
  using Family = Value* (Generator::*)(Value*);
  // Families by weight; the int8 set is what lowers to integer kernels.
  std::vector<std::pair<Family, int>> fam = {{&Generator::conv, 6},         {&Generator::pool, 2},
                                             {&Generator::global_pool, 1},  {&Generator::activation, 3},
                                             {&Generator::binary_const, 2}, {&Generator::reshape_like, 2},
                                             {&Generator::gemm, 3},         {&Generator::matmul, 1}};
  if (!spec_.int8)
    fam.insert(fam.end(), {{&Generator::conv_transpose, 2},
                           {&Generator::batchnorm, 1},
                           {&Generator::reduce, 1},
                           {&Generator::softmax, 1}});
  int total = 0;
  for (auto& f : fam) total += f.second;
  for (int attempt = 0; attempt < 40; ++attempt) {
    int r = static_cast<int>(rng.uniform(0, total - 1));
    size_t i = 0;
    while (r >= fam[i].second) r -= fam[i++].second;
    const size_t nodes = g_.nodes().size();
    Value* y = (this->*fam[i].first)(x);
    if (y) return y;
    if (g_.nodes().size() != nodes) return nullptr;  // families add nothing when they refuse
  }
  return nullptr;
}

}  // namespace weec::weenet
