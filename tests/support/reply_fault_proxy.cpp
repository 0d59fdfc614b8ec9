#include "tests/support/reply_fault_proxy.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/loopback_socket.hpp"

namespace rainbow::testing {

ReplyFaultProxy::ReplyFaultProxy(int server_port) : server_port_(server_port) {
  const auto listener = ListenOnLoopback();
  listener_ = listener.fd;
  port_ = listener.port;
  acceptor_ = std::thread([this] { Accept(); });
}

ReplyFaultProxy::~ReplyFaultProxy() {
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

void ReplyFaultProxy::ArmCut(std::string marker, Drain drain) {
  std::lock_guard lock(mu_);
  armed_ = {std::move(marker), std::move(drain), std::chrono::milliseconds(0)};
}

void ReplyFaultProxy::ArmHold(std::string marker, std::chrono::milliseconds hold) {
  std::lock_guard lock(mu_);
  armed_ = {std::move(marker), {}, hold};
}

void ReplyFaultProxy::ArmHoldRequest(std::string marker, std::chrono::milliseconds hold) {
  std::lock_guard lock(mu_);
  armed_ = {std::move(marker), {}, hold, true};
}

namespace {
void Wait(const std::atomic<bool>& stop, std::chrono::milliseconds d) {
  for (const auto end = std::chrono::steady_clock::now() + d;
       !stop && std::chrono::steady_clock::now() < end;)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}
}  // namespace

void ReplyFaultProxy::Accept() {
  while (!stop_) {
    const int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) return;
    const int server = ConnectToLoopback(server_port_);
    if (server < 0) {
      ::close(client);
      continue;
    }
    std::lock_guard lock(mu_);
    pumps_.emplace_back([this, client, server] { Pump(client, server); });
  }
}

bool ReplyFaultProxy::Take(const std::string& data, Armed& out) {
  std::lock_guard lock(mu_);
  if (armed_.marker.empty() || data.find(armed_.marker) == std::string::npos) return false;
  out = std::move(armed_);
  armed_ = {};
  return true;
}

void ReplyFaultProxy::Pump(int client, int server) {
  bool faulting = false;  // the marked request went out: its reply is cut or held
  Armed fault;
  std::string seen;  // the client's recent bytes, so a marker split across reads is found
  char buf[65536];
  while (!stop_) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    if (::poll(fds, 2, 100) <= 0) continue;
    if (fds[0].revents != 0) {
      const ssize_t n = ::read(client, buf, sizeof(buf));
      if (n <= 0) break;
      seen =
          seen.substr(seen.size() > 256 ? seen.size() - 256 : 0) + std::string(buf, static_cast<size_t>(n));
      if (!faulting && Take(seen, fault)) {
        faulting = !fault.request;
        if (fault.request) {
          ++faults_;
          Wait(stop_, fault.hold);
        }
      }
      if (!SendAll(server, std::string_view(buf, static_cast<size_t>(n)))) break;
    }
    if (fds[1].revents != 0) {
      if (faulting && fault.hold.count() == 0) {
        ++faults_;  // before the close: the client may act as soon as it sees it
        ::close(client);
        client = -1;
        if (fault.drain) fault.drain(server);
        break;
      }
      if (faulting) {
        ++faults_;
        faulting = false;
        Wait(stop_, fault.hold);
      }
      const ssize_t n = ::read(server, buf, sizeof(buf));
      if (n <= 0) break;
      if (!SendAll(client, std::string_view(buf, static_cast<size_t>(n)))) break;
    }
  }
  if (client >= 0) ::close(client);
  ::close(server);
}

}  // namespace rainbow::testing
