#include "tests/support/stack_env.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>

namespace rainbow::testing {

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return prefix + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) + "-" +
         std::to_string(counter++);
}

std::string UniqueIdentifier(const std::string& prefix) {
  std::string s = UniqueName(prefix);
  for (char& c : s) {
    if (c == '-') c = '_';
  }
  return s;
}

}  // namespace rainbow::testing
