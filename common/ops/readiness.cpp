#include "common/ops/readiness.hpp"

#include <stdexcept>

#include "common/logging/log.hpp"

namespace rainbow::ops {

void Readiness::AddCheck(std::string name, Check check) {
  std::lock_guard lock(mu_);
  conditions_.push_back({std::move(name), std::move(check), ""});
}

void Readiness::AddCondition(std::string name, std::string reason) {
  std::lock_guard lock(mu_);
  conditions_.push_back({std::move(name), nullptr, std::move(reason)});
}

void Readiness::Set(const std::string& name, std::string problem) {
  {
    std::lock_guard lock(mu_);
    Condition* found = nullptr;
    for (auto& c : conditions_) {
      if (c.name == name && !c.check) found = &c;
    }
    if (found == nullptr) throw std::invalid_argument("readiness: no condition named " + name);
    found->problem = std::move(problem);
  }
  Refresh();
}

void Readiness::SetDraining() {
  {
    std::lock_guard lock(mu_);
    draining_ = true;
  }
  Refresh();
}

bool Readiness::draining() const {
  std::lock_guard lock(mu_);
  return draining_;
}

std::string Readiness::NotReadyReason() const {
  std::lock_guard lock(mu_);
  if (draining_) return "shutting down";
  for (const auto& c : conditions_) {
    std::string problem;
    if (c.check) {
      try {
        problem = c.check();
      } catch (const std::exception& e) {
        problem = c.name + ": " + e.what();
      }
    } else {
      problem = c.problem;
    }
    if (!problem.empty()) return problem;
  }
  return "";
}

std::vector<std::string> Readiness::FailingComponents() const {
  std::lock_guard lock(mu_);
  if (draining_) return {"draining"};
  std::vector<std::string> failing;
  for (const auto& c : conditions_) {
    bool unmet = false;
    if (c.check) {
      try {
        unmet = !c.check().empty();
      } catch (const std::exception&) {
        unmet = true;
      }
    } else {
      unmet = !c.problem.empty();
    }
    if (unmet) failing.push_back(c.name);
  }
  return failing;
}

void Readiness::Refresh() {
  std::lock_guard publishing(publish_mu_);
  const std::string reason = NotReadyReason();
  const bool ready = reason.empty();
  // Every new reason is logged, not only flips: /readyz names the failing part, the log says why.
  if (reason != logged_reason_) {
    logged_reason_ = reason;
    if (ready) {
      log::Info("ready");
    } else {
      log::Warn("not ready", {{"reason", reason}});
    }
  }
  if (ready == published_ready_) return;
  published_ready_ = ready;
  if (on_change_) on_change_(ready);
}

void Readiness::OnChange(std::function<void(bool ready)> on_change) {
  std::lock_guard publishing(publish_mu_);
  on_change_ = std::move(on_change);
  if (on_change_) on_change_(published_ready_);
}

}  // namespace rainbow::ops
