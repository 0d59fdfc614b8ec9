#include "tests/support/private_server.hpp"

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

PrivateServer::PrivateServer(std::string component, const std::vector<std::string>& port_keys,
                             std::map<std::string, std::string> env)
    : component_(std::move(component)), env_(std::move(env)) {
  char tmpl[] = "/tmp/rainbow-private-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("private " + component_ + ": mkdtemp failed");
  dir_ = tmpl;
  // The server may run as another OS user (postgres, when the test runs as root): it must traverse it.
  ::chmod(dir_.c_str(), 0755);
  for (const auto& key : port_keys) ports_[key] = FreePort();
  try {
    Start();
  } catch (...) {
    Cleanup();  // no destructor runs for a constructor that throws
    throw;
  }
}

void PrivateServer::Start() {
  const std::string out = Stack("up " + component_);
  std::ifstream pid_file(dir_ + "/" + component_ + ".pid");
  pid_t pid = 0;
  if (!(pid_file >> pid) || pid <= 1)
    throw std::runtime_error("private " + component_ + " did not start:\n" + out);
}

void PrivateServer::Stop() {
  const std::string out = Stack("down " + component_);
  if (std::filesystem::exists(dir_ + "/" + component_ + ".pid"))
    throw std::runtime_error("private " + component_ + " did not stop:\n" + out);
}

void PrivateServer::Cleanup() {
  if (std::filesystem::exists(dir_ + "/" + component_ + ".pid")) Stack("down " + component_);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

PrivateServer::~PrivateServer() { Cleanup(); }

pid_t PrivateServer::pid() const {
  std::ifstream pid_file(dir_ + "/" + component_ + ".pid");
  pid_t pid = 0;
  if (!(pid_file >> pid) || pid <= 1)
    throw std::runtime_error("private " + component_ + ": no pid in " + dir_);
  return pid;
}

std::string PrivateServer::Stack(const std::string& args) const {
  // Its own directory and ports; the shared stack's recorded ports (ports.env) live in another dir.
  std::string cmd = "RAINBOW_STACK_DIR=" + dir_;
  for (const auto& [key, port] : ports_) cmd += " STACK_" + key + "_PORT=" + std::to_string(port);
  for (const auto& [name, value] : env_) cmd += " " + name + "='" + value + "'";
  return RunShell(cmd + " " + StackEnv("RAINBOW_STACK") + " " + args).second;
}

PrivatePostgres::PrivatePostgres()
    : PrivateServer("postgres", {"PG"}),
      dsn_("host=127.0.0.1 port=" + std::to_string(port("PG")) +
           " user=rainbow password=rainbow dbname=rainbow") {}

namespace {
// The shared stack's Kafka port, from KAFKA_BROKERS (host:port).
std::string SharedKafkaPort() {
  const std::string brokers = StackEnv("KAFKA_BROKERS");
  return brokers.substr(brokers.rfind(':') + 1);
}
}  // namespace

PrivateMinio::PrivateMinio()
    : PrivateServer("minio", {"MINIO", "MINIO_CONSOLE"}, {{"STACK_KAFKA_PORT", SharedKafkaPort()}}) {}

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
