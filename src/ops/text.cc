// Text ops: StringNormalizer and TfIdfVectorizer.
//
// StringNormalizer removes stop words from a [C] or [1, C] string tensor, then
// lower/upper-cases what is left. Case mapping and case-insensitive matching
// are ASCII-only (other bytes, e.g. UTF-8 sequences, are left as they are);
// `locale` is accepted and ignored. If every element is removed the output is
// a single "" of shape [1] (or [1, 1] for [1, C] input), as the spec says.
//
// TfIdfVectorizer counts pool n-grams (with up to max_skip_count skipped items
// between consecutive members) in each row of a 1-D or 2-D int32/int64/string
// tensor. The counting follows ONNX Runtime: unigrams are counted once, longer
// n-grams once per skip distance 1..max_skip_count+1. `weights` is indexed by
// output coordinate, as ONNX Runtime and the ONNX reference do.
#include <algorithm>
#include <map>
#include <set>

#include "ops/op_util.h"

namespace weec {

namespace {

// ---- StringNormalizer ----

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return s;
}

std::string ascii_upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  return s;
}

Status check_case_action(const NodeContext& ctx) {
  const std::string& a = ctx.attrs.s("case_change_action");
  if (a != "NONE" && a != "LOWER" && a != "UPPER")
    return ctx.error("case_change_action must be NONE, LOWER or UPPER, got '{}'", a);
  return Status::ok();
}

Status strnorm_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::String) return ctx.error("input must be a string tensor");
  if (!(x.rank() == 1 || (x.rank() == 2 && x.dim(0) == 1)))
    return ctx.error("input must have shape [C] or [1, C], got {}", dims_str(x.dims()));
  WEEC_TRY(check_case_action(ctx));
  const std::string& action = ctx.attrs.s("case_change_action");
  const bool sensitive = ctx.attrs.i("is_case_sensitive") != 0;
  std::set<std::string> stop;
  for (const std::string& w : ctx.attrs.strings("stopwords")) stop.insert(sensitive ? w : ascii_lower(w));
  std::vector<std::string> kept;
  for (const std::string& s : x.strings()) {
    if (stop.count(sensitive ? s : ascii_lower(s))) continue;
    kept.push_back(action == "LOWER" ? ascii_lower(s) : action == "UPPER" ? ascii_upper(s) : s);
  }
  if (kept.empty() && x.numel() > 0) kept.push_back("");  // everything removed: one empty string
  Dims dims = x.dims();
  dims.back() = (int64_t)kept.size();
  Tensor y(DType::String, dims);
  y.strings() = std::move(kept);
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

Status infer_strnorm(InferContext& ctx) {
  const TensorType& t = ctx.input_type(0);
  if (t.dtype != DType::String) return ctx.error("input must be a string tensor");
  WEEC_TRY(check_case_action(ctx));
  Shape s = t.shape;
  if (s.rank_known) {
    if (s.rank() != 1 && s.rank() != 2) return ctx.error("input must have shape [C] or [1, C]");
    if (s.rank() == 2) {
      if (s.dims[0].is_known() && s.dims[0].value != 1)
        return ctx.error("input must have shape [C] or [1, C]");
      s.dims[0] = Dim::known(1);
    }
    // Without stop words nothing is removed (a [0] input stays [0]).
    if (!ctx.attrs.strings("stopwords").empty()) s.dims.back() = Dim::unknown();
  }
  ctx.outputs[0] = TensorType{DType::String, s};
  return Status::ok();
}

// ---- TfIdfVectorizer ----

enum class Weighting { TF, IDF, TFIDF };

// The pool as one map per n-gram length: n-gram -> output coordinate.
template <typename K>
using Pool = std::vector<std::map<std::vector<K>, int64_t>>;

struct TfIdfConfig {
  Weighting mode;
  int64_t min_n, max_n, max_skip, out_size;
  std::vector<float> weights;
};

Expected<TfIdfConfig> tfidf_config(const NodeContext& ctx) {
  TfIdfConfig c;
  const std::string& m = ctx.attrs.s("mode");
  if (m == "TF")
    c.mode = Weighting::TF;
  else if (m == "IDF")
    c.mode = Weighting::IDF;
  else if (m == "TFIDF")
    c.mode = Weighting::TFIDF;
  else
    return ctx.error("mode must be TF, IDF or TFIDF, got '{}'", m);
  c.min_n = ctx.attrs.i("min_gram_length");
  c.max_n = ctx.attrs.i("max_gram_length");
  c.max_skip = ctx.attrs.i("max_skip_count");
  if (c.min_n < 1 || c.max_n < c.min_n)
    return ctx.error("need 1 <= min_gram_length ({}) <= max_gram_length ({})", c.min_n, c.max_n);
  if (c.max_skip < 0) return ctx.error("max_skip_count must be >= 0");
  const auto& idx = ctx.attrs.ints("ngram_indexes");
  if (idx.empty()) return ctx.error("ngram_indexes is empty");
  for (int64_t i : idx)
    if (i < 0) return ctx.error("ngram_indexes must be >= 0");
  c.out_size = *std::max_element(idx.begin(), idx.end()) + 1;
  c.weights = ctx.attrs.floats("weights");
  if (!c.weights.empty() && (int64_t)c.weights.size() < c.out_size)
    return ctx.error("weights has {} entries for {} outputs", c.weights.size(), c.out_size);
  const bool has_ints = ctx.attrs.has("pool_int64s"), has_strings = ctx.attrs.has("pool_strings");
  if (has_ints == has_strings) return ctx.error("exactly one of pool_int64s and pool_strings must be set");
  return c;
}

template <typename K>
Expected<Pool<K>> build_pool(const NodeContext& ctx, const std::vector<K>& pool, int64_t max_n) {
  const auto& counts = ctx.attrs.ints("ngram_counts");
  const auto& idx = ctx.attrs.ints("ngram_indexes");
  Pool<K> maps(max_n + 1);
  size_t id = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const int64_t n = (int64_t)i + 1;
    const int64_t start = counts[i], end = i + 1 < counts.size() ? counts[i + 1] : (int64_t)pool.size();
    if (start < 0 || end < start || end > (int64_t)pool.size() || (end - start) % n != 0)
      return ctx.error("ngram_counts {} does not split the pool into whole {}-grams", fmt::join(counts, ","),
                       n);
    for (int64_t p = start; p < end; p += n, ++id) {
      if (id >= idx.size()) return ctx.error("ngram_indexes has fewer entries than the pool has n-grams");
      if (n <= max_n) maps[n].emplace(std::vector<K>(pool.begin() + p, pool.begin() + p + n), idx[id]);
    }
  }
  return maps;
}

// Adds the n-gram counts of one row (x[0..len)) to counts[0..out_size).
template <typename K, typename Get>
void count_row(const Pool<K>& maps, const TfIdfConfig& c, int64_t len, Get get, uint32_t* counts) {
  int64_t start_n = c.min_n;
  std::vector<K> key;
  for (int64_t d = 1; d <= c.max_skip + 1; ++d) {
    for (int64_t s = 0; s < len; ++s) {
      if (s + d * (start_n - 1) >= len) break;  // no n-gram of a counted size fits any more
      key.clear();
      for (int64_t n = 1, pos = s; n <= c.max_n && pos < len; ++n, pos += d) {
        key.push_back(get(pos));
        if (n < start_n) continue;
        auto it = maps[n].find(key);
        if (it != maps[n].end()) ++counts[it->second];
      }
    }
    // Unigrams do not depend on the skip distance: count them only once.
    if (start_n == 1 && ++start_n > c.max_n) break;
  }
}

Status tfidf_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  WEEC_ASSIGN_OR_RETURN(TfIdfConfig c, tfidf_config(ctx));
  if (x.rank() > 2) return ctx.error("input must be 1-D or 2-D, got {}", dims_str(x.dims()));
  const int64_t rows = x.rank() == 2 ? x.dim(0) : 1, len = x.rank() == 0 ? 1 : x.dims().back();
  std::vector<uint32_t> counts(rows * c.out_size, 0);
  if (x.dtype() == DType::String) {
    if (!ctx.attrs.has("pool_strings")) return ctx.error("string input needs pool_strings");
    WEEC_ASSIGN_OR_RETURN(auto maps,
                          build_pool<std::string>(ctx, ctx.attrs.strings("pool_strings"), c.max_n));
    const auto& xs = x.strings();
    for (int64_t r = 0; r < rows; ++r)
      count_row<std::string>(
          maps, c, len, [&](int64_t i) { return xs[r * len + i]; }, &counts[r * c.out_size]);
  } else if (x.dtype() == DType::I32 || x.dtype() == DType::I64) {
    if (!ctx.attrs.has("pool_int64s")) return ctx.error("integer input needs pool_int64s");
    WEEC_ASSIGN_OR_RETURN(auto maps, build_pool<int64_t>(ctx, ctx.attrs.ints("pool_int64s"), c.max_n));
    for (int64_t r = 0; r < rows; ++r)
      count_row<int64_t>(
          maps, c, len, [&](int64_t i) { return x.get_int(r * len + i); }, &counts[r * c.out_size]);
  } else {
    return ctx.error("input must be int32, int64 or string, got {}", dtype_name(x.dtype()));
  }
  Tensor y(DType::F32, x.rank() == 2 ? Dims{rows, c.out_size} : Dims{c.out_size});
  float* py = y.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < c.out_size; ++i) {
      const uint32_t f = counts[r * c.out_size + i];
      const bool w = !c.weights.empty();
      float v = (float)f;
      if (c.mode == Weighting::IDF)
        v = f > 0 ? (w ? c.weights[i] : 1.f) : 0.f;
      else if (c.mode == Weighting::TFIDF && w)
        v = (float)f * c.weights[i];
      py[r * c.out_size + i] = v;
    }
  ctx.outputs[0] = std::move(y);
  return Status::ok();
}

Status infer_tfidf(InferContext& ctx) {
  WEEC_ASSIGN_OR_RETURN(TfIdfConfig c, tfidf_config(ctx));
  const TensorType& t = ctx.input_type(0);
  if (t.dtype != DType::String && t.dtype != DType::I32 && t.dtype != DType::I64)
    return ctx.error("input must be int32, int64 or string, got {}", dtype_name(t.dtype));
  if ((t.dtype == DType::String) != ctx.attrs.has("pool_strings"))
    return ctx.error("pool_strings goes with string input, pool_int64s with integer input");
  Shape s = Shape::unknown_rank();
  if (t.shape.rank_known) {
    if (t.shape.rank() > 2) return ctx.error("input must be 1-D or 2-D");
    s = t.shape.rank() == 2 ? Shape::of_rank(2) : Shape::of_rank(1);
    if (t.shape.rank() == 2) s.dims[0] = t.shape.dims[0];
    s.dims.back() = Dim::known(c.out_size);
  }
  ctx.outputs[0] = TensorType{DType::F32, s};
  return Status::ok();
}

}  // namespace

const OpSchema& schema_StringNormalizer() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::StringNormalizer, "StringNormalizer"};
    m.since_opset = 10;
    m.attrs = {attr_string("case_change_action", "NONE"), attr_int("is_case_sensitive", 0),
               attr_optional("stopwords", Attribute::Kind::Strings),
               attr_optional("locale", Attribute::Kind::String)};
    m.infer = infer_strnorm;
    m.kernel = strnorm_kernel;
    m.doc = "removes stop words from [C] or [1, C] strings and changes case (ASCII)";
    return m;
  }();
  return s;
}

const OpSchema& schema_TfIdfVectorizer() {
  static const OpSchema s = [] {
    OpSchema m{OpKind::TfIdfVectorizer, "TfIdfVectorizer"};
    m.since_opset = 9;
    m.attrs = {attr_required("max_gram_length", Attribute::Kind::Int),
               attr_required("min_gram_length", Attribute::Kind::Int),
               attr_required("max_skip_count", Attribute::Kind::Int),
               attr_required("mode", Attribute::Kind::String),
               attr_required("ngram_counts", Attribute::Kind::Ints),
               attr_required("ngram_indexes", Attribute::Kind::Ints),
               attr_optional("pool_int64s", Attribute::Kind::Ints),
               attr_optional("pool_strings", Attribute::Kind::Strings),
               attr_optional("weights", Attribute::Kind::Floats)};
    m.infer = infer_tfidf;
    m.kernel = tfidf_kernel;
    m.doc = "n-gram (with skips) counts of 1-D/2-D int or string input as TF, IDF or TF-IDF floats";
    return m;
  }();
  return s;
}

}  // namespace weec
