#pragma once
// An HTTP proxy between a service and S3 (the stack's MinIO) that injects faults into chosen
// exchanges: it answers a request with an S3 error in the server's place, changes one character of a
// response header's value, replaces bytes of a response body, or sends a response body slowly.
// Everything else passes unchanged.
//
// Each connection carries one exchange: the proxy adds `Connection: close` to every request, so the
// server closes after answering and every response is matched with the request it answers (the
// client opens a new connection for its next request). SigV4 does not sign that header.
//
// Owned by the test: one thread accepts, one thread serves each connection; the destructor stops and
// joins them.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rainbow::testing {

class S3FaultProxy {
 public:
  // Which exchanges a fault applies to: the request's method (empty: any), and a substring of its
  // target (the path and query as sent, e.g. "/converted/dir/" or "partNumber=2").
  struct Match {
    std::string method;
    std::string target_contains;
  };

  explicit S3FaultProxy(int upstream_port);
  ~S3FaultProxy();
  S3FaultProxy(const S3FaultProxy&) = delete;
  S3FaultProxy& operator=(const S3FaultProxy&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The next `count` matching requests are answered `status` with S3 error `code`; they never reach
  // the server.
  void FailRequests(Match match, int count, int status = 503, std::string code = "ServiceUnavailable");
  // Every matching response has the value of `header` (case-insensitive) changed in one character.
  void CorruptHeader(Match match, std::string header);
  // Every matching response whose body is at most 1 MiB has the first `from` in its body replaced by
  // `to` (same length: Content-Length stays right).
  void ReplaceInBody(Match match, std::string from, std::string to);
  // Every matching response's body is sent at about `bytes_per_second` (a slow link or server).
  void SlowDown(Match match, int bytes_per_second);
  // Every matching request is taken and never answered (a frozen server: the connection stays open,
  // nothing comes back) until Clear, which then closes those connections.
  void Hang(Match match);
  // Drops every rule: from now on, exchanges pass unchanged.
  void Clear();

  int faults() const { return faults_.load(); }        // injections made so far
  int exchanges() const { return exchanges_.load(); }  // requests seen so far

 private:
  enum class Kind { kFail, kHeader, kBody, kSlow, kHang };
  struct Rule {
    Kind kind;
    Match match;
    int remaining = -1;  // kFail: answers left
    int status = 0;      // kFail: the HTTP status; kSlow: bytes per second
    std::string code;    // kFail: the S3 error code; kHeader: the header's name
    std::string from, to;
  };

  void Accept();
  void Serve(int client);
  // The rules for this request, copied (and a kFail answer taken) under the lock.
  std::vector<Rule> RulesFor(const std::string& method, const std::string& target);
  void Add(Rule rule);

  const int upstream_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> faults_{0};
  std::atomic<int> exchanges_{0};
  std::atomic<int> generation_{0};  // bumped by Clear: hung exchanges end when it moves
  std::mutex mu_;                   // rules_, servers_
  std::vector<Rule> rules_;
  std::vector<std::thread> servers_;
  std::thread acceptor_;
};

}  // namespace rainbow::testing
