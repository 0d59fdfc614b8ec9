#include "common/pg/event_loop.hpp"

#include "common/pg/connection.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "common/logging/log.hpp"

namespace rainbow::pg {
namespace {

std::string LastError(const PGconn* pg) {
  std::string error = PQerrorMessage(pg);
  while (!error.empty() && error.back() == '\n') error.pop_back();
  return error;
}

}  // namespace

EventLoop::EventLoop(std::string dsn, int size, std::map<std::string, std::string> statements,
                     std::string fallback_application_name, Timeouts timeouts)
    : dsn_(std::move(dsn)),
      statements_(std::move(statements)),
      application_name_(std::move(fallback_application_name)),
      timeouts_(timeouts) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epfd_ < 0 || wakefd_ < 0) throw std::runtime_error("pg event loop: epoll or eventfd failed");
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.ptr = nullptr;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &wake) != 0) {
    throw std::runtime_error("pg event loop: epoll_ctl failed");
  }
  // Every connection starts out broken: the repair thread opens them, so a database that is not up
  // yet delays nothing here.
  for (int i = 0; i < size; ++i) {
    conns_.push_back(std::make_unique<Conn>());
    broken_.push_back(conns_.back().get());
  }
  repairer_ = std::thread([this] { Repair(); });
}

EventLoop::~EventLoop() {
  Stop();
  for (auto& c : conns_) {
    if (c->last) PQclear(c->last);
    if (c->pg) PQfinish(c->pg);
  }
  if (wakefd_ >= 0) close(wakefd_);
  if (epfd_ >= 0) close(epfd_);
}

void EventLoop::Start(std::function<void()> after_batch) {
  after_batch_ = std::move(after_batch);
  thread_ = std::thread([this] { Run(); });
}

void EventLoop::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  repair_cv_.notify_all();
  const uint64_t one = 1;
  if (write(wakefd_, &one, sizeof(one)) != sizeof(one)) {
    log::Error("pg event loop: cannot wake the loop", {});  // cannot happen: the counter is far from full
  }
  if (thread_.joinable()) thread_.join();
  if (repairer_.joinable()) repairer_.join();
  // Both threads have ended: whatever is unfinished is answered here.
  for (auto& c : conns_) {
    if (c->busy) {
      c->busy = false;
      auto done = std::move(c->job.done);
      done(nullptr, true);
    }
  }
  std::deque<Job> waiting;
  {
    std::lock_guard lock(mu_);
    waiting.swap(waiting_);
  }
  for (auto& job : waiting) job.done(nullptr, false);
}

EventLoop::Stats EventLoop::stats() const {
  std::lock_guard lock(mu_);
  return {static_cast<int>(conns_.size()), up_, up_ - static_cast<int>(idle_.size()),
          static_cast<int>(waiting_.size())};
}

bool EventLoop::Submit(Job& job) {
  Conn* c = nullptr;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || up_ == 0) return false;
    if (idle_.empty()) {
      waiting_.push_back(std::move(job));
      return true;
    }
    c = idle_.back();
    idle_.pop_back();
  }
  Send(c, std::move(job));
  return true;
}

// One-shot: a connection reports once per statement step, so only one thread ever handles it. A
// socket joins the epoll set with its first statement, not when connected: epoll always reports
// EPOLLERR and EPOLLHUP of a member, and a new member is not one-shot yet, so an idle connection that
// the server cut would be reported again and again while another thread sends on it.
bool EventLoop::Arm(Conn* c, uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLONESHOT;
  ev.data.ptr = c;
  const int op = c->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  // Set before: once armed, the connection may be the loop thread's (and back in idle_) at once.
  c->watched = true;
  if (epoll_ctl(epfd_, op, PQsocket(c->pg), &ev) != 0) {
    log::Error("create loop cannot watch its connection", {{"errno", errno}});
    return false;
  }
  return true;
}

void EventLoop::Send(Conn* c, Job job) {
  // Jobs that waited past their deadline are handed back unsent; the connection takes the next one.
  while (std::chrono::steady_clock::now() >= job.deadline) {
    auto done = std::move(job.done);
    done(nullptr, false);
    std::lock_guard lock(mu_);
    if (stopping_ || waiting_.empty()) {
      idle_.push_back(c);
      return;
    }
    job = std::move(waiting_.front());
    waiting_.pop_front();
  }
  c->job = std::move(job);
  c->busy = true;
  std::vector<const char*> values;
  values.reserve(c->job.params.size());
  for (const auto& p : c->job.params) values.push_back(p.c_str());
  // A message libpq could not queue whole never ran: the server executes nothing before its Sync.
  if (!PQsendQueryPrepared(c->pg, c->job.statement.c_str(), static_cast<int>(values.size()), values.data(),
                           nullptr, nullptr, 0)) {
    Fail(c, false);
    return;
  }
  const int flushed = PQflush(c->pg);
  if (flushed < 0) {
    Fail(c, true);
    return;
  }
  if (const auto limit = timeouts_.ResponseTimeout())
    c->answer_due = std::chrono::steady_clock::now() + *limit;
  if (!Arm(c, flushed == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN)) Fail(c, true);
}

void EventLoop::FailOverdue() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& c : conns_) {
    if (c->answer_due.load() > now) continue;
    // Armed and unanswered: no event can come for it once it leaves the epoll set, so it is this
    // thread's to fail. The statement may still run when the server wakes: its outcome is unknown.
    log::Warn("create loop statement got no answer in time",
              {{"timeout_ms", timeouts_.ResponseTimeout().value_or(std::chrono::milliseconds(0)).count()}});
    Fail(c.get(), true);
  }
}

void EventLoop::Finish(Conn* c, PGresult* r) {
  c->busy = false;
  c->answer_due = std::chrono::steady_clock::time_point::max();
  auto done = std::move(c->job.done);
  const bool broken = PQstatus(c->pg) != CONNECTION_OK;
  done(r, true);
  if (broken) {
    Fail(c, true);  // no job left to tell: only retires the connection
    return;
  }
  Job next;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || waiting_.empty()) {
      idle_.push_back(c);
      return;
    }
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  Send(c, std::move(next));
}

void EventLoop::Fail(Conn* c, bool sent) {
  c->answer_due = std::chrono::steady_clock::time_point::max();
  if (c->last) PQclear(c->last);
  c->last = nullptr;
  Done done;
  if (c->busy) {
    c->busy = false;
    done = std::move(c->job.done);
  }
  log::Warn("create loop connection lost, reconnecting", {{"error", LastError(c->pg)}});
  // libpq may have closed the socket already (which took it out of the epoll set).
  if (c->watched && PQsocket(c->pg) >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, PQsocket(c->pg), nullptr);
  c->watched = false;
  std::deque<Job> orphans;  // nothing is left to run them here: they run elsewhere
  {
    std::lock_guard lock(mu_);
    --up_;
    broken_.push_back(c);
    if (up_ == 0) orphans.swap(waiting_);
  }
  repair_cv_.notify_all();
  if (done) done(nullptr, sent);
  for (auto& job : orphans) job.done(nullptr, false);
}

void EventLoop::OnReady(Conn* c) {
  const int flushed = PQflush(c->pg);
  if (flushed == 1) {  // the statement is not all sent yet
    if (!Arm(c, EPOLLIN | EPOLLOUT)) Fail(c, true);
    return;
  }
  if (flushed < 0 || !PQconsumeInput(c->pg)) {
    Fail(c, true);
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
  if (!Arm(c, EPOLLIN)) Fail(c, true);
}

void EventLoop::Run() {
  epoll_event events[64];
  for (;;) {
    const int n = epoll_wait(epfd_, events, 64, 20);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) return;  // Stop
      OnReady(static_cast<Conn*>(events[i].data.ptr));
    }
    FailOverdue();
    if (after_batch_) after_batch_();
  }
}

bool EventLoop::Connect(Conn* c) {
  if (c->pg) PQfinish(c->pg);
  c->pg = nullptr;
  try {
    // Connected and prepared through pg::Connection, so each step waits no longer than the timeouts
    // (a server that stops answering mid-prepare must not hold this thread, and Stop, for good).
    // Preparing an INSERT takes a lock on its table: lock_timeout bounds that too, so a table locked
    // for long (a migration) delays the connection, which is tried again later. RESET restores the DSN's.
    Connection conn(dsn_, statements_, timeouts_, {{"fallback_application_name", application_name_}});
    conn.Exec("SET lock_timeout = '5s'");
    for (const auto& [name, sql] : statements_) conn.Prepare(name);
    conn.Exec("RESET lock_timeout");
    c->pg = conn.Release();
  } catch (const std::exception& e) {
    log::Warn("create loop cannot connect and prepare its statements", {{"error", e.what()}});
    return false;
  }
  c->watched = false;  // Arm adds it with its first statement
  if (PQsetnonblocking(c->pg, 1) != 0) {
    log::Error("create loop cannot make its connection non-blocking", {{"error", LastError(c->pg)}});
    return false;
  }
  return true;
}

void EventLoop::Repair() {
  constexpr auto kFirstDelay = std::chrono::milliseconds(200);
  auto delay = kFirstDelay;
  std::unique_lock lock(mu_);
  for (;;) {
    repair_cv_.wait(lock, [this] { return stopping_ || !broken_.empty(); });
    if (stopping_) return;
    Conn* c = broken_.back();
    broken_.pop_back();
    lock.unlock();
    const bool connected = Connect(c);
    lock.lock();
    if (!connected) {
      broken_.push_back(c);
      repair_cv_.wait_for(lock, delay, [this] { return stopping_; });
      delay = std::min(delay * 2, std::chrono::milliseconds(5'000));
      continue;
    }
    delay = kFirstDelay;
    ++up_;
    if (stopping_ || waiting_.empty()) {
      idle_.push_back(c);
      continue;
    }
    Job next = std::move(waiting_.front());
    waiting_.pop_front();
    lock.unlock();
    Send(c, std::move(next));
    lock.lock();
  }
}

}  // namespace rainbow::pg
