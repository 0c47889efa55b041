// Status and Expected<T>: how library code reports failure. Nothing in src/
// exits or aborts on bad input; it returns one of these, and the CLI decides.
#pragma once

#include <fmt/format.h>

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace weec {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    return s;
  }
  bool is_ok() const { return !failed_; }
  explicit operator bool() const { return !failed_; }
  const std::string& message() const { return message_; }
  // Prefixes context ("while importing node X: ...") so errors read outside-in.
  Status with_context(const std::string& context) const {
    if (!failed_) return *this;
    return error(context + ": " + message_);
  }

 private:
  bool failed_ = false;
  std::string message_;
};

template <typename... Args>
Status error(fmt::format_string<Args...> f, Args&&... args) {
  return Status::error(fmt::format(f, std::forward<Args>(args)...));
}

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}
  Expected(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Status status() const { return has_value() ? Status::ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace weec

#define WEEC_CONCAT_INNER(a, b) a##b
#define WEEC_CONCAT(a, b) WEEC_CONCAT_INNER(a, b)

// Returns early from the enclosing function if `expr` (a Status) failed.
#define WEEC_TRY(expr)                              \
  do {                                              \
    ::weec::Status weec_status_ = (expr);           \
    if (!weec_status_.is_ok()) return weec_status_; \
  } while (0)

// `WEEC_ASSIGN_OR_RETURN(auto x, f())` unwraps an Expected or returns its error.
#define WEEC_ASSIGN_OR_RETURN(lhs, expr) \
  WEEC_ASSIGN_OR_RETURN_IMPL(WEEC_CONCAT(weec_expected_, __LINE__), lhs, expr)
#define WEEC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.has_value()) return tmp.status();       \
  lhs = std::move(tmp).value()
