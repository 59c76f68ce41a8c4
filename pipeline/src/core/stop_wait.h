// Waiting that a stop request ends early: the pipeline's pauses between retries and polls.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>

namespace tideline::pipeline {

// Waits `d` unless stop is requested first; false when stopping.
inline bool WaitUnlessStopped(std::stop_token stop, std::chrono::milliseconds d) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(m);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace tideline::pipeline
