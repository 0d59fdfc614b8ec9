#pragma once
// A TCP proxy that loses or holds back one reply: the first request whose bytes carry a marker (a value
// only that request has) reaches the server and runs; then the server's answer is either cut (the
// connection to the client closed the moment the server starts answering) or held back for a while
// before it goes on. Either way the client sent its request, the server acted on it, and the client
// does not learn so in time: the "lost reply" of a commit or a state change. Works for any protocol
// whose request bytes hold the marker verbatim (PostgreSQL's Bind, Redis' RESP).
//
// Owned by the test; one thread accepts, one thread per connection pumps both ways; the destructor
// closes everything and joins.
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rainbow::testing {

class ReplyFaultProxy {
 public:
  explicit ReplyFaultProxy(int server_port);
  ~ReplyFaultProxy();
  ReplyFaultProxy(const ReplyFaultProxy&) = delete;
  ReplyFaultProxy& operator=(const ReplyFaultProxy&) = delete;

  int port() const { return port_; }
  // Reads the server's side after a cut until the request's effect is complete (for PostgreSQL: until
  // ReadyForQuery, so the statement's transaction ended before the server loses its client).
  using Drain = std::function<void(int server_fd)>;
  // The next request carrying `marker` loses its reply (once); `drain` runs on the server side then.
  void ArmCut(std::string marker, Drain drain = {});
  // The next request carrying `marker` gets its reply `hold` late (once); so does everything the server
  // sends on that connection meanwhile.
  void ArmHold(std::string marker, std::chrono::milliseconds hold);
  // The next request carrying `marker` reaches the server `hold` late (once): whatever the test does
  // meanwhile happens before the server sees it. Everything the client sends on that connection waits.
  void ArmHoldRequest(std::string marker, std::chrono::milliseconds hold);
  int faults() const { return faults_.load(); }  // replies cut or held, requests held, so far

 private:
  struct Armed {
    std::string marker;
    Drain drain;
    std::chrono::milliseconds hold{0};  // 0: cut
    bool request = false;               // hold the request rather than its reply
  };
  void Accept();
  bool Take(const std::string& data, Armed& out);
  void Pump(int client, int server);

  const int server_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> faults_{0};
  std::mutex mu_;  // armed_, pumps_
  Armed armed_;
  std::vector<std::thread> pumps_;
  std::thread acceptor_;
};

}  // namespace rainbow::testing
