#pragma once
// A TCP proxy between order-api and PostgreSQL that loses one reply: the first statement whose bytes
// carry a marker (a parameter value only that request has) reaches the server and runs, and the
// connection to order-api is cut the moment the server starts answering it, so order-api sees its
// create sent and its connection lost: the commit outcome is unknown to it. The server side is read
// until the server is ready for the next query (the implicit transaction committed), then closed.
// Used by the unknown-outcome tests only (tests/support/s3_fault_proxy is the HTTP one for S3).
//
// Owned by the test; one thread accepts, one thread per connection pumps both ways; the destructor
// closes everything and joins.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/loopback_socket.hpp"

namespace rainbow::order::api_test {

class CommitReplyCutter {
 public:
  explicit CommitReplyCutter(int server_port) : server_port_(server_port) {
    const auto listener = testing::ListenOnLoopback();
    listener_ = listener.fd;
    port_ = listener.port;
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~CommitReplyCutter() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    std::vector<std::thread> pumps;
    {
      std::lock_guard lock(mu_);
      pumps.swap(pumps_);
    }
    for (auto& t : pumps) t.join();
    ::close(listener_);
  }

  int port() const { return port_; }
  // The next statement carrying `marker` loses its reply (once).
  void Arm(std::string marker) {
    std::lock_guard lock(mu_);
    marker_ = std::move(marker);
  }
  // How many replies were cut so far.
  int cuts() const { return cuts_.load(); }

 private:
  void Accept() {
    while (!stop_) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      const int server = testing::ConnectToLoopback(server_port_);
      if (server < 0) {
        ::close(client);
        continue;
      }
      std::lock_guard lock(mu_);
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }

  // True when `marker` was armed and occurs in `data`: disarms it.
  bool TakeMarker(const std::string& data) {
    std::lock_guard lock(mu_);
    if (marker_.empty() || data.find(marker_) == std::string::npos) return false;
    marker_.clear();
    return true;
  }

  void Pump(int client, int server) {
    bool cutting = false;  // the marked statement went out: its reply must not reach the client
    std::string seen;      // the client's recent bytes, so a marker split across reads is found
    char buf[65536];
    while (!stop_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, 100) <= 0) continue;
      if (fds[0].revents != 0) {
        const ssize_t n = ::read(client, buf, sizeof(buf));
        if (n <= 0) break;
        seen =
            seen.substr(seen.size() > 256 ? seen.size() - 256 : 0) + std::string(buf, static_cast<size_t>(n));
        if (TakeMarker(seen)) cutting = true;
        if (::send(server, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
      }
      if (fds[1].revents != 0) {
        if (cutting) {
          ++cuts_;  // before the close: order-api answers its caller as soon as it sees it
          ::close(client);
          client = -1;
          DrainUntilReady(server);
          break;
        }
        const ssize_t n = ::read(server, buf, sizeof(buf));
        if (n <= 0) break;
        if (::send(client, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
      }
    }
    if (client >= 0) ::close(client);
    ::close(server);
  }

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

  const int server_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> cuts_{0};
  std::mutex mu_;  // marker_, pumps_
  std::string marker_;
  std::vector<std::thread> pumps_;
  std::thread acceptor_;
};

}  // namespace rainbow::order::api_test
