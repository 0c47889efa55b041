// One static function per top-level node. Plain nodes call their op's
// emit_c (or get a loop around emit_scalar); a Fused node is emitted as one
// loop nest: an elementwise group as a loop over the sink's elements, an
// anchor group through the anchor's emit_c with the epilogue applied in
// store(), a reduce group with the prologue inlined in load(). Values inside
// a group are C locals, never buffers.
#include "codegen/c/c_function.h"

#include <fmt/ranges.h>

#include <unordered_map>
#include <unordered_set>

#include "codegen/c/c_backend.h"
#include "ops/nn_emit.h"
#include "ops/registry.h"

namespace weec::cgen {

int64_t value_bytes(const Value& v) {
  return numel_of(v.type.shape.static_dims()) * (int64_t)dtype_size(v.type.dtype);
}

namespace {

Dims dims_of(const Value* v) { return v->type.shape.static_dims(); }

bool is_scalar_op(const Node& n) { return op_schema(n.op).emit_scalar != nullptr; }

// State of one function being emitted: names of external buffers, the group's
// internal producers, scratch requests.
struct FunctionState {
  std::unordered_map<const Value*, std::string> ptr;         // external buffers
  std::unordered_map<const Value*, const Tensor*> constant;  // compile-time data of external inputs
  std::unordered_map<const Value*, const Node*> inner;       // values produced inside the group
  std::unordered_map<const Value*, std::string> local;       // values held in C locals
  std::vector<const Node*> epilogue;                         // scalar nodes after the anchor
  const Value* sink = nullptr;                               // value written to y0 by the epilogue
  std::vector<ScratchBuffer> scratch;
  int64_t scratch_bytes = 0;
  CModuleNeeds* needs = nullptr;
  std::unordered_set<const Value*> packed_int4;  // parameters (and fused body inputs) of packed 4-bit weights
};

// Index into a buffer of dims `vd` broadcast against `od`, given the output
// multi-index `idx` (may be empty) and flat index `flat`.
std::string broadcast_index(const Dims& vd, const Dims& od, const std::vector<std::string>& idx,
                            const std::string& flat) {
  if (vd == od) return flat;
  if (numel_of(vd) == 1) return "0";
  // Not broadcastable into the output (an input the op reads some other way,
  // e.g. Expand's shape): index it flat; ops that read it do so explicitly.
  if (vd.size() > od.size()) return flat;
  std::vector<std::string> ix = idx;
  if (ix.empty()) {
    Dims st = strides_of(od);
    for (size_t d = 0; d < od.size(); ++d) ix.push_back(fmt::format("(({}) / {} % {})", flat, st[d], od[d]));
  }
  Dims vst = strides_of(vd);
  std::string s;
  size_t off = od.size() - vd.size();
  for (size_t d = 0; d < vd.size(); ++d) {
    if (vd[d] == 1) continue;
    std::string term = vst[d] == 1 ? ix[d + off] : fmt::format("{} * {}", ix[d + off], vst[d]);
    s = s.empty() ? term : s + " + " + term;
  }
  return s.empty() ? "0" : s;
}

std::string constant_literal(const Tensor& t) {
  return is_float(t.dtype()) ? c_literal(t.get_double(0), t.dtype()) : c_literal_i64(t.get_int(0), t.dtype());
}

// Expression for one element of external value v at (idx, flat) of output dims od.
std::string external_element(FunctionState& fs, const Value* v, const Dims& od,
                             const std::vector<std::string>& idx, const std::string& flat) {
  auto c = fs.constant.find(v);
  if (c != fs.constant.end() && c->second->numel() == 1) return constant_literal(*c->second);
  return fmt::format("{}[{}]", fs.ptr.at(v), broadcast_index(dims_of(v), od, idx, flat));
}

Expected<std::string> scalar_expr(FunctionState& fs, const Node& n, std::vector<std::string> ins) {
  CScalarContext sc(n, op_schema(n.op), *fs.needs, std::move(ins));
  return op_schema(n.op).emit_scalar(sc);
}

// Emits `const T t = expr;` for each scalar node in order, reading group
// values from locals and external ones through broadcast indexing.
Status emit_scalar_statements(FunctionState& fs, CWriter& w, const std::vector<const Node*>& nodes,
                              const Dims& od, const std::vector<std::string>& idx, const std::string& flat) {
  for (const Node* n : nodes) {
    std::vector<std::string> ins;
    for (const Value* in : n->inputs) {
      if (!in)
        ins.push_back("");
      else if (fs.local.count(in))
        ins.push_back(fs.local.at(in));
      else
        ins.push_back(external_element(fs, in, od, idx, flat));
    }
    WEEC_ASSIGN_OR_RETURN(std::string e, scalar_expr(fs, *n, std::move(ins)));
    std::string t = w.fresh("t");
    w.line("const {} {} = {};", c_type(n->outputs[0]->type.dtype), t, e);
    fs.local[n->outputs[0]] = t;
  }
  return Status::ok();
}

// Inlined expression of value v at flat index (reduce prologues).
Expected<std::string> inline_expr(FunctionState& fs, const Value* v, const Dims& od,
                                  const std::string& flat) {
  auto it = fs.inner.find(v);
  if (it == fs.inner.end()) return external_element(fs, v, od, {}, flat);
  std::vector<std::string> ins;
  for (const Value* in : it->second->inputs) {
    if (!in) {
      ins.push_back("");
      continue;
    }
    WEEC_ASSIGN_OR_RETURN(std::string e, inline_expr(fs, in, od, flat));
    ins.push_back(std::move(e));
  }
  WEEC_ASSIGN_OR_RETURN(std::string e, scalar_expr(fs, *it->second, std::move(ins)));
  return "(" + e + ")";
}

class NodeEmitter : public CEmitContext {
 public:
  NodeEmitter(const Node& node, CWriter& w, FunctionState& fs)
      : CEmitContext(node, op_schema(node.op), *fs.needs, w), fs_(fs) {}

  std::string in(size_t i) const override { return buffer(node.inputs[i]); }
  std::string out(size_t k) const override { return buffer(k == 0 && fs_.sink ? fs_.sink : node.outputs[k]); }

  std::string load(size_t i, const std::string& flat) override {
    auto e = inline_expr(fs_, node.inputs[i], in_dims(i), flat);
    if (!e) {
      status_ = e.status();
      return "0";
    }
    return *e;
  }

  void store(size_t k, const std::vector<std::string>& idx, const std::string& value,
             const std::string& flat) override {
    Dims od = out_dims(k);
    std::string f = flat.empty() ? flat_index(od, idx) : flat;
    if (k != 0 || fs_.epilogue.empty()) {
      w.line("{}[{}] = {};", out(k), f, value);
      return;
    }
    w.open("{{");
    std::string v = w.fresh("a");
    w.line("const {} {} = {};", c_type(output_dtype(0)), v, value);
    fs_.local[node.outputs[0]] = v;
    Status s = emit_scalar_statements(fs_, w, fs_.epilogue, od, idx, f);
    if (!s.is_ok() && status_.is_ok()) status_ = s;
    w.line("{}[{}] = {};", fs_.ptr.at(fs_.sink), f, fs_.local.at(fs_.sink));
    w.close();
  }

  std::string scratch(DType t, int64_t count, const std::string& hint) override {
    ScratchBuffer b{w.fresh(c_identifier(hint) + "_"), t, count, fs_.scratch_bytes};
    fs_.scratch_bytes += (count * (int64_t)dtype_size(t) + 15) / 16 * 16;
    fs_.scratch.push_back(b);
    return b.name;
  }

  bool packed_int4(size_t i) const override {
    return i < node.inputs.size() && fs_.packed_int4.count(node.inputs[i]) > 0;
  }

  Status status() const { return status_; }

 private:
  // A fused prologue value has no buffer: its op must read it with load().
  std::string buffer(const Value* v) const {
    auto it = fs_.ptr.find(v);
    if (it != fs_.ptr.end()) return it->second;
    if (status_.is_ok())
      status_ = error("{}: reads fused value '{}' by pointer; the C emitter must use load()", node.describe(),
                      v->name);
    return "0";
  }

  FunctionState& fs_;
  mutable Status status_;
};

// Loop over the output's elements around scalar statements (plain scalar
// nodes and "elementwise" groups).
Status emit_elementwise_loop(FunctionState& fs, CWriter& w, const std::vector<const Node*>& nodes,
                             const Value* sink) {
  Dims od = dims_of(sink);
  bool flat_only = true;
  for (const Node* n : nodes)
    for (const Value* in : n->inputs)
      if (in && !fs.local.count(in) && !fs.inner.count(in) && dims_of(in) != od && numel_of(dims_of(in)) != 1)
        flat_only = false;
  std::vector<std::string> idx;
  std::string flat;
  size_t depth = 0;
  if (flat_only) {
    flat = w.fresh("i");
    w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", flat, numel_of(od));
    depth = 1;
  } else {
    for (int64_t d : od) {
      std::string v = w.fresh("i");
      w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", v, d);
      idx.push_back(v);
    }
    depth = od.size();
    flat = CEmitContext::flat_index(od, idx);
  }
  WEEC_TRY(emit_scalar_statements(fs, w, nodes, od, idx, flat));
  w.line("{}[{}] = {};", fs.ptr.at(sink), flat, fs.local.at(sink));
  for (size_t i = 0; i < depth; ++i) w.close();
  return Status::ok();
}

Status emit_copy(FunctionState& fs, CWriter& w, const Node& n) {
  std::string i = w.fresh("i");
  w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", i, numel_of(dims_of(n.outputs[0])));
  w.line("{}[{}] = {}[{}];", fs.ptr.at(n.outputs[0]), i, fs.ptr.at(n.inputs[0]), i);
  w.close();
  return Status::ok();
}

Status emit_single(FunctionState& fs, CWriter& w, const Node& n) {
  const OpSchema& s = op_schema(n.op);
  if (s.emit_c) {
    NodeEmitter e(n, w, fs);
    WEEC_TRY(s.emit_c(e));
    return e.status();
  }
  if (s.emit_scalar) return emit_elementwise_loop(fs, w, {&n}, n.outputs[0]);
  if (s.view) return emit_copy(fs, w, n);
  return error("{}: not supported by the C backend", n.describe());
}

Status emit_fused(FunctionState& fs, CWriter& w, const Node& fused) {
  const Graph& body = *fused.attr("body")->g;
  for (size_t i = 0; i < body.inputs.size(); ++i) {
    fs.ptr[body.inputs[i]] = fs.ptr.at(fused.inputs[i]);
    if (fused.inputs[i]->constant) fs.constant[body.inputs[i]] = fused.inputs[i]->constant.get();
    if (fs.packed_int4.count(fused.inputs[i])) fs.packed_int4.insert(body.inputs[i]);
  }
  const Value* sink = body.outputs[0];
  fs.ptr[sink] = fs.ptr.at(fused.outputs[0]);
  std::vector<const Node*> scalars;
  const Node* anchor = nullptr;
  for (auto& n : body.nodes()) {
    if (is_scalar_op(*n) && !op_schema(n->op).emit_c) {
      (anchor ? fs.epilogue : scalars).push_back(n.get());
    } else {
      if (anchor) return error("{}: a fused group has two non-elementwise nodes", fused.describe());
      anchor = n.get();
    }
  }
  if (!anchor) return emit_elementwise_loop(fs, w, scalars, sink);
  for (const Node* p : scalars) fs.inner[p->outputs[0]] = p;  // prologue, inlined by load()
  fs.sink = fs.epilogue.empty() ? nullptr : sink;
  if (fs.epilogue.empty()) fs.ptr[anchor->outputs[0]] = fs.ptr.at(sink);
  NodeEmitter e(*anchor, w, fs);
  WEEC_TRY(op_schema(anchor->op).emit_c(e));
  return e.status();
}

// Nodes with this much work get an AVX2 clone; smaller ones are not worth
// doubling their code.
constexpr int64_t kCloneMinMacs = 16384, kCloneMinElements = 16384;

bool worth_avx2_clone(const Node& node) {
  if (node_macs(node) >= kCloneMinMacs) return true;
  int64_t elements = 0;
  for (const Value* v : node.outputs)
    if (v) elements += numel_of(dims_of(v));
  return elements >= kCloneMinElements;
}

}  // namespace

Expected<EmittedFunction> emit_function(const Node& node, int index, CModuleNeeds& needs,
                                        const std::unordered_set<const Value*>& packed_int4) {
  EmittedFunction f;
  f.node = &node;
  f.name = fmt::format("node{}_{}", index,
                       c_identifier(node.name.empty() ? std::string(op_name(node.op)) : node.name));
  FunctionState fs;
  fs.needs = &needs;
  std::vector<std::string> params;
  auto add_param = [&](const Value* v, bool is_out) {
    std::string name = fmt::format("{}{}", is_out ? "y" : "x", f.params.size());
    if (is_out || !fs.ptr.count(v)) fs.ptr[v] = name;  // a value read twice uses its first parameter
    if (!is_out && v->constant) fs.constant[v] = v->constant.get();
    const bool packed = !is_out && packed_int4.count(v);
    if (packed) fs.packed_int4.insert(v);
    params.push_back(fmt::format("{}{}* @R{}@{}", is_out ? "" : "const ",
                                 packed ? "uint8_t" : c_type(v->type.dtype), f.params.size(), name));
    f.params.push_back(v);
    f.param_is_output.push_back(is_out);
  };
  for (const Value* in : node.inputs)
    if (in) add_param(in, false);
  for (const Value* out : node.outputs)
    if (out) add_param(out, true);

  CWriter body;
  body.set_indent(1);
  Status st = node.op == OpKind::Fused ? emit_fused(fs, body, node) : emit_single(fs, body, node);
  if (!st.is_ok()) return st;

  std::string sig_params;
  std::vector<std::string> args;
  for (size_t i = 0; i < params.size(); ++i) {
    sig_params += (i ? ", " : "") + params[i];
    args.push_back(params[i].substr(params[i].rfind('@') + 1));
  }
  if (fs.scratch_bytes) {
    sig_params += ", unsigned char* restrict scratch";
    args.push_back("scratch");
  }
  CWriter prologue;
  prologue.set_indent(1);
  for (const std::string& a : args)
    if (a != "scratch") prologue.line("(void){};", a);
  for (const ScratchBuffer& b : fs.scratch)
    prologue.line("{0}* restrict {1} = ({0}*)(void*)(scratch + {2});", c_type(b.dtype), b.name, b.offset);
  const std::string body_text = prologue.text() + body.text();

  CWriter w;
  const bool clone = worth_avx2_clone(node);
  if (clone) {
    // The same body compiled for AVX2+FMA, called where the CPU has them:
    // a baseline build then vectorises this node's loops 8 wide.
    nn::simd_prelude(needs);
    w.line("#if defined(WEEC_SIMD_AVX2)");
    w.line("static __attribute__((target(\"avx2,fma\"))) void {}_avx2({}) {{", f.name, sig_params);
    w.raw(body_text);
    w.line("}}");
    w.line("#endif");
  }
  w.line("static void {}({}) {{", f.name, sig_params);
  if (clone) {
    w.line("#if defined(WEEC_SIMD_AVX2)");
    w.line("  if (weec_cpu_avx2_fma()) {{");
    w.line("    {}_avx2({});", f.name, fmt::join(args, ", "));
    w.line("    return;");
    w.line("  }}");
    w.line("#endif");
  }
  w.raw(body_text);
  w.line("}}");
  f.text = w.text();
  f.scratch_bytes = fs.scratch_bytes;
  return f;
}

}  // namespace weec::cgen
