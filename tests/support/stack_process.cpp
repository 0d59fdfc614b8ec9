#include "tests/support/stack_process.hpp"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "tests/support/stack_env.hpp"

namespace rainbow::testing {

namespace {

void SignalComponent(const std::string& component, int sig) {
  const pid_t pid = StackComponentPid(component);
  if (::kill(pid, sig) != 0)
    throw std::runtime_error("signal " + std::to_string(sig) + " to " + component + " (pid " +
                             std::to_string(pid) + "): " + std::strerror(errno));
}

}  // namespace

pid_t StackComponentPid(const std::string& component) {
  const std::string path = StackEnv("RAINBOW_STACK_DIR") + "/" + component + ".pid";
  std::ifstream in(path);
  long pid = 0;
  if (!(in >> pid) || pid <= 1) throw std::runtime_error("no pid in " + path + " (is the stack up?)");
  return static_cast<pid_t>(pid);
}

void FreezeStackComponent(const std::string& component) { SignalComponent(component, SIGSTOP); }
void ThawStackComponent(const std::string& component) { SignalComponent(component, SIGCONT); }

}  // namespace rainbow::testing
