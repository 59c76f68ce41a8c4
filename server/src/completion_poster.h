// Posts work from threads outside the io_context (the store's writer, the blocking pool) onto
// an executor of it, and lets Server::Stop wait until no such post is still running: net::post
// may touch the io_context after the handler it queued has already run, so "every request
// answered" is not yet "safe to destroy".
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>

#include <boost/asio/post.hpp>

namespace tideline::server {

class CompletionPoster {
 public:
  // Runs `task` on `executor` (a session's strand).
  template <typename Executor>
  void Post(const Executor& executor, std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++posting_;
    }
    boost::asio::post(executor, std::move(task));
    std::lock_guard<std::mutex> lock(mu_);
    if (--posting_ == 0) idle_.notify_all();
  }

  // Counts as a Post in progress for as long as it lives. Work handed to other threads (the
  // store's writer, the blocking pool) holds one beside whatever it keeps of a session (its
  // strand executor): those must be gone before the io_context is, and Server::Stop's
  // WaitQuiet then waits for them too.
  class Hold {
   public:
    explicit Hold(CompletionPoster& poster) : poster_(poster) {
      std::lock_guard<std::mutex> lock(poster_.mu_);
      ++poster_.posting_;
    }
    ~Hold() {
      std::lock_guard<std::mutex> lock(poster_.mu_);
      if (--poster_.posting_ == 0) poster_.idle_.notify_all();
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    CompletionPoster& poster_;
  };

  // Blocks until no Post is running and no Hold lives.
  void WaitQuiet() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [this] { return posting_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  int posting_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace tideline::server
