#include "tests/e2e/chaos_src/faults.hpp"

#include <signal.h>

#include <array>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "common/logging/log.hpp"
#include "tests/support/child_process.hpp"

namespace rainbow::chaos {

using namespace std::chrono_literals;

std::vector<Fault> MakeSchedule(int kills) {
  static constexpr std::array kServices = {"order-api", "cdc-producer", "state-tracker", "s3-converter",
                                           "loader"};
  static constexpr std::array kInfra = {"postgres", "kafka", "redis", "minio"};
  std::vector<Fault> schedule;
  for (int i = 0; i < kills; ++i) {
    schedule.push_back({Fault::Kind::kKillService, kServices[static_cast<size_t>(i) % kServices.size()]});
  }
  // One infra restart after every (kills / 4)-th kill, so they fall between kills, not in a clump.
  const size_t step = std::max<size_t>(1, schedule.size() / kInfra.size());
  for (size_t i = 0; i < kInfra.size(); ++i) {
    const size_t at = std::min(schedule.size(), (i + 1) * step + i);
    schedule.insert(schedule.begin() + static_cast<std::ptrdiff_t>(at),
                    {Fault::Kind::kRestartInfra, kInfra[i]});
  }
  return schedule;
}

FaultInjector::FaultInjector(std::string stack_command, std::string stack_dir)
    : stack_command_(std::move(stack_command)), stack_dir_(std::move(stack_dir)) {}

long FaultInjector::RecordedPid(const std::string& component) const {
  std::ifstream in(stack_dir_ + "/" + component + ".pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 1) throw std::runtime_error(component + ": no pid recorded in " + stack_dir_);
  return pid;
}

namespace {

// Gone or a zombie: the kill has taken effect.
bool ProcessGone(long pid) {
  if (kill(static_cast<pid_t>(pid), 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string skip, state;
  stat >> skip >> skip >> state;
  return state == "Z";
}

}  // namespace

void FaultInjector::StackUp(const std::string& verb, const std::string& component) const {
  // A killed cdc-producer's replication slot stays active until PostgreSQL notices the dead walsender,
  // so the first `up` may time out; the stack stops what it started and a later attempt succeeds.
  std::string last;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    const auto [code, out] = testing::RunShell(stack_command_ + " " + verb + " " + component + " 2>&1");
    if (code == 0) return;
    last = out.size() > 2000 ? out.substr(out.size() - 2000) : out;
    log::Warn("chaos: component not healthy yet, trying again",
              {{"component", component}, {"attempt", attempt}, {"output", last}});
    std::this_thread::sleep_for(5s);
  }
  throw std::runtime_error(component + " did not come back: " + last);
}

FaultRecord FaultInjector::Apply(const Fault& fault, const std::function<void(FaultRecord&)>& snapshot) {
  FaultRecord record{fault};
  const auto start = std::chrono::steady_clock::now();
  if (fault.kind == Fault::Kind::kKillService) {
    record.pid = RecordedPid(fault.target);
    snapshot(record);
    if (kill(static_cast<pid_t>(record.pid), SIGKILL) != 0)
      throw std::runtime_error(fault.target + ": kill -9 " + std::to_string(record.pid) + " failed");
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!ProcessGone(record.pid)) {
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error(fault.target + ": still alive 30 s after SIGKILL");
      std::this_thread::sleep_for(50ms);
    }
    StackUp("up", fault.target);
  } else {
    snapshot(record);
    StackUp("restart", fault.target);
  }
  record.recovery =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  return record;
}

}  // namespace rainbow::chaos
