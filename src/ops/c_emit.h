// C emission hooks of an op (the op's own file implements them; the C
// backend in src/codegen/c drives them). Ops never depend on the backend:
// the contexts below are the whole interface.
//
// Two forms:
//  * emit_scalar, for elementwise/broadcast ops: return a C expression for one
//    element of output 0 given one element of each input. The backend wraps it
//    in loops, or inlines it into a fused group's epilogue/prologue, so
//    elementwise ops fuse without writing any loop.
//  * emit_c, for everything else: write a loop nest with the context's writer.
//    Read inputs with in(i)[...] (or load() where each element is read once),
//    write outputs with store()/out(k)[...]. Shapes are static here: every
//    dim is known when the backend runs.
// Generated code is C99: no heap, no stdio, libm only through math().
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ops/op.h"

namespace weec {

// The C type of a dtype ("float", "int64_t", "bool", ...); F16/BF16/String
// have none (the backend rejects them before emission).
std::string c_type(DType t);
// A C literal of type t for v: "1.5f", "-3", "(-9223372036854775807LL - 1)",
// "INFINITY" forms for non-finite floats ("(1.0f/0.0f)" is not constant-safe in C99;
// we use the <math.h> macros and record the dependency).
std::string c_literal(double v, DType t);
std::string c_literal_i64(int64_t v, DType t);
// Lowest/highest finite value of t as a C literal (float: -FLT_MAX style literals).
std::string c_lowest(DType t);
std::string c_highest(DType t);

// What the generated file needs at file scope, collected while emitting.
struct CModuleNeeds {
  std::set<std::string> libm;  // functions from <math.h> ("expf", "INFINITY", ...)
  std::vector<std::pair<std::string, std::string>> helpers;  // name -> static function text, emitted once
  bool has_helper(const std::string& name) const;
};

// Indentation-aware line writer.
class CWriter {
 public:
  template <typename... Args>
  void line(fmt::format_string<Args...> f, Args&&... args) {
    text_.append(indent_ * 2, ' ');
    text_ += fmt::format(f, std::forward<Args>(args)...);
    text_ += '\n';
  }
  // "for (...) {" then indent; close() dedents and writes "}".
  template <typename... Args>
  void open(fmt::format_string<Args...> f, Args&&... args) {
    line(f, std::forward<Args>(args)...);
    ++indent_;
  }
  void close() {
    --indent_;
    line("}}");
  }
  void raw(const std::string& s) { text_ += s; }
  // A fresh identifier starting with `hint`, unique within this writer.
  std::string fresh(const std::string& hint) { return fmt::format("{}{}", hint, next_++); }
  const std::string& text() const { return text_; }
  int indent() const { return indent_; }
  void set_indent(int i) { indent_ = i; }

 private:
  std::string text_;
  int indent_ = 0;
  int next_ = 0;
};

// Shared by both forms: the module needs and fresh names.
class CEmitBase : public NodeContext {
 public:
  CEmitBase(const Node& node, const OpSchema& schema, CModuleNeeds& needs)
      : NodeContext(node, schema), needs(needs) {}
  DType input_dtype(size_t i) const { return node.inputs[i]->type.dtype; }
  DType output_dtype(size_t k = 0) const { return node.outputs[k]->type.dtype; }
  bool has_input(size_t i) const { return node.has_input(i); }
  size_t num_inputs() const { return node.inputs.size(); }
  // Constant data of input i at compile time, or nullptr.
  const Tensor* input_constant(size_t i) const {
    return has_input(i) && node.inputs[i]->constant ? node.inputs[i]->constant.get() : nullptr;
  }
  // A libm function for dtype t: math("exp", F32) -> "expf", (F64) -> "exp".
  // Records the dependency (the header includes <math.h> only if needed).
  std::string math(const std::string& fn, DType t);
  // Registers a static helper function once (by name) and returns the name.
  // `definition` is the full C text of the function.
  const std::string& helper(const std::string& name, const std::string& definition);
  // Float literal forms needing <math.h> (INFINITY, NAN).
  std::string infinity(DType t, bool negative = false);
  std::string nan(DType t);

  CModuleNeeds& needs;
};

// Scalar form: `in[i]` are C expressions (side-effect free, may be evaluated
// more than once) of type c_type(input_dtype(i)); "" for omitted inputs.
class CScalarContext : public CEmitBase {
 public:
  CScalarContext(const Node& node, const OpSchema& schema, CModuleNeeds& needs, std::vector<std::string> in)
      : CEmitBase(node, schema, needs), in(std::move(in)) {}
  std::vector<std::string> in;
};

// Loop-nest form. Every input/output is a flat row-major buffer.
class CEmitContext : public CEmitBase {
 public:
  CEmitContext(const Node& node, const OpSchema& schema, CModuleNeeds& needs, CWriter& w)
      : CEmitBase(node, schema, needs), w(w) {}
  virtual ~CEmitContext() = default;

  Dims in_dims(size_t i) const;   // static dims of input i
  Dims out_dims(size_t k) const;  // static dims of output k
  int64_t in_count(size_t i) const;
  int64_t out_count(size_t k) const;

  // C names of the buffers: `const T*` for inputs, `T*` for outputs.
  virtual std::string in(size_t i) const = 0;
  virtual std::string out(size_t k) const = 0;
  // One element of input i at flat index `flat`. Use it where each input
  // element is read about once (reductions): a fused elementwise prologue is
  // then inlined here instead of materialised.
  virtual std::string load(size_t i, const std::string& flat) = 0;
  // Writes `value` to output k at multi-index `idx` (one C expression per
  // dim of out_dims(k)); `flat` is the matching flat index if the caller has
  // it (else computed from idx). For k == 0 a fused elementwise epilogue
  // (bias, activation, residual add) is applied here, so anchors (conv,
  // gemm, matmul) must write output 0 only through store(), once per element.
  virtual void store(size_t k, const std::vector<std::string>& idx, const std::string& value,
                     const std::string& flat = "") = 0;
  // A temporary buffer of `count` elements in the arena, live only while
  // this node runs; returns its C name (type T*).
  virtual std::string scratch(DType t, int64_t count, const std::string& hint) = 0;
  // Whether input i is stored as packed 4-bit weights (ops/q4_weights.h):
  // in(i) is then a `const uint8_t*` to the packed bytes. Only ops and
  // inputs for which qop::reads_int4_weights holds ever see true.
  virtual bool packed_int4(size_t) const { return false; }

  // A fresh local identifier starting with `hint`.
  std::string var(const std::string& hint) { return w.fresh(hint); }
  // Opens one `for` per dim (trip counts are literals) and returns the loop
  // variables; close_loops(n) closes them.
  std::vector<std::string> open_loops(const Dims& dims, const std::string& hint = "i");
  void close_loops(size_t n);
  // Row-major flat index of `idx` in `dims`, as a C expression.
  static std::string flat_index(const Dims& dims, const std::vector<std::string>& idx);

  CWriter& w;
};

}  // namespace weec
