#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/pg/timeouts.hpp"

namespace rainbow::pg {

// PostgreSQL with no thread waiting per statement: `size` non-blocking libpq connections, each with
// `statements` prepared, served by one thread over epoll. Submit queues a job from any thread; the
// loop sends it on an idle connection and hands the statement's last result to the job's callback,
// on the loop thread (so callbacks must not block).
//
// Connections are opened, and reopened after a failure, by a repair thread of their own, so the loop
// never blocks on a connect. While no connection is up, Submit refuses jobs: the caller runs them its
// blocking way instead.
class EventLoop {
 public:
  // result: owned by the callback; null when the statement's outcome is unknown (the connection failed
  // once it was sent, or Stop came first). sent: false when the statement never reached the server
  // (no connection was left, Stop came first, or its deadline passed while queued): it may run
  // elsewhere.
  using Done = std::function<void(PGresult* result, bool sent)>;
  struct Job {
    std::string statement;
    std::vector<std::string> params;
    Done done;
    // A job still queued at its deadline is not sent (its caller gave up on it): done(null, false).
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  };
  struct Stats {
    int size = 0;
    int up = 0;       // connected and prepared
    int busy = 0;     // running a statement
    int waiting = 0;  // jobs queued for a connection
  };

  // timeouts: of every connection (a connect bounds how long Stop waits for a reconnect in progress);
  // a statement unanswered for timeouts.ResponseTimeout() fails its connection: (null, sent).
  // fallback_application_name: what pg_stat_activity shows for these connections unless the DSN says.
  EventLoop(std::string dsn, int size, std::map<std::string, std::string> statements,
            std::string fallback_application_name, Timeouts timeouts = {});
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // after_batch runs on the loop thread after each batch of socket events, and at least every 20 ms.
  void Start(std::function<void()> after_batch);
  // False (the job untouched) when no connection is up.
  bool Submit(Job& job);
  // Ends the loop: busy jobs get (null, sent), queued ones (null, not sent). Idempotent.
  void Stop();
  Stats stats() const;

 private:
  struct Conn {
    PGconn* pg = nullptr;
    Job job;
    PGresult* last = nullptr;
    bool busy = false;
    bool watched = false;  // its socket is in the epoll set (from its first statement on)
    // When its statement's answer is due (set before the socket is armed, so the loop thread only sees
    // it on a connection that is its own); max() while idle or without a response timeout.
    std::atomic<std::chrono::steady_clock::time_point> answer_due{
        std::chrono::steady_clock::time_point::max()};
  };
  // False (logged) when epoll refuses: the caller fails the connection.
  bool Arm(Conn* c, uint32_t events);
  void Send(Conn* c, Job job);
  // Hands `r` to the job and the connection to the next job (or back to idle).
  void Finish(Conn* c, PGresult* r);
  // The connection failed: its job gets (null, sent) and it goes to the repair thread.
  void Fail(Conn* c, bool sent);
  void OnReady(Conn* c);
  // Fails the connections whose answer is overdue (a frozen server): loop thread only.
  void FailOverdue();
  void Run();
  void Repair();
  // Opens c->pg and prepares the statements; false (logged) on failure.
  bool Connect(Conn* c);

  const std::string dsn_;
  const std::map<std::string, std::string> statements_;
  const std::string application_name_;
  const Timeouts timeouts_;
  int epfd_ = -1;
  int wakefd_ = -1;  // eventfd: Stop
  std::vector<std::unique_ptr<Conn>> conns_;

  mutable std::mutex mu_;  // everything below
  std::condition_variable repair_cv_;
  std::vector<Conn*> idle_;
  std::deque<Job> waiting_;
  std::vector<Conn*> broken_;
  int up_ = 0;
  bool stopping_ = false;

  std::function<void()> after_batch_;
  std::thread thread_;
  std::thread repairer_;
};

}  // namespace rainbow::pg
