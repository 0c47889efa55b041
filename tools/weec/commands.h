// Subcommands of the weec CLI. Each registers its options on a CLI11 subapp
// and returns a runner; errors are printed by main() and exit non-zero.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "frontend/onnx/importer.h"

namespace weec::cli {

using Runner = std::function<Status()>;

Runner add_show(CLI::App& app);
Runner add_run(CLI::App& app);
Runner add_ops(CLI::App& app);
Runner add_compare(CLI::App& app);
Runner add_compile(CLI::App& app);
Runner add_test(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_eval(CLI::App& app);
Runner add_export(CLI::App& app);
Runner add_quantize(CLI::App& app);
Runner add_weenet(CLI::App& app);
Runner add_train(CLI::App& app);

// Loads an ONNX model (.onnx) or a text-IR file (.wir). Type inference runs
// on both; `input_shapes` ("name=1x3x32x32") bind symbolic input dims first.
Expected<ImportedModel> load_model(const std::string& path,
                                   const std::vector<std::string>& input_shapes = {});

}  // namespace weec::cli
