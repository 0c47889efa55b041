#include "c_mode.h"

#include <filesystem>
#include <sstream>

#include "codegen/c/c_backend.h"
#include "codegen/c/c_runner.h"
#include "ops/registry.h"
#include "passes/pass.h"

namespace weec {

namespace {

// How much of the data is compiled in as constants: nothing; integer inputs
// (shapes, axes, indices counts); or every input but the first (float scales
// of Resize, OneHot's depth, Range's limits, Compress's condition).
enum class Bind { None, Integers, AllButFirst };

bool should_bind(Bind b, size_t i, const Tensor& t) {
  if (b == Bind::Integers) return is_integer(t.dtype());
  return b == Bind::AllButFirst && i > 0;
}

// Clone with input shapes bound to the data and the `bind` inputs replaced by
// constants; then the pass pipeline.
Expected<std::unique_ptr<Graph>> prepare(const Graph& g, const std::vector<const Tensor*>& inputs, Bind bind,
                                         const CModeOptions& opt, std::vector<const Tensor*>& kept,
                                         std::string& bound) {
  auto c = g.clone();
  std::vector<Value*> keep_inputs;
  for (size_t i = 0; i < c->inputs.size(); ++i) {
    Value* v = c->inputs[i];
    if (should_bind(bind, i, *inputs[i])) {
      Value* k = c->add_constant(c->unique_name(v->name + "_const"), *inputs[i]);
      c->replace_all_uses(v, k);
      bound += (bound.empty() ? "" : ",") + v->name;
      continue;
    }
    v->type.shape = Shape::of(inputs[i]->dims());
    keep_inputs.push_back(v);
    kept.push_back(inputs[i]);
  }
  c->inputs = keep_inputs;
  WEEC_ASSIGN_OR_RETURN(auto passes, pipeline(opt.opt_level));
  PassContext ctx;
  PassManager pm(passes);
  WEEC_TRY(pm.run(*c, ctx));
  return c;
}

}  // namespace

CModeResult run_through_c(const Graph& g, const std::vector<const Tensor*>& inputs, const CModeOptions& opt,
                          const std::string& test_name) {
  CModeResult r;
  bool has_int_input = false;
  for (const Tensor* t : inputs) has_int_input |= is_integer(t->dtype());
  std::vector<Bind> attempts = {Bind::None};
  if (has_int_input) attempts.push_back(Bind::Integers);
  if (inputs.size() > 1) attempts.push_back(Bind::AllButFirst);
  for (Bind bind : attempts) {
    std::vector<const Tensor*> kept;
    std::string bound;
    auto prepared = prepare(g, inputs, bind, opt, kept, bound);
    if (!prepared) {
      r.status = prepared.status();
      r.unsupported = true;
      continue;
    }
    const Graph& pg = **prepared;
    auto code = generate_c(pg, CCodegenOptions{"model", {}});
    if (!code) {
      r.status = code.status();
      r.unsupported = true;
      continue;
    }
    CBuildOptions b;
    b.cc = opt.cc;
    b.cflags.clear();
    std::istringstream flags(opt.cflags);
    for (std::string f; flags >> f;) b.cflags.push_back(f);
    if (!opt.keep_dir.empty()) b.work_dir = (std::filesystem::path(opt.keep_dir) / test_name).string();
    auto outs = run_generated_c(pg, *code, kept, b);
    r.unsupported = false;
    r.bound_inputs = bound;
    if (!outs) {
      r.status = outs.status();
      return r;
    }
    r.status = Status::ok();
    r.outputs = std::move(*outs);
    return r;
  }
  return r;
}

}  // namespace weec
