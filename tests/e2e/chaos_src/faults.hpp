#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace rainbow::chaos {

// One fault of the schedule: a service killed with SIGKILL and started again, or an infra part of the
// stack restarted (stopped and started, as an operator or a node reboot would).
struct Fault {
  enum class Kind { kKillService, kRestartInfra };
  Kind kind;
  std::string target;  // a component name of scripts/stack: order-api, postgres, ...
};

// `kills` service kills, round robin over the five services, with one restart of each of PostgreSQL,
// Kafka, Redis and MinIO spread among them.
std::vector<Fault> MakeSchedule(int kills);

// What happened when a fault was applied, for the run's report.
struct FaultRecord {
  Fault fault;
  long pid = 0;                           // the process that was killed (kill faults)
  long requests_in_flight = 0;            // order requests open at the instant of the kill
  long orders_acknowledged = 0;           // orders acknowledged to the client before the fault
  long files_dropped = 0;                 // files put into raw before the fault
  std::chrono::milliseconds recovery{0};  // until scripts/stack reported the component healthy again
};

// Applies faults to the stack whose directory and command are given (RAINBOW_STACK_DIR, RAINBOW_STACK):
// kill -9 of the pid the stack recorded, then `stack up <target>`; or `stack restart <target>`.
class FaultInjector {
 public:
  FaultInjector(std::string stack_command, std::string stack_dir);
  // Applies the fault; `snapshot` fills the counters at the instant before the signal. Throws when the
  // component does not come back healthy.
  FaultRecord Apply(const Fault& fault, const std::function<void(FaultRecord&)>& snapshot);

 private:
  long RecordedPid(const std::string& component) const;
  void StackUp(const std::string& verb, const std::string& component) const;

  std::string stack_command_;
  std::string stack_dir_;
};

}  // namespace rainbow::chaos
