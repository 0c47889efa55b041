// The WeeNet generator's state (see weenet.h): a PRNG, the graph being
// built, and one method per layer family. Each layer method appends its
// nodes after x and returns the new value, or nullptr when it does not
// apply to x's shape or would exceed the element budget (nothing is added
// then, so the caller can draw another layer).
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "weenet/weenet.h"

namespace weec::weenet {

// splitmix64: tiny, good enough for test generation, identical everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next();
  int64_t uniform(int64_t lo, int64_t hi);  // inclusive
  double real(double lo, double hi);
  bool coin(double p = 0.5) { return real(0, 1) < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(uniform(0, static_cast<int64_t>(v.size()) - 1))];
  }

 private:
  uint64_t s_;
};

class Generator {
 public:
  Generator(uint64_t seed, const Spec& spec, Graph& g);

  Rng rng;
  std::vector<std::string> log;  // one line per layer

  Value* input(const Dims& dims);
  // A dimension: mostly 1s, primes and sizes off the vector widths.
  int64_t small_dim(int64_t most = 17);

  // Layer families (gen_conv.cc).
  Value* conv(Value* x);
  Value* conv_transpose(Value* x);
  Value* pool(Value* x);
  Value* global_pool(Value* x);
  // Layer families (gen_layers.cc).
  Value* batchnorm(Value* x);
  Value* activation(Value* x);
  Value* binary_const(Value* x);
  Value* reduce(Value* x);
  Value* reshape_like(Value* x);
  Value* gemm(Value* x);
  Value* matmul(Value* x);
  Value* softmax(Value* x);
  // A layer that keeps x's shape (for residual branches).
  Value* same_shape_layer(Value* x);
  // Any layer that applies to x, drawn until one does.
  Value* any_layer(Value* x);
  // y = x + f(x), y = concat(f(x), g(x)) along channels.
  Value* residual_add(Value* x);
  Value* concat_branches(Value* x);

  Status status() const { return b_.status(); }

 private:
  Value* op(OpKind k, std::vector<Value*> in, AttrMap attrs = {});
  Value* weights(const Dims& d, double bound);
  Value* ints(const std::vector<int64_t>& v);
  bool fits(const Dims& d) const;
  std::string fresh(const std::string& prefix);

  const Spec& spec_;
  Graph& g_;
  Builder b_;
  int names_ = 0;
};

Dims dims_of(const Value* v);
std::string dims_text(const Dims& d);

}  // namespace weec::weenet
