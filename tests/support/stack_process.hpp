#pragma once

#include <sys/types.h>

#include <string>

namespace rainbow::testing {

// The pid of a running test-stack component, read from $RAINBOW_STACK_DIR/<component>.pid (what
// scripts/stack records). Throws if the file is missing or does not hold a pid.
pid_t StackComponentPid(const std::string& component);

// Freezes a stack component with SIGSTOP (it keeps its sockets open but answers nothing: a hung server,
// not a dead one) and thaws it with SIGCONT. Throws if the signal cannot be sent.
void FreezeStackComponent(const std::string& component);
void ThawStackComponent(const std::string& component);

}  // namespace rainbow::testing
