#include "bench/s3-converter/tracker_lean_load.hpp"

#include <vector>

#include "bench/common/grpc_h2_load.hpp"
#include "bench/common/tcp.hpp"

namespace rainbow::files_bench {
namespace {

constexpr std::string_view kRegister = "/rainbow.files.v1.FileStateService/Register";
constexpr std::string_view kClaim = "/rainbow.files.v1.FileStateService/Claim";
constexpr std::string_view kComplete = "/rainbow.files.v1.FileStateService/Complete";

enum class Stage { kRegister, kClaim, kComplete };

// One closed-loop caller: which call of its cycle comes next, and the file a Claim gave it.
struct Slot {
  Stage stage = Stage::kRegister;
  uint64_t seq = 0;
  files::v1::FileRecord claimed;
};

}  // namespace

files::v1::RegisterRequest RegisterFor(const std::string& key) {
  files::v1::RegisterRequest req;
  req.mutable_file()->set_bucket("raw");
  req.mutable_file()->set_key(key);
  req.mutable_file()->set_etag("e");
  return req;
}

files::v1::ClaimRequest ClaimFor(int slot) {
  files::v1::ClaimRequest claim;
  claim.set_worker_id("bench-" + std::to_string(slot));
  claim.set_max_files(1);
  claim.set_lease_ms(60'000);
  return claim;
}

files::v1::CompleteRequest CompleteFor(int slot, const files::v1::FileRecord& claimed) {
  files::v1::CompleteRequest done;
  *done.mutable_file() = claimed.file();
  done.set_worker_id("bench-" + std::to_string(slot));
  done.set_attempt(claimed.attempts());
  done.set_output_key("x.xml");
  done.set_sha256("00");
  return done;
}

std::pair<uint64_t, double> RunLeanTrackerLoad(const std::string& addr, int concurrency, bool cycle,
                                               double seconds, const std::string& prefix,
                                               std::atomic<uint64_t>& errors) {
  const auto [host, port] = bench::SplitHostPort(addr);
  std::vector<Slot> slots(static_cast<size_t>(concurrency));
  uint64_t transitions = 0;
  const std::string tag = prefix + (cycle ? "/c" : "/r");
  bench::GrpcH2Load load(
      host, port, 1, concurrency,
      [&](int i, bench::UnaryRequest& req) {
        auto& s = slots[static_cast<size_t>(i)];
        switch (s.stage) {
          case Stage::kRegister:
            req.path = kRegister;
            req.message = RegisterFor(tag + std::to_string(i) + "-" + std::to_string(s.seq++) + ".json")
                              .SerializeAsString();
            break;
          case Stage::kClaim:
            req.path = kClaim;
            req.message = ClaimFor(i).SerializeAsString();
            break;
          case Stage::kComplete:
            req.path = kComplete;
            req.message = CompleteFor(i, s.claimed).SerializeAsString();
            break;
        }
      },
      [&](int i, const bench::UnaryReply& reply) {
        auto& s = slots[static_cast<size_t>(i)];
        const Stage was = s.stage;
        s.stage = Stage::kRegister;
        if (!reply.ok) {
          ++errors;
          return;
        }
        if (!cycle) {
          ++transitions;
        } else if (was == Stage::kRegister) {
          s.stage = Stage::kClaim;
        } else if (was == Stage::kClaim) {
          files::v1::ClaimResponse claimed;
          if (!claimed.ParseFromArray(reply.message.data(), static_cast<int>(reply.message.size())) ||
              claimed.files_size() == 0) {
            ++errors;
            return;
          }
          s.claimed = claimed.files(0);
          s.stage = Stage::kComplete;
        } else {
          transitions += 3;
        }
      });
  const auto t0 = bench::Clock::now();
  load.Run(t0 + std::chrono::duration_cast<bench::Clock::duration>(std::chrono::duration<double>(seconds)));
  return {transitions, std::chrono::duration<double>(bench::Clock::now() - t0).count()};
}

}  // namespace rainbow::files_bench
