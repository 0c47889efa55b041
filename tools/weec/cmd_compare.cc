// weec compare: are two tensor files the same within a tolerance? Used by the
// demo and the end-to-end tests to check weec's outputs against a framework's.
#include <cmath>

#include "commands.h"
#include "io/tensor_file.h"

namespace weec::cli {

namespace {

struct CompareArgs {
  std::string got, want;
  double rtol = 0, atol = 1e-5;
};

Status compare(const CompareArgs& a) {
  WEEC_ASSIGN_OR_RETURN(Tensor got, read_tensor_file(a.got));
  WEEC_ASSIGN_OR_RETURN(Tensor want, read_tensor_file(a.want));
  if (got.dtype() != want.dtype())
    return error("dtype {} != {}", dtype_name(got.dtype()), dtype_name(want.dtype()));
  if (got.dims() != want.dims()) return error("shape {} != {}", dims_str(got.dims()), dims_str(want.dims()));
  double max_abs = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double g = got.get_double(i), w = want.get_double(i);
    if (std::isnan(g) && std::isnan(w)) continue;
    double err = std::fabs(g - w);
    if (std::isnan(err)) err = INFINITY;
    max_abs = std::max(max_abs, err);
    if (!(err <= a.atol + a.rtol * std::fabs(w))) ++bad;
  }
  fmt::print("{} vs {}: {}{}, max abs error {:.3g}; {} of {} values outside atol {:g} + rtol {:g}\n", a.got,
             a.want, dtype_name(got.dtype()), dims_str(got.dims()), max_abs, bad, got.numel(), a.atol,
             a.rtol);
  if (bad) return error("{} values differ beyond the tolerance", bad);
  fmt::print("OK\n");
  return Status::ok();
}

}  // namespace

Runner add_compare(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  app.add_option("got", a->got, "Tensor file (.npy or .pb)")->required();
  app.add_option("want", a->want, "Reference tensor file (.npy or .pb)")->required();
  app.add_option("--atol", a->atol, "Absolute tolerance")->capture_default_str();
  app.add_option("--rtol", a->rtol, "Relative tolerance")->capture_default_str();
  return [a] { return compare(*a); };
}

}  // namespace weec::cli
