#pragma once

#include <libpq-fe.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rainbow::bench {

// A PostgreSQL driver with no thread per call, for the event-loop gRPC floor: `size` non-blocking
// libpq connections, each with `sql` prepared as `name`, served by one thread over epoll. Submit
// queues a job from any thread; the loop sends it on an idle connection and hands the statement's
// last result to the job's callback, on the loop thread. Benchmark use only: no reconnects.
class PgEventLoop {
 public:
  struct Job {
    std::vector<std::string> params;
    std::function<void(PGresult*)> done;  // owns the result; nullptr when the connection failed or on Stop
  };

  PgEventLoop(const std::string& dsn, int size, const std::string& name, const std::string& sql);
  ~PgEventLoop();
  PgEventLoop(const PgEventLoop&) = delete;
  PgEventLoop& operator=(const PgEventLoop&) = delete;

  // after_batch runs on the loop thread after each batch of socket events, and at least every 20 ms.
  void Start(std::function<void()> after_batch);
  void Submit(Job job);
  // Ends the loop; jobs not finished get nullptr.
  void Stop();

 private:
  struct Conn {
    PGconn* pg = nullptr;
    Job job;
    PGresult* last = nullptr;
    bool busy = false;
  };
  void Arm(Conn* c, uint32_t events);
  void Send(Conn* c, Job job);
  void Finish(Conn* c, PGresult* r);
  void OnReady(Conn* c);
  void Run();

  const std::string name_;
  int epfd_ = -1;
  int wakefd_ = -1;  // eventfd: Stop
  std::vector<std::unique_ptr<Conn>> conns_;
  std::mutex mu_;  // idle_ and waiting_
  std::vector<Conn*> idle_;
  std::deque<Job> waiting_;
  std::function<void()> after_batch_;
  std::thread thread_;
};

}  // namespace rainbow::bench
