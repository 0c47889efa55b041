#include "campaign.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "ir/printer.h"
#include "weenet/weenet.h"

namespace weec::diff {

namespace {

struct Totals {
  int64_t passed = 0, failed = 0, ort_agreed = 0, ort_unsupported = 0, ill_conditioned = 0;
  std::map<std::string, int64_t> unsupported;  // ORT's reason -> count

  void add(const Totals& t) {
    passed += t.passed, failed += t.failed, ort_agreed += t.ort_agreed, ort_unsupported += t.ort_unsupported;
    ill_conditioned += t.ill_conditioned;
    for (auto& [why, n] : t.unsupported) unsupported[why] += n;
  }
};

// ORT's message without what names one node ("Name:'Conv3'", "node with
// name 'n3'"), so one reason is counted once however many nodes hit it.
std::string reason_key(const std::string& why) {
  std::string key;
  for (size_t i = 0; i < why.size() && why[i] != '\n'; ++i) {
    key += why[i];
    if (why[i] == '\'') {
      const size_t end = why.find('\'', i + 1);
      if (end == std::string::npos) break;
      key += "...'", i = end;
    }
  }
  return key;
}

void run_seed(uint64_t seed, bool int8, weenet::Kind kind, const Options& o, OrtServer* ort, Totals& t) {
  weenet::Spec spec;
  spec.kind = kind;
  spec.int8 = int8;
  auto net = weenet::generate(seed, spec);
  if (!net) {
    fmt::print("FAIL generate seed {}: {}\n", seed, net.status().message());
    ++t.failed;
    return;
  }
  Case c = make_case(o, o.ort_every > 0 && seed % static_cast<uint64_t>(o.ort_every) == 0 ? ort : nullptr);
  c.graph = net->graph.get();
  c.feeds = net->feeds;
  c.calib = net->calib;
  OrtOutcome oo;
  std::string f = check(c, &oo);
  t.ort_agreed += oo.agreed, t.ort_unsupported += oo.unsupported, t.ill_conditioned += oo.ill_conditioned;
  if (oo.ill_conditioned)
    fmt::print("ILL-CONDITIONED seed {}{}: {} missed its tolerance by no more than rounding explains\n", seed,
               int8 ? " (int8)" : "", oo.ill_check);
  if (oo.unsupported) t.unsupported[reason_key(oo.reason)] += oo.unsupported;
  if (f.empty()) {
    ++t.passed;
    return;
  }
  ++t.failed;
  std::string report = fmt::format("FAIL {}\n  {}\n", weenet::describe(seed, *net), f);
  if (!o.no_shrink) {
    std::unique_ptr<Graph> g = std::move(net->graph);
    c.graph = g.get();
    f = shrink(g, c);
    report += fmt::format("  shrunk to {} nodes: {}\n", g->nodes().size(), f);
    if (!o.save.empty()) {
      std::filesystem::create_directories(o.save);
      const std::string path = fmt::format("{}/seed{}{}.wir", o.save, seed, int8 ? "_int8" : "");
      std::string header;  // every line of the failure commented: the replay skips "#" lines
      for (size_t at = 0; at < f.size();) {
        const size_t nl = std::min(f.find('\n', at), f.size());
        header += "# " + f.substr(at, nl - at) + "\n";
        at = nl + 1;
      }
      std::ofstream(path) << header << print_graph(*g);
      report += fmt::format("  saved {}\n", path);
    }
  }
  fmt::print("{}", report);  // one write per failure: workers share stdout
  std::fflush(stdout);
}

// Seeds first + worker, first + worker + jobs, ...
Totals run_worker(const Options& o, weenet::Kind kind, int worker) {
  std::string why;
  auto ort = start_ort(o, why);
  Totals t;
  for (uint64_t seed = o.first + static_cast<uint64_t>(worker); seed < o.first + o.seeds;
       seed += static_cast<uint64_t>(o.jobs))
    for (bool int8 : {false, true})
      if (!int8 || (o.int8_every > 0 && seed % static_cast<uint64_t>(o.int8_every) == 0))
        run_seed(seed, int8, kind, o, ort.get(), t);
  return t;
}

// Totals as lines through a pipe from a worker process to the parent.
void write_totals(FILE* f, const Totals& t) {
  fmt::print(f, "{} {} {} {} {}\n", t.passed, t.failed, t.ort_agreed, t.ort_unsupported, t.ill_conditioned);
  for (auto& [why, n] : t.unsupported) fmt::print(f, "{} {}\n", n, why);
}

Totals read_totals(FILE* f) {
  Totals t;
  long long a = 0, b = 0, c = 0, d = 0, e = 0;
  if (std::fscanf(f, "%lld %lld %lld %lld %lld\n", &a, &b, &c, &d, &e) != 5)
    return t.failed = 1, t;  // the worker died
  t.passed = a, t.failed = b, t.ort_agreed = c, t.ort_unsupported = d, t.ill_conditioned = e;
  char line[4096];
  while (std::fgets(line, sizeof line, f)) {
    char* rest = nullptr;
    const long long n = std::strtoll(line, &rest, 10);
    std::string why = rest && *rest ? rest + 1 : "";
    if (!why.empty() && why.back() == '\n') why.pop_back();
    if (n > 0 && !why.empty()) t.unsupported[why] += n;  // skips a blank line
  }
  return t;
}

}  // namespace

Pch::Pch(Options& o) {
  char tmpl[] = "/tmp/weec-pch-XXXXXX";
  if (!o.pch || !mkdtemp(tmpl)) return;
  dir_ = tmpl;
  const std::string h = dir_ + "/pch.h";
  std::ofstream(h) << "#include <immintrin.h>\n";
  const std::string cmd =
      fmt::format("{} -std=c99 -Wall -Wextra -Werror -pedantic {} -x c-header {} -o {}.gch 2>/dev/null", o.cc,
                  fmt::join(o.cflags, " "), h, h);
  if (std::system(cmd.c_str()) == 0) o.cflags.insert(o.cflags.end(), {"-include", h});
}

Pch::~Pch() {
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::unique_ptr<OrtServer> start_ort(const Options& o, std::string& why) {
  if (o.ort == "off") return why = "--ort off", nullptr;
  return OrtServer::start(WEEC_SOURCE_DIR, why);
}

Case make_case(const Options& o, OrtServer* ort) {
  Case c;
  c.cc = o.cc;
  c.cflags = o.cflags;
  c.ort = ort;
  return c;
}

int run_campaign(Options o) {
  auto kind = weenet::parse_kind(o.kind);
  if (!kind) {
    fmt::print(stderr, "{}\n", kind.status().message());
    return 2;
  }
  {
    std::string why;
    auto ort = start_ort(o, why);
    fmt::print("{}\n",
               ort ? fmt::format("ORT: onnxruntime-node {}", ort->version()) : "ORT: skipped (" + why + ")");
  }
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::string> cflags = o.cflags;  // as given, for the summary
  Pch pch(o);
  std::fflush(stdout);
  Totals total;
  if (o.jobs <= 1) {
    total = run_worker(o, *kind, 0);
  } else {
    std::vector<std::pair<pid_t, FILE*>> workers;
    for (int w = 0; w < o.jobs; ++w) {
      int fd[2];
      if (pipe(fd) != 0) return 2;
      const pid_t pid = fork();
      if (pid == 0) {
        close(fd[0]);
        FILE* out = fdopen(fd[1], "w");
        write_totals(out, run_worker(o, *kind, w));
        std::fclose(out);
        std::fflush(stdout);
        _exit(0);
      }
      close(fd[1]);
      workers.push_back({pid, fdopen(fd[0], "r")});
    }
    for (auto& [pid, f] : workers) {
      total.add(read_totals(f));
      std::fclose(f);
      waitpid(pid, nullptr, 0);
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{} seeds from {} in {:.1f} s ({:.3f} s/seed, {} jobs, generated C {})\n", o.seeds, o.first, s,
             s / static_cast<double>(std::max<uint64_t>(o.seeds, 1)), o.jobs, fmt::join(cflags, " "));
  fmt::print("ORT: {} agreed, {} not compared (unsupported by ORT, or a known ORT deviation)\n",
             total.ort_agreed, total.ort_unsupported);
  for (auto& [why, n] : total.unsupported) fmt::print("  ORT x{}: {}\n", n, why);
  if (total.ill_conditioned)
    fmt::print(
        "ill-conditioned (a gap within what f32 rounding explains: the C agreed with ORT, ORT was "
        "further from f64 than the interpreter, or the gap was within {}x the rounding spread): {}\n",
        kSpreadFactor, total.ill_conditioned);
  fmt::print("{} passed, {} failed\n", total.passed, total.failed);
  return total.failed ? 1 : 0;
}

}  // namespace weec::diff
