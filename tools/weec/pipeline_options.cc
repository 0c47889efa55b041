#include "pipeline_options.h"

#include <fmt/format.h>

#include <sstream>

namespace weec::cli {

void add_pipeline_options(CLI::App& sub, PipelineOptions& o) {
  // CLI11 short options take attached values, so "-O2" is "-O" with "2".
  sub.add_option_function<std::string>(
         "-O", [&o](const std::string& level) { o.opt_level = "O" + level; },
         "Optimisation level: -O0 (shapes and memory plan only), -O1 (fold constants, remove dead code, "
         "fold BatchNorm/Dropout/Identity), -O2 (O1 plus operator fusion; the default)")
      ->check(CLI::IsMember({"0", "1", "2"}));
  sub.add_option("--passes", o.passes,
                 "Run exactly these passes, comma-separated (overrides -O), e.g. "
                 "infer-shapes,fold-constants,plan-memory")
      ->delimiter(',');
  sub.add_option("--print-after", o.print_after, "Print the IR after this pass (repeatable)");
  sub.add_flag("--print-after-all", o.print_after_all, "Print the IR after every pass");
  sub.add_option("--print-dir", o.dump_dir,
                 "Write the IR dumps as DIR/NN-PASS.wir files instead of printing them to stderr");
  sub.add_flag("--time-passes", o.time_passes, "Print the time each pass took to stderr");
}

Expected<std::pair<std::string, Dims>> parse_input_shape(const std::string& spec) {
  auto eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    return error("--input-shape '{}' must look like NAME=1x3x32x32", spec);
  Dims dims;
  std::stringstream ss(spec.substr(eq + 1));
  std::string part;
  while (std::getline(ss, part, 'x')) {
    if (part.empty() || part.size() > 18 || part.find_first_not_of("0123456789") != std::string::npos)
      return error("--input-shape '{}': '{}' is not a dimension", spec, part);
    dims.push_back(std::stoll(part));
  }
  if (spec.back() == 'x') return error("--input-shape '{}': trailing 'x'", spec);
  return std::make_pair(spec.substr(0, eq), dims);
}

Status run_pipeline(Graph& g, const PipelineOptions& o, PassContext& ctx) {
  for (const std::string& spec : o.input_shapes) {
    WEEC_ASSIGN_OR_RETURN(auto binding, parse_input_shape(spec));
    auto [it, inserted] = ctx.input_shapes.emplace(binding.first, binding.second);
    if (!inserted && it->second != binding.second)
      return error("--input-shape gives '{}' two shapes, {} and {}", binding.first, dims_str(it->second),
                   dims_str(binding.second));
  }
  std::vector<std::string> passes = o.passes;
  if (passes.empty()) {
    WEEC_ASSIGN_OR_RETURN(passes, pipeline(o.opt_level));
    if (o.prequantized)
      passes = with_prequantized(std::move(passes));
    else if (o.quantize)
      passes = with_quantization(std::move(passes));
  }
  ctx.print_after.insert(ctx.print_after.end(), o.print_after.begin(), o.print_after.end());
  ctx.print_after_all = ctx.print_after_all || o.print_after_all;
  if (!o.dump_dir.empty()) ctx.dump_dir = o.dump_dir;
  ctx.time_passes = ctx.time_passes || o.time_passes;

  PassManager pm(std::move(passes));
  Status st = pm.run(g, ctx);
  if (ctx.time_passes) fmt::print(stderr, "{}", pm.timing_report());
  return st;
}

}  // namespace weec::cli
