#pragma once

#include <cstdlib>
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
