#pragma once

#include <chrono>
#include <functional>
#include <optional>

namespace rainbow::cdc {

class CdcEngine;

// Waits up to the timeout for a termination signal; returns its number, or nullopt.
using SignalWait = std::function<std::optional<int>(std::chrono::milliseconds)>;

// Runs the engine on a thread of its own until it stops by itself (a malformed stream) or `wait` reports a
// signal, which asks the engine to drain (wait for Kafka's acks, confirm, end the stream). Returns the
// engine's exit code. Called once, from the main thread.
int RunUntilSignal(CdcEngine& engine, const SignalWait& wait);

}  // namespace rainbow::cdc
