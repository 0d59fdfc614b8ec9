#include "tests/support/s3_fault_proxy.hpp"

#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string_view>

#include "tests/support/loopback_socket.hpp"

namespace rainbow::testing {

namespace {

constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kMaxBufferedBody = 1 << 20;

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && ::strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

// The value of header `name` in an HTTP head, or nullopt. `at` receives the value's offset.
std::optional<std::string> HeaderValue(const std::string& head, std::string_view name, size_t* at = nullptr) {
  for (size_t line = head.find("\r\n"); line != std::string::npos && line + 2 < head.size();
       line = head.find("\r\n", line + 2)) {
    const std::string_view rest = std::string_view(head).substr(line + 2);
    if (!StartsWithNoCase(rest, name) || rest.size() <= name.size() || rest[name.size()] != ':') continue;
    size_t begin = line + 2 + name.size() + 1;
    while (begin < head.size() && head[begin] == ' ') ++begin;
    const size_t end = head.find("\r\n", begin);
    if (at) *at = begin;
    return head.substr(begin, end - begin);
  }
  return std::nullopt;
}

// The request head with any Connection header replaced by `Connection: close`.
std::string WithConnectionClose(const std::string& head) {
  std::string out;
  size_t pos = 0;
  for (size_t end = head.find("\r\n"); end != std::string::npos; end = head.find("\r\n", pos)) {
    const std::string_view line = std::string_view(head).substr(pos, end - pos);
    if (line.empty()) break;
    if (!StartsWithNoCase(line, "connection:")) {
      out.append(line);
      out += "\r\n";
    }
    pos = end + 2;
  }
  return out + "Connection: close\r\n\r\n";
}

// Reads from fd into `buffered` until it holds a whole head (through the blank line); returns the head
// and leaves what follows it in `buffered`. nullopt when the peer closes first or the head is too big.
std::optional<std::string> ReadHead(int fd, std::string& buffered, const std::atomic<bool>& stop) {
  char buf[16 * 1024];
  while (!stop) {
    if (const size_t end = buffered.find("\r\n\r\n"); end != std::string::npos) {
      std::string head = buffered.substr(0, end + 4);
      buffered.erase(0, end + 4);
      return head;
    }
    if (buffered.size() > kMaxHead) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return std::nullopt;
    buffered.append(buf, static_cast<size_t>(n));
  }
  return std::nullopt;
}

size_t ContentLength(const std::string& head) {
  const auto v = HeaderValue(head, "content-length");
  try {
    return v ? std::stoull(*v) : 0;
  } catch (const std::exception&) {
    return 0;  // malformed: treated as no body
  }
}

// Reads and drops the request body the client is sending (Content-Length bytes, `buffered` first).
void DiscardBody(int fd, std::string& buffered, size_t length, const std::atomic<bool>& stop) {
  size_t have = buffered.size();
  buffered.clear();
  char buf[64 * 1024];
  while (have < length && !stop) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    have += static_cast<size_t>(n);
  }
}

// `with_body` false for a HEAD request, whose answer never has one.
std::string ErrorResponse(int status, const std::string& code, bool with_body) {
  const std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code +
                           "</Code><Message>injected by the test's S3 fault proxy</Message></Error>";
  return "HTTP/1.1 " + std::to_string(status) +
         " Injected\r\nContent-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + (with_body ? body : "");
}

}  // namespace

S3FaultProxy::S3FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
  const auto l = ListenOnLoopback();
  listener_ = l.fd;
  port_ = l.port;
  acceptor_ = std::thread([this] { Accept(); });
}

S3FaultProxy::~S3FaultProxy() {
  stop_ = true;
  acceptor_.join();
  std::vector<std::thread> servers;
  {
    std::lock_guard lock(mu_);
    servers.swap(servers_);
  }
  for (auto& t : servers) t.join();
  ::close(listener_);
}

void S3FaultProxy::Add(Rule rule) {
  std::lock_guard lock(mu_);
  rules_.push_back(std::move(rule));
}

void S3FaultProxy::FailRequests(Match match, int count, int status, std::string code) {
  Add({Kind::kFail, std::move(match), count, status, std::move(code), "", ""});
}

void S3FaultProxy::CorruptHeader(Match match, std::string header) {
  Add({Kind::kHeader, std::move(match), -1, 0, std::move(header), "", ""});
}

void S3FaultProxy::ReplaceInBody(Match match, std::string from, std::string to) {
  Add({Kind::kBody, std::move(match), -1, 0, "", std::move(from), std::move(to)});
}

void S3FaultProxy::SlowDown(Match match, int bytes_per_second) {
  Add({Kind::kSlow, std::move(match), -1, bytes_per_second, "", "", ""});
}

void S3FaultProxy::Hang(Match match) { Add({Kind::kHang, std::move(match), -1, 0, "", "", ""}); }

void S3FaultProxy::Clear() {
  std::lock_guard lock(mu_);
  rules_.clear();
  ++generation_;
}

std::vector<S3FaultProxy::Rule> S3FaultProxy::RulesFor(const std::string& method, const std::string& target) {
  std::lock_guard lock(mu_);
  std::vector<Rule> out;
  for (auto& r : rules_) {
    if ((!r.match.method.empty() && r.match.method != method) ||
        target.find(r.match.target_contains) == std::string::npos)
      continue;
    if (r.kind == Kind::kHang) return {r};  // nothing else applies to an exchange never answered
    if (r.kind == Kind::kFail) {
      if (r.remaining <= 0) continue;
      --r.remaining;
      return {r};  // answered here: no other rule applies
    }
    out.push_back(r);
  }
  return out;
}

void S3FaultProxy::Accept() {
  while (!stop_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) continue;
    std::lock_guard lock(mu_);
    servers_.emplace_back([this, client] { Serve(client); });
  }
}

void S3FaultProxy::Serve(int client) {
  std::string from_client;
  const auto head = ReadHead(client, from_client, stop_);
  if (!head) {
    ::close(client);
    return;
  }
  ++exchanges_;
  const size_t sp1 = head->find(' ');
  const size_t sp2 = head->find(' ', sp1 + 1);
  const std::string method = head->substr(0, sp1);
  const std::string target = head->substr(sp1 + 1, sp2 - sp1 - 1);
  const int generation = generation_.load();
  const auto rules = RulesFor(method, target);

  if (rules.size() == 1 && rules[0].kind == Kind::kHang) {
    ++faults_;
    while (!stop_ && generation_.load() == generation)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::close(client);
    return;
  }

  if (rules.size() == 1 && rules[0].kind == Kind::kFail) {
    const size_t length = ContentLength(*head);
    const auto expect = HeaderValue(*head, "expect");
    if (expect && StartsWithNoCase(*expect, "100-continue") && from_client.size() < length) {
      SendAll(client, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    DiscardBody(client, from_client, length, stop_);
    ++faults_;
    SendAll(client, ErrorResponse(rules[0].status, rules[0].code, method != "HEAD"));
    ::close(client);
    return;
  }

  const int upstream = ConnectToLoopback(upstream_port_);
  if (upstream < 0 || !SendAll(upstream, WithConnectionClose(*head) + from_client)) {
    if (upstream >= 0) ::close(upstream);
    ::close(client);
    return;
  }
  // Pump both ways until the server closes; the response's head (and, for a body rule, its body) is
  // collected whole first so the rules can change it.
  enum class Phase { kHead, kBody, kPassThrough } phase = Phase::kHead;
  int slow_bps = 0;
  for (const auto& r : rules) {
    if (r.kind == Kind::kSlow) slow_bps = r.status;
  }
  if (slow_bps > 0) ++faults_;
  // What goes down to the client once the head is through: at the slow rule's pace, if any.
  const auto send_down = [&](std::string_view data) {
    if (slow_bps <= 0) return SendAll(client, data);
    constexpr size_t kPiece = 4096;
    for (size_t at = 0; at < data.size() && !stop_; at += kPiece) {
      if (!SendAll(client, data.substr(at, kPiece))) return false;
      std::this_thread::sleep_for(
          std::chrono::microseconds(kPiece * 1'000'000 / static_cast<size_t>(slow_bps)));
    }
    return true;
  };
  std::string down;
  size_t body_length = 0;
  bool client_open = true;
  char buf[64 * 1024];
  while (!stop_) {
    // A closed client side is left out (fd -1): poll would report its hang-up again and again.
    pollfd fds[2] = {{client_open ? client : -1, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (::poll(fds, 2, 50) <= 0) continue;
    if (client_open && fds[0].revents != 0) {
      const ssize_t n = ::read(client, buf, sizeof(buf));
      if (n <= 0) {
        client_open = false;
        ::shutdown(upstream, SHUT_WR);
      } else if (!SendAll(upstream, std::string_view(buf, static_cast<size_t>(n)))) {
        break;
      }
    }
    if (fds[1].revents == 0) continue;
    const ssize_t n = ::read(upstream, buf, sizeof(buf));
    if (n <= 0) break;
    down.append(buf, static_cast<size_t>(n));
    while (phase == Phase::kHead) {
      const size_t end = down.find("\r\n\r\n");
      if (end == std::string::npos) break;
      std::string response = down.substr(0, end + 4);
      down.erase(0, end + 4);
      if (response.size() > 9 &&
          response[9] == '1') {  // "HTTP/1.1 1xx": an interim answer, then the real one
        SendAll(client, response);
        continue;
      }
      bool buffer_body = false;
      for (const auto& r : rules) {
        size_t at = 0;
        if (r.kind == Kind::kHeader && HeaderValue(response, r.code, &at) && at < response.size() &&
            response[at] != '\r') {
          response[at] = response[at] == 'A' ? 'B' : 'A';
          ++faults_;
        }
        buffer_body = buffer_body || (r.kind == Kind::kBody && method != "HEAD");
      }
      body_length = ContentLength(response);
      if (!HeaderValue(response, "content-length") || body_length > kMaxBufferedBody) buffer_body = false;
      SendAll(client, response);
      phase = buffer_body ? Phase::kBody : Phase::kPassThrough;
    }
    if (phase == Phase::kBody && down.size() >= body_length) {
      for (const auto& r : rules) {
        if (r.kind != Kind::kBody) continue;
        if (const size_t at = down.find(r.from); at != std::string::npos && r.from.size() == r.to.size()) {
          down.replace(at, r.from.size(), r.to);
          ++faults_;
        }
      }
      phase = Phase::kPassThrough;
    }
    if (phase == Phase::kPassThrough && !down.empty()) {
      if (!send_down(down)) break;
      down.clear();
    }
  }
  if (!down.empty() && phase != Phase::kHead) SendAll(client, down);
  ::close(upstream);
  ::close(client);
}

}  // namespace rainbow::testing
