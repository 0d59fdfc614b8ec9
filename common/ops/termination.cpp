#include "common/ops/termination.hpp"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>
#include <stdexcept>

namespace rainbow::ops {
namespace {

sigset_t TerminationSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  const sigset_t set = TerminationSet();
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) throw std::runtime_error("pthread_sigmask failed");
  // A write to a closed socket must be an error return, not a process kill.
  signal(SIGPIPE, SIG_IGN);
}

std::optional<int> WaitForTerminationSignal(std::optional<std::chrono::milliseconds> timeout) {
  const sigset_t set = TerminationSet();
  for (;;) {
    int sig = 0;
    if (!timeout) {
      if (sigwait(&set, &sig) == 0) return sig;
      continue;
    }
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(timeout->count() / 1000);
    ts.tv_nsec = static_cast<long>((timeout->count() % 1000) * 1'000'000);
    sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) return sig;
    if (errno == EAGAIN) return std::nullopt;
    // EINTR: another signal interrupted the wait; wait again.
  }
}

}  // namespace rainbow::ops
