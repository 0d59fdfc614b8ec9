#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rainbow::testing {

// A child process started by a test, with stdout/stderr captured to files. The destructor kills it
// (SIGKILL, by its pid) if the test did not wait for it; if the test process dies first (a crash, an
// ASan abort), the kernel kills it (PR_SET_PDEATHSIG). That signal follows the *thread* that started
// the child: start children from the test's own thread, not from a helper thread that ends early.
class ChildProcess {
 public:
  // env: the variables the child gets (nothing is inherited but PATH and HOME).
  ChildProcess(const std::string& path, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // The exit code (128+signal when killed by a signal), or nullopt if still running at the deadline.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string out_path_;
  std::string err_path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// GET over HTTP; returns (status, body); status 0 when the connection failed.
std::pair<long, std::string> HttpGet(const std::string& url);

// Status of GET url, polled until it is `want` or `timeout` passed; the last status seen.
long WaitForStatus(const std::string& url, long want, std::chrono::milliseconds timeout);

struct HttpResponse {
  long status = 0;  // 0 when the connection failed
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

// Any method, with a body and request headers ("Name: value"). For https URLs, `ca_file` is the CA
// bundle the server's certificate must chain to (host name checked too).
HttpResponse HttpCall(const std::string& method, const std::string& url, const std::string& body = "",
                      const std::vector<std::string>& headers = {}, const std::string& ca_file = "");

// Runs a shell command, feeding `input` on stdin; returns (exit code, combined output).
std::pair<int, std::string> RunShell(const std::string& command, const std::string& input = "");

}  // namespace rainbow::testing
