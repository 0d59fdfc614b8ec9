#pragma once

#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>

namespace rainbow::testing {

// Integration tests run against the real servers of the test stack (scripts/stack --test up); its
// addresses arrive as env vars (scripts/stack --test env). A missing var is a broken harness, not a
// reason to skip: the test fails and names the var.
inline std::string StackEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(std::string("integration test needs env var ") + name +
                             " (run through scripts/test, or eval \"$(scripts/stack --test env)\")");
  }
  return v;
}

// How services started by a test replicate the topics they create: what the stack exports
// (KAFKA_TOPIC_REPLICATION_FACTOR, KAFKA_TOPIC_MIN_INSYNC_REPLICAS; 1 and 1 on the single-broker stack).
// Every test that starts a service adds these to its env, since the services' defaults (3 and 2) need
// three brokers.
inline std::map<std::string, std::string> KafkaTopicEnv() {
  return {{"KAFKA_TOPIC_REPLICATION_FACTOR", StackEnv("KAFKA_TOPIC_REPLICATION_FACTOR")},
          {"KAFKA_TOPIC_MIN_INSYNC_REPLICAS", StackEnv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS")}};
}

// Runs `scripts/stack --test <args>` (the RAINBOW_STACK var holds the command) and returns its exit code.
inline int StackCommand(const std::string& args) {
  const std::string cmd = StackEnv("RAINBOW_STACK") + " " + args + " >/dev/null 2>&1";
  return std::system(cmd.c_str());
}

// A name unique to this process run, so reruns against a long-lived stack never collide.
std::string UniqueName(const std::string& prefix);
// The same as an SQL identifier (schema, database, slot names): '-' becomes '_'.
std::string UniqueIdentifier(const std::string& prefix);

}  // namespace rainbow::testing
