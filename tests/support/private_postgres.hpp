#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace rainbow::testing {

// A PostgreSQL server of the test's own, for tests that must freeze or kill it without touching the
// shared test stack: `scripts/stack up postgres` (the command in RAINBOW_STACK) with a directory under
// /tmp and a free port. Owned by the test suite; the destructor stops it by the pid the script
// recorded (`down postgres`) and removes its directory. Not thread-safe.
class PrivatePostgres {
 public:
  PrivatePostgres();  // throws with the script's output when the server does not come up
  ~PrivatePostgres();
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;

  // The stack's application login (user, password and database rainbow).
  const std::string& dsn() const { return dsn_; }
  pid_t postmaster() const;
  // A restart in two halves, for tests that watch what happens while it is down: Stop is the stack's
  // `down postgres` (pg_ctl's fast mode: open sessions are ended, their transactions rolled back);
  // Start brings it back on the same port and directory (throws with the script's output on failure).
  void Stop();
  void Start();

 private:
  std::string Stack(const std::string& args) const;
  // Stops the server if it was started (by its recorded pid) and removes the directory.
  void Cleanup();

  std::string dir_;
  int port_ = 0;
  std::string dsn_;
};

// SIGSTOP to `pid` and then to each of its children (PostgreSQL's backends call setsid, so a process
// group signal would miss them): a black hole, sockets open and nothing answered, while the kernel
// still accepts connections and acknowledges data. Thaw (or the destructor) sends SIGCONT to them all.
// Not thread-safe.
class FrozenProcessTree {
 public:
  explicit FrozenProcessTree(pid_t pid);
  ~FrozenProcessTree() { Thaw(); }
  FrozenProcessTree(const FrozenProcessTree&) = delete;
  FrozenProcessTree& operator=(const FrozenProcessTree&) = delete;
  void Thaw();
  size_t size() const { return stopped_.size(); }

 private:
  std::vector<pid_t> stopped_;
};

}  // namespace rainbow::testing
