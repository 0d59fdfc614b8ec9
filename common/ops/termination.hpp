#pragma once

#include <chrono>
#include <optional>

namespace rainbow::ops {

// SIGTERM/SIGINT handling without async-signal-unsafe handlers: main blocks both signals before it
// starts any thread (threads inherit the mask), then one thread waits for them with sigtimedwait and
// drives the graceful drain.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives (or the timeout passes); returns the signal number.
std::optional<int> WaitForTerminationSignal(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

}  // namespace rainbow::ops
