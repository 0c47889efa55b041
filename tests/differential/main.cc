// weec_differential: WeeNets from consecutive seeds through every
// comparison of differential.h; a failure is shrunk and saved as text IR.
// Also replays saved regressions (--regressions DIR: each .wir file, with
// int8 checks when its name contains "int8").
//
//   weec_differential --seeds 500 [--first 0] [--kind any] [--save DIR] [--jobs 2] [--cflags=-O1] [--ort off]
//   weec_differential --regressions tests/differential/regressions
//
// Prints one line per failure and ends with "N passed, N failed".
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>

#include "campaign.h"
#include "differential.h"
#include "ir/parser.h"
#include "ops/registry.h"

namespace {

using namespace weec;

int replay(const std::string& dir, diff::Options o) {
  int passed = 0, failed = 0;
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".wir") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string why;
  auto ort = diff::start_ort(o, why);
  diff::Pch pch(o);
  for (auto& p : files) {
    // Leading "#" lines say what the file is (the text IR has no comments).
    std::ifstream f(p);
    std::string line, text;
    while (std::getline(f, line))
      if (line.rfind('#', 0) != 0) text += line + "\n";
    auto g = parse_graph(text);
    Status st = g ? infer_graph(**g) : g.status();
    std::string failure = st ? "" : st.message();
    if (st) {
      std::mt19937 rng(7);
      diff::Case c = diff::make_case(o, ort.get());
      c.graph = g->get();
      c.feeds = diff::random_inputs(**g, rng);
      if (p.filename().string().find("int8") != std::string::npos)
        for (int i = 0; i < 16; ++i) c.calib.push_back(diff::random_inputs(**g, rng));
      failure = diff::check(c);
    }
    if (failure.empty()) {
      ++passed;
    } else {
      ++failed;
      fmt::print("FAIL {}: {}\n", p.string(), failure);
    }
  }
  fmt::print("{} passed, {} failed\n", passed, failed);
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Differential testing of weec on generated WeeNets"};
  diff::Options o;
  std::string regressions, cflags = "-O2";
  app.add_option("--seeds", o.seeds, "How many seeds")->capture_default_str();
  app.add_option("--first", o.first, "First seed")->capture_default_str();
  app.add_option("--kind", o.kind, "WeeNet kind: conv, op, chain, residual or any")->capture_default_str();
  app.add_option("--int8-every", o.int8_every, "Also check an int8 net every N seeds (0: never)")
      ->capture_default_str();
  app.add_option("--save", o.save, "Directory for shrunk failing nets (.wir)");
  app.add_option("--regressions", regressions, "Replay the .wir files of this directory instead");
  app.add_option("--cc", o.cc, "C compiler")->capture_default_str();
  app.add_option("--cflags", cflags, "Optimisation flags for the generated C (CI: -O2; campaigns: -O1)")
      ->capture_default_str();
  app.add_option("--jobs,-j", o.jobs, "Worker processes (seeds are dealt round-robin)")
      ->capture_default_str();
  app.add_option("--ort", o.ort, "ONNX Runtime comparison: auto (when installed) or off")
      ->capture_default_str();
  app.add_option("--ort-every", o.ort_every, "Compare with ORT every N seeds")->capture_default_str();
  app.add_flag("--no-shrink", o.no_shrink, "Report failures without shrinking them");
  app.add_flag("!--no-pch", o.pch, "Do not precompile <immintrin.h> for the generated C");
  CLI11_PARSE(app, argc, argv);
  std::istringstream flags(cflags);
  o.cflags.clear();
  for (std::string f; flags >> f;) o.cflags.push_back(f);
  if (!regressions.empty()) return replay(regressions, o);
  return diff::run_campaign(o);
}
