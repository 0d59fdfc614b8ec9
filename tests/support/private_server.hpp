#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace rainbow::testing {

// A server of the test's own, for tests that must freeze, stop or kill it without touching the shared
// test stack: `scripts/stack up <component>` (the command in RAINBOW_STACK) with a directory under /tmp
// and free ports. Owned by the test suite; the destructor stops it by the pid the script recorded
// (`down <component>`) and removes its directory. Not thread-safe.
class PrivateServer {
 public:
  // port_keys: the component's STACK_<KEY>_PORT keys, each given a free port; env: more settings for
  // the script (such as the shared stack's Kafka port). Throws with the script's output when the server
  // does not come up.
  PrivateServer(std::string component, const std::vector<std::string>& port_keys,
                std::map<std::string, std::string> env = {});
  virtual ~PrivateServer();
  PrivateServer(const PrivateServer&) = delete;
  PrivateServer& operator=(const PrivateServer&) = delete;

  int port(const std::string& key) const { return ports_.at(key); }
  pid_t pid() const;
  // A restart in two halves, for tests that watch what happens while it is down: Stop is the stack's
  // `down` (for PostgreSQL pg_ctl's fast mode: open sessions are ended, their transactions rolled back);
  // Start brings it back on the same ports and directory (throws with the script's output on failure).
  void Stop();
  void Start();

 private:
  std::string Stack(const std::string& args) const;
  // Stops the server if it was started (by its recorded pid) and removes the directory.
  void Cleanup();

  std::string component_;
  std::string dir_;
  std::map<std::string, int> ports_;
  std::map<std::string, std::string> env_;
};

// The stack's PostgreSQL, with its application login (user, password and database rainbow).
class PrivatePostgres : public PrivateServer {
 public:
  PrivatePostgres();
  const std::string& dsn() const { return dsn_; }
  pid_t postmaster() const { return pid(); }

 private:
  std::string dsn_;
};

// The stack's MinIO with its buckets, notifying bucket raw's events to the shared test stack's Kafka
// (topic files.events), with the stack's S3 credentials.
class PrivateMinio : public PrivateServer {
 public:
  PrivateMinio();
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port("MINIO")); }
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
