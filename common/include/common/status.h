// Status and Result<T>: the one error vocabulary at tideline's module boundaries.
//
// A Status is a code, a human-readable message and whether retrying the same call may succeed.
// Exceptions are reserved for start-up failures and bugs; everything a caller can react to
// travels as a Status.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tideline {

enum class StatusCode {
  kOk = 0,
  kNotFound,         // stream, shard or checkpoint does not exist
  kAlreadyExists,    // creating something that exists
  kResourceInUse,    // the resource is busy in a state that forbids the call
  kInvalidArgument,  // the caller sent something that can never succeed as sent
  kLimitExceeded,    // a configured limit would be exceeded
  kExpired,          // an iterator or token is too old
  kIOError,          // the disk said no; sticky on the write path
  kCorruption,       // stored bytes do not decode
  kUnavailable,      // shutting down or temporarily refusing work
  kThrottled,        // over a throughput or in-flight budget now; the same call may pass later
  kInternal,         // a bug: an invariant did not hold
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, bool retryable = false)
      : code_(code), retryable_(retryable), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status ResourceInUse(std::string m) { return {StatusCode::kResourceInUse, std::move(m)}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status LimitExceeded(std::string m) { return {StatusCode::kLimitExceeded, std::move(m)}; }
  static Status Expired(std::string m) { return {StatusCode::kExpired, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Unavailable(std::string m) {
    return {StatusCode::kUnavailable, std::move(m), true};
  }
  static Status Throttled(std::string m) { return {StatusCode::kThrottled, std::move(m), true}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  bool retryable() const { return retryable_; }
  const std::string& message() const { return message_; }
  // "NotFound: stream foo not found"; "OK" for success.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  bool retryable_ = false;
  std::string message_;
};

// A value or the Status explaining why there is none. Result<T> is never constructed from an
// OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tideline

// Returns early with the Status of `expr` when it is not OK.
#define TL_RETURN_IF_ERROR(expr)     \
  do {                               \
    ::tideline::Status _st = (expr); \
    if (!_st.ok()) return _st;       \
  } while (0)
