// weec compare: are two tensor files the same within a tolerance? Used by the
// demo and the end-to-end tests to check weec's outputs against a framework's.
#include "commands.h"
#include "io/compare.h"
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
  Comparison c = compare_tensors(got, want, Tolerance{a.rtol, a.atol});
  if (c.differing == 0 && !c.mismatch.empty()) return error("{}", c.mismatch);  // dtype or shape
  fmt::print("{} vs {}: {}{}, max abs error {:.3g}; {} of {} values outside atol {:g} + rtol {:g}\n", a.got,
             a.want, dtype_name(got.dtype()), dims_str(got.dims()), c.max_abs_error, c.differing, got.numel(),
             a.atol, a.rtol);
  if (c.differing) return error("{}", c.mismatch);
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
