#pragma once
// A proxy between order-api and PostgreSQL that loses one reply (tests/support/reply_fault_proxy): the
// first statement whose bytes carry a marker (a parameter value only that request has) reaches the
// server and runs, and the connection to order-api is cut the moment the server starts answering it, so
// order-api sees its create sent and its connection lost: the commit outcome is unknown to it. The
// server side is read until the server is ready for the next query (the implicit transaction
// committed), then closed. Used by the unknown-outcome tests.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "tests/support/reply_fault_proxy.hpp"

namespace rainbow::order::api_test {

class CommitReplyCutter {
 public:
  explicit CommitReplyCutter(int server_port) : proxy_(server_port) {}
  int port() const { return proxy_.port(); }
  // The next statement carrying `marker` loses its reply (once).
  void Arm(std::string marker) { proxy_.ArmCut(std::move(marker), DrainUntilReady); }
  // How many replies were cut so far.
  int cuts() const { return proxy_.faults(); }

 private:
  // Reads the server's answer until ReadyForQuery ('Z', length 5, then the transaction status), so
  // the statement's implicit transaction has ended before the server loses its client.
  static void DrainUntilReady(int server) {
    std::string got;
    char buf[65536];
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < end) {
      pollfd fd{server, POLLIN, 0};
      if (::poll(&fd, 1, 100) <= 0) continue;
      const ssize_t n = ::read(server, buf, sizeof(buf));
      if (n <= 0) return;
      got.append(buf, static_cast<size_t>(n));
      if (got.size() >= 6 && got.compare(got.size() - 6, 5, std::string("Z\0\0\0\5", 5)) == 0) return;
    }
  }

  testing::ReplyFaultProxy proxy_;
};

}  // namespace rainbow::order::api_test
