// weec_differential: WeeNets from consecutive seeds through every
// comparison of differential.h; a failure is shrunk and saved as text IR.
// Also replays saved regressions (--regressions DIR: each .wir file, with
// int8 checks when its name contains "int8").
//
//   weec_differential --seeds 500 [--first 0] [--kind any] [--save DIR]
//   weec_differential --regressions tests/differential/regressions
//
// Prints one line per failure and ends with "N passed, N failed".
#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "differential.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ops/registry.h"
#include "weenet/weenet.h"

namespace {

using namespace weec;

std::vector<Tensor> random_inputs(const Graph& g, std::mt19937& rng) {
  std::vector<Tensor> v;
  for (const Value* in : g.inputs) v.push_back(diff::random_input(in->type.shape.static_dims(), rng));
  return v;
}

int replay(const std::string& dir, const std::string& cc) {
  int passed = 0, failed = 0;
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".wir") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (auto& p : files) {
    // Leading "#" lines say what the file is (the text IR has no comments).
    std::ifstream f(p);
    std::string line, text;
    while (std::getline(f, line))
      if (line.rfind('#', 0) != 0) text += line + "\n";
    auto g = parse_graph(text);
    if (!g) {
      fmt::print("FAIL {}: {}\n", p.string(), g.status().message());
      ++failed;
      continue;
    }
    if (Status st = infer_graph(**g); !st) {
      fmt::print("FAIL {}: {}\n", p.string(), st.message());
      ++failed;
      continue;
    }
    std::mt19937 rng(7);
    diff::Case c;
    c.graph = g->get();
    c.cc = cc;
    c.feeds = random_inputs(**g, rng);
    if (p.filename().string().find("int8") != std::string::npos)
      for (int i = 0; i < 16; ++i) c.calib.push_back(random_inputs(**g, rng));
    const std::string f2 = diff::check(c);
    if (f2.empty()) {
      ++passed;
    } else {
      ++failed;
      fmt::print("FAIL {}: {}\n", p.string(), f2);
    }
  }
  fmt::print("{} passed, {} failed\n", passed, failed);
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Differential testing of weec on generated WeeNets"};
  uint64_t seeds = 500, first = 0;
  std::string kind = "any", save, regressions, cc = "cc";
  int int8_every = 2;
  app.add_option("--seeds", seeds, "How many seeds")->capture_default_str();
  app.add_option("--first", first, "First seed")->capture_default_str();
  app.add_option("--kind", kind, "WeeNet kind: conv, op, chain, residual or any")->capture_default_str();
  app.add_option("--int8-every", int8_every, "Also check an int8 net every N seeds (0: never)")
      ->capture_default_str();
  app.add_option("--save", save, "Directory for shrunk failing nets (.wir)");
  app.add_option("--regressions", regressions, "Replay the .wir files of this directory instead");
  app.add_option("--cc", cc, "C compiler")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!regressions.empty()) return replay(regressions, cc);
  auto k = weenet::parse_kind(kind);
  if (!k) {
    fmt::print(stderr, "{}\n", k.status().message());
    return 2;
  }
  int passed = 0, failed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t seed = first; seed < first + seeds; ++seed)
    for (bool int8 : {false, true}) {
      if (int8 && (int8_every <= 0 || seed % static_cast<uint64_t>(int8_every) != 0)) continue;
      weenet::Spec spec;
      spec.kind = *k;
      spec.int8 = int8;
      auto net = weenet::generate(seed, spec);
      if (!net) {
        fmt::print("FAIL generate seed {}: {}\n", seed, net.status().message());
        ++failed;
        continue;
      }
      diff::Case c;
      c.graph = net->graph.get();
      c.feeds = net->feeds;
      c.calib = net->calib;
      c.cc = cc;
      std::string f = diff::check(c);
      if (f.empty()) {
        ++passed;
        continue;
      }
      ++failed;
      fmt::print("FAIL {}\n  {}\n", weenet::describe(seed, *net), f);
      std::unique_ptr<Graph> g = std::move(net->graph);
      c.graph = g.get();
      f = diff::shrink(g, c);
      fmt::print("  shrunk to {} nodes: {}\n", g->nodes().size(), f);
      if (!save.empty()) {
        std::filesystem::create_directories(save);
        const std::string path = fmt::format("{}/seed{}{}.wir", save, seed, int8 ? "_int8" : "");
        std::ofstream(path) << "# " << f << "\n" << print_graph(*g);
        fmt::print("  saved {}\n", path);
      }
    }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{} seeds from {} in {:.1f} s\n", seeds, first, s);
  fmt::print("{} passed, {} failed\n", passed, failed);
  return failed ? 1 : 0;
}
