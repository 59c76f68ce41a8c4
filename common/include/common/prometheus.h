// Prometheus text exposition format (version 0.0.4), written by every module's metrics: one
// writer so that families, labels and escaping are spelled the same way everywhere.
//
//   PrometheusWriter w;
//   w.Counter("tideline_records_put_total", "Records acknowledged.", 42);
//   w.Family("tideline_api_requests_total", "counter", "API requests.");
//   w.Sample("tideline_api_requests_total", {{"operation", "PutRecord"}}, 7);
//   std::string text = w.Take();
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tideline {

class PrometheusWriter {
 public:
  using Label = std::pair<std::string_view, std::string_view>;

  // Starts a family: its # HELP (when `help` is not empty) and # TYPE lines. `type` is
  // counter, gauge, histogram or summary.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One sample line. Label values are escaped (\\, \", \n) as the format requires.
  void Sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value);
  void Sample(std::string_view name, std::initializer_list<Label> labels, double value);
  // A family of one unlabelled sample.
  void Counter(std::string_view name, std::string_view help, uint64_t value);
  void Gauge(std::string_view name, std::string_view help, uint64_t value);

  // Appends text written elsewhere in the same format.
  void Append(std::string_view text) { out_.append(text); }
  // The text written so far; the writer is empty afterwards.
  std::string Take() { return std::exchange(out_, {}); }

 private:
  void Labels(std::initializer_list<Label> labels);
  std::string out_;
};

}  // namespace tideline
