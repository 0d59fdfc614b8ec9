#include "tests/support/private_postgres.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/child_process.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::testing {

PrivatePostgres::PrivatePostgres() {
  char tmpl[] = "/tmp/rainbow-private-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("private postgres: mkdtemp failed");
  dir_ = tmpl;
  // The server runs as the postgres OS user when the test runs as root: it must traverse the directory.
  ::chmod(dir_.c_str(), 0755);
  port_ = FreePort();
  dsn_ = "host=127.0.0.1 port=" + std::to_string(port_) + " user=rainbow password=rainbow dbname=rainbow";
  try {
    Start();
  } catch (...) {
    Cleanup();  // no destructor runs for a constructor that throws
    throw;
  }
}

void PrivatePostgres::Start() {
  const std::string out = Stack("up postgres");
  std::ifstream pid_file(dir_ + "/postgres.pid");
  pid_t pid = 0;
  if (!(pid_file >> pid) || pid <= 1) throw std::runtime_error("private postgres did not start:\n" + out);
}

void PrivatePostgres::Stop() {
  const std::string out = Stack("down postgres");
  if (std::filesystem::exists(dir_ + "/postgres.pid"))
    throw std::runtime_error("private postgres did not stop:\n" + out);
}

void PrivatePostgres::Cleanup() {
  if (std::filesystem::exists(dir_ + "/postgres.pid")) Stack("down postgres");
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

PrivatePostgres::~PrivatePostgres() { Cleanup(); }

pid_t PrivatePostgres::postmaster() const {
  std::ifstream pid_file(dir_ + "/postgres.pid");
  pid_t pid = 0;
  if (!(pid_file >> pid) || pid <= 1) throw std::runtime_error("private postgres: no pid in " + dir_);
  return pid;
}

std::string PrivatePostgres::Stack(const std::string& args) const {
  // Its own directory and port; the shared stack's recorded ports (ports.env) live in another dir.
  const std::string cmd = "RAINBOW_STACK_DIR=" + dir_ + " STACK_PG_PORT=" + std::to_string(port_) + " " +
                          StackEnv("RAINBOW_STACK") + " " + args;
  return RunShell(cmd).second;
}

FrozenProcessTree::FrozenProcessTree(pid_t parent) {
  if (::kill(parent, SIGSTOP) != 0) throw std::runtime_error("cannot SIGSTOP pid " + std::to_string(parent));
  stopped_.push_back(parent);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (ppid == parent && ::kill(pid, SIGSTOP) == 0) stopped_.push_back(pid);
  }
}

void FrozenProcessTree::Thaw() {
  for (auto it = stopped_.rbegin(); it != stopped_.rend(); ++it) ::kill(*it, SIGCONT);
  stopped_.clear();
}

}  // namespace rainbow::testing
