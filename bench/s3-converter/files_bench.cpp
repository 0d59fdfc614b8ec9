// Flow B benchmarks (bench/s3-converter/run drives them in one run and prints the ratios):
//   gen       write a generated product JSON array of --mb MB to a local file
//   convert   in-memory JSON -> XML MB/s of a local file (our converter)
//   s3        on the same MinIO: raw GET+PUT copy of an object (the limit) vs S3 -> S3 conversion, and
//             the bound for the conversion's output size (GET the JSON, PUT the finished XML)
//   tracker   Register transitions/s through state-tracker's gRPC (and the full claim/complete cycle)
//   register-script   print the Register Lua script (for redis-benchmark)
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <absl/synchronization/mutex.h>
#include <sys/resource.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "bench/s3-converter/tracker_lean_load.hpp"
#include "common/s3/client.hpp"
#include "common/security/grpc_security.hpp"
#include "rainbow/state_tracker.grpc.pb.h"
#include "services/s3-converter/src/chunk_queue.hpp"
#include "services/s3-converter/src/s3_pipeline.hpp"
#include "services/s3-converter/src/xml_converter.hpp"
#include "services/state-tracker/src/state_store.hpp"

namespace {

using namespace rainbow;
using rainbow::files_bench::ClaimFor;
using rainbow::files_bench::CompleteFor;
using rainbow::files_bench::RegisterFor;
using Clock = std::chrono::steady_clock;

double Secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// CPU seconds (user + system) this process has used so far.
double SelfCpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds (user + system) process `pid` has used so far (fields 14 and 15 of /proc/pid/stat);
// 0 when pid is 0 or unreadable. Lets the benchmark say how much of the S3 server's CPU each side costs.
double ProcessCpu(int pid) {
  if (pid <= 0) return 0;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') throw std::runtime_error(std::string("needs env var ") + name);
  return v;
}

// About `bytes` of a JSON array of seed-like product objects, produced chunk by chunk.
struct Generator {
  explicit Generator(uint64_t bytes) : target(bytes) {}
  size_t Read(char* out, size_t max) {
    while (pos == buf.size()) {
      if (done) return 0;
      buf.clear();
      pos = 0;
      if (records == 0) buf += "[\n";
      while (buf.size() < (256u << 10) && produced + buf.size() < target) {
        if (records) buf += ",\n";
        buf +=
            R"({"ean":")" + std::to_string(5713447649590 + records) + R"(","styleNumber":")" +
            std::to_string(16050217 + records % 1000) +
            R"(","styleOption":"16050217_Black","size":"M","countryOfOrigin":[{"language":"English","value":"BD"}],"itemSellingPrices":[{"priceType":"EDI Retail Price","priceCurrency":"Euro","price":39.99,"validInRegion":"Austria","validFrom":"1899-12-30T00:00:00.000Z","validUntil":"9999-12-31T00:00:00.000Z"},{"priceType":"EDI Retail Price","priceCurrency":"US Dollar","price":55.0,"validInRegion":"USA"}],"itemGrossPrices":[{"priceType":"EDI Gross Price","priceCurrency":"Euro","price":14.28}],"styleLifeCycle":{"createdOn":"2018-09-13T20:34:00.000Z","articleStatus":"created","enrichmentStatus":"ready"},"color":"Black","brandName":"Metro Mode & Co","productCategory":"Knit","gender":"Female","fabricCompositions":[{"language":"English","value":"75% Viscose, 25% Nylon"}]})";
        ++records;
      }
      if (produced + buf.size() >= target) {
        buf += "\n]\n";
        done = true;
      }
      produced += buf.size();
    }
    const size_t n = std::min(max, buf.size() - pos);
    std::memcpy(out, buf.data() + pos, n);
    pos += n;
    return n;
  }
  uint64_t target;
  uint64_t produced = 0;
  uint64_t records = 0;
  std::string buf;
  size_t pos = 0;
  bool done = false;
};

s3::S3Config S3FromEnv() {
  s3::S3Config c;
  c.endpoint = Env("S3_ENDPOINT");
  c.region = Env("S3_REGION");
  c.access_key = Env("S3_ACCESS_KEY");
  c.secret_key = Env("S3_SECRET_KEY");
  if (const char* ca = std::getenv("S3_CA_FILE")) c.ca_file = ca;
  return c;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Gen(const std::string& out, uint64_t mb) {
  Generator g(mb << 20);
  std::ofstream f(out, std::ios::binary);
  char buf[1 << 16];
  while (size_t n = g.Read(buf, sizeof(buf))) f.write(buf, static_cast<std::streamsize>(n));
  std::cout << "{\"bytes\":" << g.produced << ",\"records\":" << g.records << "}\n";
  return 0;
}

int Convert(const std::string& path, int rounds) {
  const std::string json = ReadFile(path);
  double best = 1e9;
  uint64_t out_bytes = 0;
  for (int i = 0; i < rounds; ++i) {
    uint64_t n = 0;
    const auto t0 = Clock::now();
    converter::XmlConverter c({}, [&](std::string_view s) { n += s.size(); });
    c.Feed(json);
    c.Finish();
    best = std::min(best, Secs(t0, Clock::now()));
    out_bytes = n;
  }
  std::cout << "{\"bytes_in\":" << json.size() << ",\"bytes_out\":" << out_bytes << ",\"seconds\":" << best
            << ",\"mb_per_s\":" << static_cast<double>(json.size()) / 1e6 / best << "}\n";
  return 0;
}

// What one timed transfer cost: wall seconds, our CPU seconds and the S3 server's.
struct Cost {
  double secs = 1e9, self_cpu = 0, server_cpu = 0;
};

int S3(const std::string& path, uint64_t mb, const std::string& prefix, const std::string& mode, int rounds,
       int server_pid) {
  s3::S3Client s3c(S3FromEnv());
  const s3::BucketName raw("raw"), converted("converted");
  const s3::ObjectKey src(prefix + "/input.json");
  converter::PipelineOptions opts;  // the service's defaults
  std::string json;
  if (!path.empty()) {
    json = ReadFile(path);
  } else {
    Generator g(mb << 20);
    char buf[1 << 16];
    while (size_t n = g.Read(buf, sizeof(buf))) json.append(buf, n);
  }
  s3c.UploadMultipart(raw, src, s3::MemorySource(json), {16ull << 20, 4});
  const uint64_t bytes = json.size();
  // The XML our converter makes of it, converted before the clock starts (for the bound below).
  std::string xml;
  if (mode == "both" || mode == "bound") {
    converter::XmlConverter c(opts.xml, [&](std::string_view s) { xml.append(s); });
    c.Feed(json);
    c.Finish();
  }
  json = std::string();
  // (1) raw copy: the same ranged GETs piped through the same bounded queue into the same multipart
  // upload (part size and concurrency), no conversion: the limit of S3 -> S3 on this MinIO. Like the
  // conversion's output, each downloaded buffer is handed to the queue without a copy; the upload
  // reads whole parts from it, and UploadPart hashes each part once (the checksum S3 verifies).
  auto copy_once = [&] {
    const auto t0 = Clock::now();
    converter::ChunkQueue q(opts.queue_bytes);
    std::thread down([&] {
      try {
        s3c.DownloadParallelBuffers(raw, src, opts.download_part_size, opts.download_concurrency,
                                    [&](std::string& c) { q.PushBuffer(c); });
        q.Close();
      } catch (...) {
        q.Fail(std::current_exception());
      }
    });
    s3c.UploadMultipart(converted, s3::ObjectKey(prefix + "/copy.json"),
                        [&](char* o, size_t m) { return q.Read(o, m); },
                        {opts.upload_part_size, opts.upload_concurrency});
    down.join();
    return Secs(t0, Clock::now());
  };
  // (2) the bound for this output: the same ranged GETs of the JSON (bytes dropped as they arrive)
  // while the finished XML is uploaded from memory by the same multipart upload. That is S3 -> S3
  // with a converter that costs nothing: no conversion making this XML can beat it on this machine.
  auto bound_once = [&] {
    const auto t0 = Clock::now();
    std::exception_ptr down_error;
    std::thread down([&] {
      try {
        s3c.DownloadParallelBuffers(raw, src, opts.download_part_size, opts.download_concurrency,
                                    [](std::string& c) { c.clear(); });
      } catch (...) {
        down_error = std::current_exception();
      }
    });
    try {
      s3c.UploadMultipart(converted, s3::ObjectKey(prefix + "/bound.xml"), s3::MemorySource(xml),
                          {opts.upload_part_size, opts.upload_concurrency});
    } catch (...) {
      down.join();
      throw;
    }
    down.join();
    if (down_error) std::rethrow_exception(down_error);
    return Secs(t0, Clock::now());
  };
  auto convert_once = [&](converter::ConvertResult& r) {
    const auto t0 = Clock::now();
    r = converter::ConvertObject(s3c, raw, src, "", converted, s3::ObjectKey(prefix + "/output.xml"), opts);
    return Secs(t0, Clock::now());
  };
  // Runs `once`, keeps the fastest round's figures in `best`.
  auto measure = [&](Cost& best, auto&& once) {
    const double cpu0 = SelfCpu(), srv0 = ProcessCpu(server_pid);
    const double secs = once();
    if (secs < best.secs) best = {secs, SelfCpu() - cpu0, ProcessCpu(server_pid) - srv0};
  };
  Cost copy, bound, conv;
  converter::ConvertResult r;
  auto runs = [&](const char* side) { return mode == "both" || mode == side; };
  for (int i = 0; i < rounds; ++i) {  // alternate, best of `rounds` each
    if (runs("copy")) measure(copy, copy_once);
    if (runs("bound")) measure(bound, bound_once);
    if (runs("convert")) measure(conv, [&] { return convert_once(r); });
  }
  s3c.DeleteObject(raw, src);
  for (const char* name : {"/copy.json", "/bound.xml", "/output.xml"}) {
    s3c.DeleteObject(converted, s3::ObjectKey(prefix + name));
  }
  // CPU seconds per GB of input, ours and the server's, for the fastest round of each.
  auto per_gb = [&](double cpu) { return cpu / (static_cast<double>(bytes) / 1e9); };
  std::cout << "{\"bytes_in\":" << bytes << ",\"bytes_out\":" << r.bytes_out
            << ",\"copy_seconds\":" << copy.secs
            << ",\"copy_mb_per_s\":" << static_cast<double>(bytes) / 1e6 / copy.secs
            << ",\"copy_cpu_s_per_gb\":" << per_gb(copy.self_cpu)
            << ",\"copy_server_cpu_s_per_gb\":" << per_gb(copy.server_cpu)
            << ",\"bound_bytes_out\":" << xml.size() << ",\"bound_seconds\":" << bound.secs
            << ",\"bound_mb_per_s\":" << static_cast<double>(bytes) / 1e6 / bound.secs
            << ",\"bound_cpu_s_per_gb\":" << per_gb(bound.self_cpu)
            << ",\"bound_server_cpu_s_per_gb\":" << per_gb(bound.server_cpu)
            << ",\"convert_seconds\":" << conv.secs
            << ",\"convert_mb_per_s\":" << static_cast<double>(bytes) / 1e6 / conv.secs
            << ",\"convert_cpu_s_per_gb\":" << per_gb(conv.self_cpu)
            << ",\"convert_server_cpu_s_per_gb\":" << per_gb(conv.server_cpu) << "}\n";
  return 0;
}

// The async load generator: one thread, one completion queue, `concurrency` calls outstanding at all
// times (a closed loop: each reply starts the slot's next call), like redis-benchmark's -c clients on
// its one event-loop thread. Phase 1: Register of unique keys. Phase 2: per slot, Register, Claim
// (1 file), Complete in sequence = 3 transitions per cycle.
struct AsyncLoad {
  enum class Stage { kRegister, kClaim, kComplete };
  struct Slot {
    int index = 0;
    uint64_t seq = 0;
    Stage stage = Stage::kRegister;
    std::unique_ptr<grpc::ClientContext> ctx;
    grpc::Status status;
    files::v1::RegisterResponse register_resp;
    files::v1::ClaimResponse claim_resp;
    files::v1::CompleteResponse complete_resp;
    std::unique_ptr<grpc::ClientAsyncResponseReader<files::v1::RegisterResponse>> register_rpc;
    std::unique_ptr<grpc::ClientAsyncResponseReader<files::v1::ClaimResponse>> claim_rpc;
    std::unique_ptr<grpc::ClientAsyncResponseReader<files::v1::CompleteResponse>> complete_rpc;
  };

  files::v1::FileStateService::Stub& stub;
  std::string prefix;
  int concurrency;
  std::atomic<uint64_t>& errors;

  // Runs one phase for `seconds`; returns {transitions, elapsed seconds}.
  std::pair<uint64_t, double> Run(bool cycle, double seconds) {
    grpc::CompletionQueue cq;
    std::vector<Slot> slots(static_cast<size_t>(concurrency));
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    uint64_t transitions = 0;
    const std::string tag = cycle ? "/c" : "/r";
    auto start_register = [&](Slot& s) {
      s.stage = Stage::kRegister;
      s.ctx = std::make_unique<grpc::ClientContext>();
      const auto req =
          RegisterFor(prefix + tag + std::to_string(s.index) + "-" + std::to_string(s.seq++) + ".json");
      s.register_rpc = stub.AsyncRegister(s.ctx.get(), req, &cq);
      s.register_rpc->Finish(&s.register_resp, &s.status, &s);
    };
    for (int i = 0; i < concurrency; ++i) {
      slots[static_cast<size_t>(i)].index = i;
      start_register(slots[static_cast<size_t>(i)]);
    }
    int outstanding = concurrency;
    void* got = nullptr;
    bool ok = false;
    while (outstanding > 0 && cq.Next(&got, &ok)) {
      auto& s = *static_cast<Slot*>(got);
      const bool fine = ok && s.status.ok();
      if (!fine) ++errors;
      if (fine && cycle && s.stage == Stage::kRegister) {
        s.stage = Stage::kClaim;
        s.ctx = std::make_unique<grpc::ClientContext>();
        s.claim_resp.Clear();
        s.claim_rpc = stub.AsyncClaim(s.ctx.get(), ClaimFor(s.index), &cq);
        s.claim_rpc->Finish(&s.claim_resp, &s.status, &s);
        continue;
      }
      if (fine && cycle && s.stage == Stage::kClaim) {
        if (s.claim_resp.files_size() == 0) {
          ++errors;
        } else {
          s.stage = Stage::kComplete;
          s.ctx = std::make_unique<grpc::ClientContext>();
          s.complete_rpc = stub.AsyncComplete(s.ctx.get(), CompleteFor(s.index, s.claim_resp.files(0)), &cq);
          s.complete_rpc->Finish(&s.complete_resp, &s.status, &s);
          continue;
        }
      } else if (fine) {
        transitions += cycle ? 3 : 1;  // a finished Register (phase 1) or Complete (phase 2)
      }
      if (Clock::now() < end) {
        start_register(s);
      } else {
        --outstanding;
      }
    }
    return {transitions, Secs(t0, Clock::now())};
  }
};

int Tracker(const std::string& addr, int concurrency, double seconds, const std::string& prefix,
            const std::string& client) {
  // Debian's abseil is built without NDEBUG: its per-lock deadlock detection would run inside gRPC.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto channel = rainbow::security::Connect(addr, rainbow::security::ClientFromProcessEnv());
  auto stub = files::v1::FileStateService::NewStub(channel);
  std::atomic<uint64_t> ops{0}, errors{0};
  // Both closed-loop clients run the Register phase, then the cycle phase; the client's own CPU per
  // Register shows what it takes from the 2 cores the tracker and Redis run on.
  auto closed_loop = [&](auto&& run_phase) {
    const double cpu0 = SelfCpu();
    const auto [registers, reg_secs] = run_phase(false);
    const double cpu1 = SelfCpu();
    const auto [cycle_ops, cycle_secs] = run_phase(true);
    std::cout << "{\"register_per_s\":" << static_cast<double>(registers) / reg_secs
              << ",\"cycle_transitions_per_s\":" << static_cast<double>(cycle_ops) / cycle_secs
              << ",\"client_us_per_register\":"
              << (registers > 0 ? 1e6 * (cpu1 - cpu0) / static_cast<double>(registers) : 0)
              << ",\"errors\":" << errors << "}\n";
    return 0;
  };
  if (client == "lean") {
    // The lean client speaks plaintext HTTP/2 without tokens: against a server with TLS or tokens it
    // would only measure refusals.
    const auto settings = rainbow::security::ClientFromProcessEnv();
    if (settings.tls() || !settings.token.empty()) {
      std::cerr << "files_bench: GRPC_CLIENT_CA_FILE or GRPC_CLIENT_TOKEN is set, and the lean client has "
                   "neither TLS nor tokens: use --client async or sync\n";
      return 2;
    }
    return closed_loop([&](bool cycle) {
      return files_bench::RunLeanTrackerLoad(addr, concurrency, cycle, seconds, prefix, errors);
    });
  }
  if (client == "async") {
    AsyncLoad load{*stub, prefix, concurrency, errors};
    return closed_loop([&](bool cycle) { return load.Run(cycle, seconds); });
  }
  // The sync client: `concurrency` threads, each one blocking call at a time.
  // Phase 1: Register (one PENDING transition each), `concurrency` threads for `seconds`.
  auto run = [&](auto&& body) {
    ops = 0;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    const auto t0 = Clock::now();
    for (int t = 0; t < concurrency; ++t) {
      threads.emplace_back([&, t] {
        for (uint64_t i = 0; !stop; ++i) body(t, i);
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& th : threads) th.join();
    return Secs(t0, Clock::now());
  };
  const double reg_secs = run([&](int t, uint64_t i) {
    const auto req = RegisterFor(prefix + "/r" + std::to_string(t) + "-" + std::to_string(i) + ".json");
    files::v1::RegisterResponse resp;
    grpc::ClientContext ctx;
    if (stub->Register(&ctx, req, &resp).ok()) {
      ++ops;
    } else {
      ++errors;
    }
  });
  const uint64_t registers = ops;
  // Phase 2: the full cycle per file: Register, Claim (1 file), Complete = 3 transitions.
  const double cycle_secs = run([&](int t, uint64_t i) {
    const auto req = RegisterFor(prefix + "/c" + std::to_string(t) + "-" + std::to_string(i) + ".json");
    files::v1::RegisterResponse rr;
    grpc::ClientContext c1;
    if (!stub->Register(&c1, req, &rr).ok()) return void(++errors);
    files::v1::ClaimResponse cr;
    grpc::ClientContext c2;
    if (!stub->Claim(&c2, ClaimFor(t), &cr).ok() || cr.files_size() == 0) return void(++errors);
    files::v1::CompleteResponse resp;
    grpc::ClientContext c3;
    if (stub->Complete(&c3, CompleteFor(t, cr.files(0)), &resp).ok()) {
      ops += 3;
    } else {
      ++errors;
    }
  });
  std::cout << "{\"register_per_s\":" << static_cast<double>(registers) / reg_secs
            << ",\"cycle_transitions_per_s\":" << static_cast<double>(ops) / cycle_secs
            << ",\"errors\":" << errors << "}\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"flow B benchmarks (see bench/s3-converter/run)"};
  app.require_subcommand(1);
  std::string file, prefix = "bench", addr;
  uint64_t mb = 256;
  int rounds = 3, concurrency = 8, s3_rounds = 2, server_pid = 0;
  std::string s3_mode = "both";
  double seconds = 10;
  auto* gen = app.add_subcommand("gen", "write a generated JSON file");
  gen->add_option("--out", file)->required();
  gen->add_option("--mb", mb);
  auto* conv = app.add_subcommand("convert", "in-memory conversion MB/s of a file");
  conv->add_option("--file", file)->required();
  conv->add_option("--rounds", rounds);
  auto* s3 = app.add_subcommand("s3", "raw S3 copy vs S3 -> S3 conversion");
  s3->add_option("--file", file, "use this file (else generate --mb MB)");
  s3->add_option("--mb", mb);
  s3->add_option("--prefix", prefix);
  s3->add_option("--mode", s3_mode, "both (all three sides, alternating), copy, bound or convert")
      ->check(CLI::IsMember({"both", "copy", "bound", "convert"}));
  s3->add_option("--rounds", s3_rounds, "best of this many rounds each");
  s3->add_option("--server-pid", server_pid, "also report this process's CPU (the S3 server)");
  auto* tr = app.add_subcommand("tracker", "state-tracker transitions/s over gRPC");
  tr->add_option("--addr", addr)->required();
  tr->add_option("--concurrency", concurrency);
  tr->add_option("--seconds", seconds);
  tr->add_option("--prefix", prefix);
  std::string client = "lean";
  tr->add_option("--client", client,
                 "lean: bench/common's nghttp2 client, one thread, one connection, --concurrency calls "
                 "outstanding; async: the same with the C++ gRPC library (a completion queue); sync: "
                 "--concurrency threads of blocking grpc++ calls")
      ->check(CLI::IsMember({"lean", "async", "sync"}));
  auto* script = app.add_subcommand("register-script", "print the Register Lua script");
  CLI11_PARSE(app, argc, argv);
  try {
    if (*gen) return Gen(file, mb);
    if (*conv) return Convert(file, rounds);
    if (*s3) return S3(file, mb, prefix, s3_mode, s3_rounds, server_pid);
    if (*tr) return Tracker(addr, concurrency, seconds, prefix, client);
    if (*script) {
      std::cout << state::RegisterScript().body;
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "files_bench: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
