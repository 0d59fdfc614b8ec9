// files_bench's default tracker load generator: the state-tracker's FileStateService driven through
// bench/common's lean HTTP/2 client (one connection, `concurrency` calls outstanding on one thread),
// the way redis-benchmark drives Redis with its clients on one event loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "rainbow/state_tracker.pb.h"

namespace rainbow::files_bench {

// The requests of the benchmark's cycle, shared by every tracker client of files_bench.
// A Register of bucket "raw", key `key`, etag "e".
files::v1::RegisterRequest RegisterFor(const std::string& key);
// A Claim of one file with a 60 s lease, for worker "bench-<slot>".
files::v1::ClaimRequest ClaimFor(int slot);
// The Complete of a claimed file by worker "bench-<slot>" (the attempt fences it).
files::v1::CompleteRequest CompleteFor(int slot, const files::v1::FileRecord& claimed);

// Runs one phase for `seconds` against host:port: Register of unique keys under `prefix` (1
// transition each), or with `cycle` Register, Claim (1 file), Complete in sequence per slot (3
// transitions per finished cycle). Returns {transitions, elapsed seconds}; failed calls count into
// `errors`.
std::pair<uint64_t, double> RunLeanTrackerLoad(const std::string& addr, int concurrency, bool cycle,
                                               double seconds, const std::string& prefix,
                                               std::atomic<uint64_t>& errors);

}  // namespace rainbow::files_bench
