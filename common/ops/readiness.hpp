#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace rainbow::ops {

// Whether a service can take traffic: a list of named conditions, plus draining. /readyz (OpsHttpServer)
// and gRPC health (GrpcServer::FollowReadiness or OnChange) both report NotReadyReason(): empty when
// ready, else why not. Draining comes first: from SetDraining on, the service is not ready ("shutting
// down") whatever its conditions say, so a load balancer stops sending work while in-flight work drains.
//
// A condition is either set by its owner (AddCondition, then Set from any thread) or polled (AddCheck:
// a function asked at every evaluation). Conditions are evaluated in the order added; the first unmet
// one gives the reason. Owned by main (one per process), it outlives the servers that report it.
// Add* before other threads use it; the rest is thread-safe. Checks and OnChange callbacks must not
// call back into this object.
class Readiness {
 public:
  // Why a condition is not met; empty when it is.
  using Check = std::function<std::string()>;

  Readiness() = default;
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  // A polled condition: `check` is called at every evaluation (a /readyz request, a health poll).
  void AddCheck(std::string name, Check check);
  // A condition set from outside, unmet with `reason` until Set(name, "").
  void AddCondition(std::string name, std::string reason);
  // `problem` empty: the condition is met. Throws std::invalid_argument for an unknown name.
  void Set(const std::string& name, std::string problem = "");
  void SetDraining();
  bool draining() const;

  // Empty when ready, else why not (the first unmet condition's reason, or "shutting down").
  std::string NotReadyReason() const;
  // The names of the unmet conditions ({"draining"} while draining), for /readyz: a probe or a caller
  // on the network learns which part is failing, never the raw error text (which may name hosts, users
  // or paths); that goes to the log.
  std::vector<std::string> FailingComponents() const;
  // Re-evaluates and tells OnChange's callback if readiness flipped. Set and SetDraining call it;
  // call it when what a polled check reads has changed.
  void Refresh();
  // Called with the new state whenever readiness flips (as seen by Refresh), and once at once with
  // the last published state. Runs on the thread that called Refresh, Set or SetDraining.
  void OnChange(std::function<void(bool ready)> on_change);

 private:
  struct Condition {
    std::string name;
    Check check;          // polled; empty for a condition set from outside
    std::string problem;  // a set condition's state
  };

  mutable std::mutex mu_;
  std::vector<Condition> conditions_;
  bool draining_ = false;

  // Held while a flip is logged and told, so callbacks see the flips in order.
  std::mutex publish_mu_;
  std::function<void(bool)> on_change_;
  bool published_ready_ = false;
  std::optional<std::string> logged_reason_;  // the last reason Refresh logged ("" = ready)
};

}  // namespace rainbow::ops
