#include "codegen/c/c_backend.h"

#include <fmt/ranges.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_set>

#include "codegen/c/c_function.h"
#include "codegen/c/c_weights.h"
#include "ops/registry.h"

namespace weec {

using cgen::EmittedFunction;

std::string c_identifier(const std::string& text) {
  std::string s;
  for (char c : text) s += std::isalnum((unsigned char)c) ? c : '_';
  if (s.empty() || std::isdigit((unsigned char)s[0])) s = "v" + s;
  return s;
}

namespace {

bool supported_dtype(DType t) { return !c_type(t).empty(); }

Status check_value(const Value* v, const Node* user) {
  if (!v) return Status::ok();
  if (!v->type.shape.is_static())
    return error("value '{}' has type {} with unknown dims; bind the inputs with --input-shape", v->name,
                 type_str(v->type));
  if (!supported_dtype(v->type.dtype))
    return error("{}value '{}' has dtype {}, which the C backend does not support",
                 user ? user->describe() + ": " : "", v->name, dtype_name(v->type.dtype));
  return Status::ok();
}

Status check_node(const Node& n) {
  const OpSchema& s = op_schema(n.op);
  for (const Value* v : n.inputs) WEEC_TRY(check_value(v, &n));
  for (const Value* v : n.outputs) WEEC_TRY(check_value(v, &n));
  if (n.op == OpKind::Fused) {
    for (auto& b : n.attr("body")->g->nodes()) WEEC_TRY(check_node(*b));
    return Status::ok();
  }
  if (!s.emit_c && !s.emit_scalar && !s.view)
    return error("{}: op is not supported by the C backend", n.describe());
  return Status::ok();
}

// Where a parameter's bytes live, to decide which pointers may alias.
struct Region {
  int space = 0;  // 0 arena, 1 input, 2 output, 3 constant
  const void* id = nullptr;
  int64_t begin = 0, end = 0;
  bool overlaps(const Region& o) const {
    if (space != o.space || id != o.id) return false;
    return space != 0 || (begin < o.end && o.begin < end);
  }
};

class SourceWriter {
 public:
  SourceWriter(const Graph& g, const CCodegenOptions& opt, const MemoryPlan& plan,
               const cgen::WeightTable& weights)
      : g_(g), opt_(opt), plan_(plan), weights_(weights) {
    std::unordered_set<std::string> used;
    auto unique = [&](std::string s) {
      std::string u = s;
      for (int k = 1; used.count(u); ++k) u = fmt::format("{}_{}", s, k);
      used.insert(u);
      return u;
    };
    for (const Value* v : g.inputs) in_names_.push_back(unique("in_" + c_identifier(v->name)));
    for (const Value* v : g.outputs) out_names_.push_back(unique("out_" + c_identifier(v->name)));
  }

  std::string signature(bool with_arena, bool with_restrict) const {
    std::string r = with_restrict ? " restrict " : " ";
    std::string s = fmt::format("void {}_{}(", opt_.name, with_arena ? "run_with_arena" : "run");
    std::vector<std::string> ps;
    for (size_t i = 0; i < g_.inputs.size(); ++i)
      ps.push_back(fmt::format("const {}*{}{}", c_type(g_.inputs[i]->type.dtype), r, in_names_[i]));
    for (size_t i = 0; i < g_.outputs.size(); ++i)
      ps.push_back(fmt::format("{}*{}{}", c_type(g_.outputs[i]->type.dtype), r, out_names_[i]));
    if (with_arena) ps.push_back(fmt::format("void*{}arena", r));
    if (ps.empty()) ps.push_back("void");
    for (size_t i = 0; i < ps.size(); ++i) s += (i ? ", " : "") + ps[i];
    return s + ")";
  }

  const Storage& storage(const Value* v) const { return plan_.storage.at(v); }
  const std::vector<std::string>& in_names() const { return in_names_; }
  const std::vector<std::string>& out_names() const { return out_names_; }

  std::string pointer(const Value* v) const {
    const Storage& st = storage(v);
    const Value* root = st.root ? st.root : v;
    std::string t = c_type(v->type.dtype);
    switch (st.kind) {
      case Storage::Kind::Input:
        return in_names_[st.index];
      case Storage::Kind::Output:
        return out_names_[st.index];
      case Storage::Kind::Constant:
        return weights_.name_of(root);
      default:
        return fmt::format("({}*)(void*)(a + {})", t, st.offset);
    }
  }

  Region region(const Value* v) const {
    const Storage& st = storage(v);
    const Value* root = st.root ? st.root : v;
    switch (st.kind) {
      case Storage::Kind::Input:
        return {1, &g_.inputs[st.index], 0, 0};
      case Storage::Kind::Output:
        return {2, &g_.outputs[st.index], 0, 0};
      case Storage::Kind::Constant:
        return {3, root, 0, 0};
      default:
        return {0, nullptr, st.offset, st.offset + std::max<int64_t>(1, cgen::value_bytes(*v))};
    }
  }

  // The function text with restrict where no output parameter may alias
  // another parameter, and the call that goes with it.
  std::pair<std::string, std::string> function_and_call(const EmittedFunction& f) const {
    std::vector<Region> regs;
    for (const Value* v : f.params) regs.push_back(region(v));
    std::string text = f.text, call = f.name + "(";
    for (size_t i = 0; i < f.params.size(); ++i) {
      bool alias = false;
      for (size_t j = 0; j < f.params.size(); ++j)
        if (i != j && (f.param_is_output[i] || f.param_is_output[j]) && regs[i].overlaps(regs[j]))
          alias = true;
      // Every occurrence: a function with an AVX2 clone has two signatures.
      std::string ph = fmt::format("@R{}@", i);
      for (size_t at = text.find(ph); at != std::string::npos; at = text.find(ph, at))
        text.replace(at, ph.size(), alias ? "" : "restrict ");
      call += (i ? ", " : "") + pointer(f.params[i]);
    }
    if (f.scratch_bytes) call += fmt::format(", a + {}", plan_.scratch_offset.at(f.node));
    return {text, call + ");"};
  }

 private:
  const Graph& g_;
  const CCodegenOptions& opt_;
  const MemoryPlan& plan_;
  const cgen::WeightTable& weights_;
  std::vector<std::string> in_names_, out_names_;
};

std::string describe_value(const Value* v) { return fmt::format("{} {}", v->name, type_str(v->type)); }

std::string make_header(const Graph& g, const CCodegenResult& r, const SourceWriter& sw,
                        const std::string& name) {
  std::string guard = name;
  for (char& c : guard) c = (char)std::toupper((unsigned char)c);
  CWriter w;
  w.line("/* Generated by weec. Model '{}': {} MACs, {} weight bytes. */", g.name, r.macs, r.weight_bytes);
  w.line("#ifndef {}_H", guard);
  w.line("#define {}_H", guard);
  w.line("");
  w.line("#include <stdbool.h>");
  w.line("#include <stdint.h>");
  w.line("");
  w.line("/* Bytes of scratch memory one inference needs (the arena). */");
  w.line("#define {}_ARENA_BYTES {}", name, r.plan.arena_bytes);
  w.line("/* Required alignment of a caller-provided arena. */");
  w.line("#define {}_ARENA_ALIGN {}", name, 16);
  w.line("");
  w.line("#ifdef __cplusplus");
  w.line("extern \"C\" {{");
  w.line("#endif");
  w.line("");
  w.line("/* Inputs:");
  for (auto& d : r.input_desc) w.line(" *   {}", d);
  w.line(" * Outputs:");
  for (auto& d : r.output_desc) w.line(" *   {}", d);
  w.line(" * Buffers are dense row-major arrays; outputs must not overlap inputs. */");
  w.line("");
  w.line("/* Runs one inference using a static arena (not reentrant). */");
  w.line("{};", sw.signature(false, false));
  w.line("/* Same, with a caller-provided arena of {}_ARENA_BYTES bytes, aligned to", name);
  w.line(" * {}_ARENA_ALIGN: use one arena per concurrent instance. */", name);
  w.line("{};", sw.signature(true, false));
  w.line("");
  w.line("#ifdef __cplusplus");
  w.line("}}");
  w.line("#endif");
  w.line("");
  w.line("#endif /* {}_H */", guard);
  return w.text();
}

}  // namespace

Status check_c_support(const Graph& graph) {
  for (const Value* v : graph.inputs) WEEC_TRY(check_value(v, nullptr));
  for (const Value* v : graph.outputs) WEEC_TRY(check_value(v, nullptr));
  for (auto& n : graph.nodes()) WEEC_TRY(check_node(*n));
  return Status::ok();
}

Expected<CCodegenResult> generate_c(const Graph& g, const CCodegenOptions& opt) {
  if (c_identifier(opt.name) != opt.name) return error("--name '{}' is not a C identifier", opt.name);
  WEEC_TRY(check_c_support(g));
  CCodegenResult r;
  r.name = opt.name;
  CModuleNeeds needs;
  std::vector<EmittedFunction> fns;
  PlanOptions popt = opt.plan;
  // 4-bit weights are stored packed (ops/q4_weights.h): their readers'
  // emitters and the weight table both need to know which.
  const std::unordered_set<const Value*> packed = cgen::int4_weights(g);
  int index = 0;
  for (auto& n : g.nodes()) {
    WEEC_ASSIGN_OR_RETURN(auto f, cgen::emit_function(*n, index++, needs, packed));
    if (f.scratch_bytes) popt.scratch_bytes[n.get()] = f.scratch_bytes;
    r.macs += node_macs(*n);
    fns.push_back(std::move(f));
  }
  WEEC_ASSIGN_OR_RETURN(r.plan, plan_memory(g, popt));
  std::unordered_set<const Node*> views(r.plan.views.begin(), r.plan.views.end());

  // Constants the emitted calls read (or outputs that are constants).
  cgen::WeightTable weights(packed);
  for (auto& f : fns)
    if (!views.count(f.node))
      for (const Value* v : f.params) {
        const Storage& st = r.plan.storage.at(v);
        const Value* root = st.root ? st.root : v;
        if (st.kind == Storage::Kind::Constant) weights.add(root);
      }
  for (const Value* v : g.outputs) {
    const Storage& st = r.plan.storage.at(v);
    if (st.kind == Storage::Kind::Constant) weights.add(st.root ? st.root : v);
  }
  r.weight_bytes = weights.bytes();
  SourceWriter sw(g, opt, r.plan, weights);
  for (const Value* v : g.inputs) r.input_desc.push_back(describe_value(v));
  for (const Value* v : g.outputs) r.output_desc.push_back(describe_value(v));

  std::string functions, calls;
  for (auto& f : fns) {
    if (views.count(f.node)) {
      calls += fmt::format("  /* {}: a view, no code */\n", f.node->describe());
      continue;
    }
    auto [text, call] = sw.function_and_call(f);
    functions += "/* " + f.node->describe() + " */\n" + text + "\n";
    calls += "  " + call + "\n";
  }
  // Outputs not written in place by their producer (inputs, constants, repeats).
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const Value* v = g.outputs[k];
    const Storage& st = r.plan.storage.at(v);
    if (st.kind == Storage::Kind::Output && st.index == (int)k) continue;
    int64_t n = numel_of(v->type.shape.static_dims());
    calls += fmt::format("  {{\n    int32_t i;\n    for (i = 0; i < {}; ++i) {}[i] = {}[i];\n  }}\n", n,
                         sw.out_names()[k], sw.pointer(v));
  }

  CWriter w;
  w.line("/* Generated by weec from model '{}'. C99; no heap, no stdio. */", g.name);
  std::string weight_text = weights.definitions();
  // Non-finite constants are spelled with <math.h>'s INFINITY / NAN.
  if (weight_text.find("INFINITY") != std::string::npos || weight_text.find("NAN") != std::string::npos)
    needs.libm.insert("INFINITY");
  w.line("#include \"{}.h\"", opt.name);
  if (!needs.libm.empty()) w.line("#include <math.h>");
  w.line("");
  w.line("#if defined(__GNUC__) || defined(__clang__)");
  w.line("#define WEEC_ALIGNED __attribute__((aligned(16)))");
  w.line("#else");
  w.line("#define WEEC_ALIGNED");
  w.line("#endif");
  w.line("");
  w.raw(weight_text);
  for (auto& [name, def] : needs.helpers) w.raw(def + "\n");
  w.raw(functions);
  w.line("{} {{", sw.signature(true, true));
  w.line("  unsigned char* a = (unsigned char*)arena;");
  w.line("  (void)a;");
  // Passes may leave an input unread (folded Shape, removed Dropout ratio).
  for (auto& n : sw.in_names()) w.line("  (void){};", n);
  w.raw(calls);
  w.line("}}");
  w.line("");
  w.line("static unsigned char {0}_arena[{0}_ARENA_BYTES > 0 ? {0}_ARENA_BYTES : 1] WEEC_ALIGNED;", opt.name);
  w.line("");
  std::vector<std::string> args = sw.in_names();
  args.insert(args.end(), sw.out_names().begin(), sw.out_names().end());
  args.push_back(opt.name + "_arena");
  w.line("{} {{", sw.signature(false, true));
  w.line("  {}_run_with_arena({});", opt.name, fmt::join(args, ", "));
  w.line("}}");
  r.source = w.text();
  r.libm = needs.libm;
  r.header = make_header(g, r, sw, opt.name);
  return r;
}

}  // namespace weec

namespace weec {

Status write_c_files(const CCodegenResult& result, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error("cannot create directory '{}': {}", dir, ec.message());
  // Write both to temporaries first, then rename: no partial output on failure.
  std::vector<std::pair<fs::path, const std::string*>> files = {
      {fs::path(dir) / (result.name + ".h"), &result.header},
      {fs::path(dir) / (result.name + ".c"), &result.source}};
  std::vector<fs::path> temps;
  for (auto& [path, text] : files) {
    fs::path tmp = path;
    tmp += ".tmp";
    std::ofstream out(tmp, std::ios::binary);
    out << *text;
    out.close();
    temps.push_back(tmp);
    if (!out) {
      for (auto& t : temps) fs::remove(t, ec);
      return error("cannot write '{}'", path.string());
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    fs::rename(temps[i], files[i].first, ec);
    if (ec) {
      for (auto& t : temps) fs::remove(t, ec);
      return error("cannot write '{}': {}", files[i].first.string(), ec.message());
    }
  }
  return Status::ok();
}

}  // namespace weec
