#include "bench/order-api/pg_event_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>

namespace rainbow::bench {

PgEventLoop::PgEventLoop(const std::string& dsn, int size, const std::string& name, const std::string& sql)
    : name_(name) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epfd_ < 0 || wakefd_ < 0) throw std::runtime_error("epoll or eventfd failed");
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.ptr = nullptr;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &wake) != 0) throw std::runtime_error("epoll_ctl failed");
  for (int i = 0; i < size; ++i) {
    auto c = std::make_unique<Conn>();
    c->pg = PQconnectdb(dsn.c_str());
    if (PQstatus(c->pg) != CONNECTION_OK) {
      const std::string error = PQerrorMessage(c->pg);
      PQfinish(c->pg);
      throw std::runtime_error("cannot connect: " + error);
    }
    conns_.push_back(std::move(c));
    Conn* conn = conns_.back().get();
    PGresult* r = PQprepare(conn->pg, name.c_str(), sql.c_str(), 0, nullptr);
    const bool prepared = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!prepared) throw std::runtime_error("cannot prepare: " + std::string(PQerrorMessage(conn->pg)));
    PQsetnonblocking(conn->pg, 1);
    epoll_event ev{};  // no events until a statement is sent (Arm)
    ev.data.ptr = conn;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, PQsocket(conn->pg), &ev) != 0) {
      throw std::runtime_error("epoll_ctl failed");
    }
    idle_.push_back(conn);
  }
}

PgEventLoop::~PgEventLoop() {
  Stop();
  for (auto& c : conns_) {
    if (c->last) PQclear(c->last);
    PQfinish(c->pg);
  }
  if (wakefd_ >= 0) close(wakefd_);
  if (epfd_ >= 0) close(epfd_);
}

void PgEventLoop::Start(std::function<void()> after_batch) {
  after_batch_ = std::move(after_batch);
  thread_ = std::thread([this] { Run(); });
}

void PgEventLoop::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  if (write(wakefd_, &one, sizeof(one)) != sizeof(one))
    return;  // cannot happen: the counter is far from full
  thread_.join();
  // The loop has ended: whatever is unfinished is answered here.
  for (auto& c : conns_) {
    if (c->busy) {
      c->busy = false;
      auto done = std::move(c->job.done);
      done(nullptr);
    }
  }
  std::deque<Job> waiting;
  {
    std::lock_guard lock(mu_);
    waiting.swap(waiting_);
  }
  for (auto& job : waiting) job.done(nullptr);
}

void PgEventLoop::Submit(Job job) {
  Conn* c = nullptr;
  {
    std::lock_guard lock(mu_);
    if (idle_.empty()) {
      waiting_.push_back(std::move(job));
      return;
    }
    c = idle_.back();
    idle_.pop_back();
  }
  Send(c, std::move(job));
}

// One-shot: a connection reports once per statement step, so only one thread ever handles it.
void PgEventLoop::Arm(Conn* c, uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLONESHOT;
  ev.data.ptr = c;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, PQsocket(c->pg), &ev);
}

void PgEventLoop::Send(Conn* c, Job job) {
  c->job = std::move(job);
  c->busy = true;
  std::vector<const char*> values;
  for (const auto& p : c->job.params) values.push_back(p.c_str());
  if (!PQsendQueryPrepared(c->pg, name_.c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                           nullptr, 0)) {
    Finish(c, nullptr);
    return;
  }
  Arm(c, PQflush(c->pg) == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

void PgEventLoop::Finish(Conn* c, PGresult* r) {
  c->busy = false;
  auto done = std::move(c->job.done);
  done(r);
  Job next;
  {
    std::lock_guard lock(mu_);
    if (waiting_.empty()) {
      idle_.push_back(c);
      return;
    }
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  Send(c, std::move(next));
}

void PgEventLoop::OnReady(Conn* c) {
  if (PQflush(c->pg) == 1) {  // the statement is not all sent yet
    Arm(c, EPOLLIN | EPOLLOUT);
    return;
  }
  if (!PQconsumeInput(c->pg)) {
    if (c->last) PQclear(c->last);
    c->last = nullptr;
    Finish(c, nullptr);
    return;
  }
  while (!PQisBusy(c->pg)) {
    PGresult* r = PQgetResult(c->pg);
    if (r == nullptr) {  // the statement is done: its last result is the answer
      PGresult* last = c->last;
      c->last = nullptr;
      Finish(c, last);
      return;
    }
    if (c->last) PQclear(c->last);
    c->last = r;
  }
  Arm(c, EPOLLIN);
}

void PgEventLoop::Run() {
  epoll_event events[64];
  for (;;) {
    const int n = epoll_wait(epfd_, events, 64, 20);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) return;  // Stop
      OnReady(static_cast<Conn*>(events[i].data.ptr));
    }
    if (after_batch_) after_batch_();
  }
}

}  // namespace rainbow::bench
