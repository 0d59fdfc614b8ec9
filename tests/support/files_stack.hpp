#pragma once
// Helpers for the tests of flow B (files) that run state-tracker and s3-converter as child processes
// against the real servers of the test stack.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/kafka/consumer.hpp"
#include "common/s3/client.hpp"
#include "rainbow/state_tracker.grpc.pb.h"
#include "tests/support/child_process.hpp"
#include "tests/support/grpc_probes.hpp"
#include "tests/support/s3_stack_env.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::files_test {

using namespace std::chrono_literals;
using testing::StackEnv;

inline s3::S3Config S3FromEnv() { return rainbow::testing::S3ConfigFromStack(); }

inline std::map<std::string, std::string> SharedEnv() {
  std::map<std::string, std::string> env = {{"KAFKA_BROKERS", StackEnv("KAFKA_BROKERS")},
                                            {"REDIS_URL", StackEnv("REDIS_URL")},
                                            {"S3_ENDPOINT", StackEnv("S3_ENDPOINT")},
                                            {"S3_REGION", StackEnv("S3_REGION")},
                                            {"S3_ACCESS_KEY", StackEnv("S3_ACCESS_KEY")},
                                            {"S3_SECRET_KEY", StackEnv("S3_SECRET_KEY")},
                                            {"LOG_LEVEL", "info"}};
  env.merge(testing::KafkaTopicEnv());
  return env;
}

// A service binary as a child process on free ports; waits for /readyz.
struct Service {
  Service(const std::string& bin, std::map<std::string, std::string> env)
      : grpc_port(testing::FreePort()), http_port(testing::FreePort()) {
    env["GRPC_ADDR"] = "127.0.0.1:" + std::to_string(grpc_port);
    env["HTTP_ADDR"] = "127.0.0.1:" + std::to_string(http_port);
    process = std::make_unique<testing::ChildProcess>(bin, std::vector<std::string>{}, env);
  }
  // True when /readyz answered 200 within the timeout.
  bool WaitReady(std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port) + "/readyz").first == 200)
        return true;
      if (process->Wait(0ms).has_value()) return false;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  // What gRPC health says of `service` ("" = the server) once it says `want`, or after 5 s: it
  // follows /readyz, re-read once a second. Waits up to 30 s for the port first (a call before it
  // listens would put the channel into reconnect backoff).
  std::string WaitGrpcHealth(const std::string& service, const std::string& want = "SERVING") {
    auto channel = grpc::CreateChannel(grpc_addr(), grpc::InsecureChannelCredentials());
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + 30s)) return "not listening";
    return testing::HealthStatusOnceIs(channel, service, want);
  }
  std::string Metrics() {
    return testing::HttpGet("http://127.0.0.1:" + std::to_string(http_port) + "/metrics").second;
  }
  std::string grpc_addr() const { return "127.0.0.1:" + std::to_string(grpc_port); }
  std::string Logs() const { return process->Stdout() + process->Stderr(); }

  int grpc_port;
  int http_port;
  std::unique_ptr<testing::ChildProcess> process;
};

inline std::unique_ptr<files::v1::FileStateService::Stub> TrackerStub(const std::string& addr) {
  return files::v1::FileStateService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
}

inline std::optional<files::v1::FileRecord> GetRecord(files::v1::FileStateService::Stub& stub,
                                                      const std::string& bucket, const std::string& key) {
  files::v1::GetRequest req;
  req.mutable_file()->set_bucket(bucket);
  req.mutable_file()->set_key(key);
  files::v1::FileRecord rec;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  if (!stub.Get(&ctx, req, &rec).ok()) return std::nullopt;
  return rec;
}

// Polls until the file reaches `state` (or the timeout passes); returns the last record seen.
inline std::optional<files::v1::FileRecord> WaitForState(files::v1::FileStateService::Stub& stub,
                                                         const std::string& bucket, const std::string& key,
                                                         files::v1::FileState state,
                                                         std::chrono::milliseconds timeout) {
  std::optional<files::v1::FileRecord> last;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    last = GetRecord(stub, bucket, key);
    if (last && last->state() == state) return last;
    std::this_thread::sleep_for(100ms);
  }
  return last;
}

// Collects files.state events (JSON) whose key starts with a prefix, on a background thread.
class StateEvents {
 public:
  // Sees what is published from construction on (files.state's history, which benchmarks make long, is
  // skipped).
  explicit StateEvents(std::string key_prefix) : prefix_(std::move(key_prefix)) {
    kafka::ConsumerConfig config{
        StackEnv("KAFKA_BROKERS"), testing::UniqueName("files-test"), {"files.state"}, "files-test"};
    config.tail = true;
    thread_ = std::thread([this, consumer = std::make_shared<kafka::Consumer>(config)] {
      while (!stop_) {
        auto m = consumer->Poll(200ms);
        if (!m || !m->value) continue;
        auto j = nlohmann::json::parse(*m->value, nullptr, false);
        if (!j.is_object() || j.value("key", "").rfind(prefix_, 0) != 0) continue;
        std::lock_guard lock(mu_);
        events_.push_back(std::move(j));
      }
      consumer->Close();
    });
  }
  ~StateEvents() {
    stop_ = true;
    thread_.join();
  }
  std::vector<nlohmann::json> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  // Events for key in state, waiting up to timeout for at least `min` of them.
  std::vector<nlohmann::json> Wait(const std::string& key, const std::string& state, size_t min,
                                   std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::vector<nlohmann::json> out;
      for (const auto& e : Events()) {
        if (e["key"] == key && e["state"] == state) out.push_back(e);
      }
      if (out.size() >= min || std::chrono::steady_clock::now() >= deadline) return out;
      std::this_thread::sleep_for(100ms);
    }
  }

 private:
  std::string prefix_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<nlohmann::json> events_;
  std::thread thread_;
};

// VmHWM (peak resident set) of a process, in bytes; 0 if unreadable.
inline uint64_t PeakRssBytes(pid_t pid) {
  const auto [rc, out] = testing::RunShell("grep VmHWM /proc/" + std::to_string(pid) + "/status");
  if (rc != 0) return 0;
  uint64_t kb = 0;
  for (char c : out) {
    if (c >= '0' && c <= '9') kb = kb * 10 + static_cast<uint64_t>(c - '0');
  }
  return kb * 1024;
}

}  // namespace rainbow::files_test
