#include "services/state-tracker/src/grpc_service.hpp"

#include "common/error/error.hpp"
#include "common/logging/log.hpp"
#include "common/redis/client.hpp"
#include "common/security/grpc_security.hpp"
#include "common/security/scopes.hpp"
#include "services/state-tracker/src/notification.hpp"

namespace rainbow::state {

namespace {

files::v1::FileState ToProtoState(FileState s) {
  switch (s) {
    case FileState::kPending:
      return files::v1::PENDING;
    case FileState::kInProgress:
      return files::v1::IN_PROGRESS;
    case FileState::kCompleted:
      return files::v1::COMPLETED;
    case FileState::kFailed:
      return files::v1::FAILED;
    case FileState::kRemoved:
      return files::v1::REMOVED;
  }
  return files::v1::FILE_STATE_UNSPECIFIED;
}

files::v1::FileState ToProtoState(const std::string& s) {
  auto parsed = ParseFileState(s);
  return parsed ? ToProtoState(*parsed) : files::v1::FILE_STATE_UNSPECIFIED;
}

// Maps store exceptions to gRPC status in one place (their error::Kind, by common/error).
template <typename F>
grpc::Status Guard(const char* op, F&& f) {
  try {
    return f();
  } catch (const redis::RedisError& e) {
    log::Warn("redis error", {{"op", op}, {"error", e.what()}});
    // Even an error reply: the scripts do not fail on input, so Redis itself is in trouble.
    return {grpc::StatusCode::UNAVAILABLE, std::string("redis: ") + e.what()};
  } catch (const error::Error& e) {
    return error::ToGrpcStatus(e);
  } catch (const std::exception& e) {
    log::Error("internal error", {{"op", op}, {"error", e.what()}});
    return error::ToGrpcStatus(e);
  }
}

// What a caller may store in Redis, per field: S3's own limits where it has them (bucket names, object
// keys), generous ones elsewhere. Over a limit is INVALID_ARGUMENT naming the field, not memory growth.
constexpr size_t kMaxBucketBytes = 63;
constexpr size_t kMaxKeyBytes = 1024;
constexpr size_t kMaxEtagBytes = 256;
constexpr size_t kMaxWorkerIdBytes = 256;
constexpr size_t kMaxSha256Bytes = 128;
constexpr size_t kMaxErrorBytes = 4096;  // longer failure texts are cut, not refused: the failure counts
constexpr uint32_t kMaxLeaseMs = 3'600'000;

grpc::Status TooLong(const char* field, size_t max) {
  return {grpc::StatusCode::INVALID_ARGUMENT,
          std::string(field) + " is longer than " + std::to_string(max) + " bytes"};
}

grpc::Status CheckRef(const files::v1::FileRef& f, bool need_etag) {
  if (f.bucket().empty() || f.key().empty() || (need_etag && f.etag().empty())) {
    return {grpc::StatusCode::INVALID_ARGUMENT, need_etag ? "file.bucket, file.key and file.etag are required"
                                                          : "file.bucket and file.key are required"};
  }
  if (f.bucket().size() > kMaxBucketBytes) return TooLong("file.bucket", kMaxBucketBytes);
  if (f.key().size() > kMaxKeyBytes) return TooLong("file.key", kMaxKeyBytes);
  if (f.etag().size() > kMaxEtagBytes) return TooLong("file.etag", kMaxEtagBytes);
  return grpc::Status::OK;
}

grpc::Status CheckWorker(const std::string& worker_id) {
  if (worker_id.empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "worker_id is required"};
  if (worker_id.size() > kMaxWorkerIdBytes) return TooLong("worker_id", kMaxWorkerIdBytes);
  return grpc::Status::OK;
}

grpc::Status CheckLease(uint32_t lease_ms) {
  if (lease_ms > kMaxLeaseMs) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "lease_ms must be at most " + std::to_string(kMaxLeaseMs) + " (0: the default lease)"};
  }
  return grpc::Status::OK;
}

// A failure text cut to kMaxErrorBytes, on a UTF-8 character boundary.
std::string BoundedError(const std::string& error) {
  if (error.size() <= kMaxErrorBytes) return error;
  size_t end = kMaxErrorBytes;
  while (end > 0 && (static_cast<unsigned char>(error[end]) & 0xC0) == 0x80) --end;
  return error.substr(0, end) + " [cut]";
}

}  // namespace

void ToProto(const FileRecord& r, files::v1::FileRecord* out) {
  auto* f = out->mutable_file();
  f->set_bucket(r.bucket);
  f->set_key(r.key);
  f->set_etag(r.etag);
  out->set_state(ToProtoState(r.state));
  out->set_attempts(r.attempts);
  out->set_size(r.size);
  out->set_worker_id(r.worker_id);
  out->set_lease_expires_ms(r.lease_expires_ms);
  out->set_output_key(r.output_key);
  out->set_sha256(r.sha256);
  out->set_error(r.error);
  out->set_retryable(r.retryable);
  for (const auto& t : r.history) {
    auto* h = out->add_history();
    h->set_from(ToProtoState(t.from));
    h->set_to(ToProtoState(t.to));
    h->set_ts_ms(t.ts_ms);
    h->set_worker_id(t.worker_id);
    h->set_error(t.error);
  }
}

namespace {

// Starts an asynchronous store call for a callback-API handler: `start(done)` queues it; `done` gets the
// outcome on whichever thread ran the Redis batch (maybe this one, before Serve returns: finishing a
// reactor inside its handler is allowed) and `finish(value)` maps it (through Guard) to the status.
template <typename T, typename Start, typename Finish>
grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx, const char* op, Start&& start,
                                Finish finish) {
  auto* reactor = ctx->DefaultReactor();
  try {
    start([reactor, op, finish = std::move(finish)](AsyncResult<T> outcome) mutable {
      reactor->Finish(Guard(op, [&] { return finish(outcome.get()); }));
    });
  } catch (const std::exception& e) {  // not queued (out of memory)
    reactor->Finish({grpc::StatusCode::UNAVAILABLE, e.what()});
  }
  return reactor;
}

grpc::ServerUnaryReactor* Reject(grpc::CallbackServerContext* ctx, const grpc::Status& status) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* FileStateGrpcService::Register(grpc::CallbackServerContext* ctx,
                                                         const files::v1::RegisterRequest* req,
                                                         files::v1::RegisterResponse* resp) {
  if (auto s = security::Authorize(auth_, *ctx, security::scope::kFilesWrite); !s.ok()) return Reject(ctx, s);
  if (auto s = CheckRef(req->file(), true); !s.ok()) return Reject(ctx, s);
  if (!req->sequencer().empty() && !IsSequencer(req->sequencer())) {
    return Reject(ctx,
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "sequencer must be 1 to 64 hex digits"));
  }
  return Serve<RegisterResult>(
      ctx, "Register",
      [&](Done<RegisterResult> done) {
        store_.RegisterAsync(req->file().bucket(), req->file().key(), req->file().etag(), req->size(),
                             req->sequencer(), std::move(done));
      },
      [this, resp](RegisterResult& r) {
        if (r.created) ReportTransition(r.record, metrics_, "registered");
        ToProto(r.record, resp->mutable_record());
        resp->set_created(r.created);
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* FileStateGrpcService::Claim(grpc::CallbackServerContext* ctx,
                                                      const files::v1::ClaimRequest* req,
                                                      files::v1::ClaimResponse* resp) {
  if (auto s = security::Authorize(auth_, *ctx, security::scope::kFilesWrite); !s.ok()) return Reject(ctx, s);
  if (auto s = CheckWorker(req->worker_id()); !s.ok()) return Reject(ctx, s);
  if (auto s = CheckLease(req->lease_ms()); !s.ok()) return Reject(ctx, s);
  const auto started = std::chrono::steady_clock::now();
  const uint32_t n = req->max_files() == 0 ? 1 : std::min<uint32_t>(req->max_files(), 1000);
  const auto lease = req->lease_ms() == 0 ? default_lease_ : std::chrono::milliseconds(req->lease_ms());
  return Serve<std::vector<FileRecord>>(
      ctx, "Claim",
      [&](Done<std::vector<FileRecord>> done) {
        store_.ClaimAsync(req->worker_id(), n, lease, std::move(done));
      },
      [this, resp, started](std::vector<FileRecord>& files) {
        metrics_.claim_latency.Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        for (const auto& f : files) {
          ReportTransition(f, metrics_, "claimed");
          ToProto(f, resp->add_files());
        }
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* FileStateGrpcService::Heartbeat(grpc::CallbackServerContext* ctx,
                                                          const files::v1::HeartbeatRequest* req,
                                                          files::v1::HeartbeatResponse* resp) {
  if (auto s = security::Authorize(auth_, *ctx, security::scope::kFilesWrite); !s.ok()) return Reject(ctx, s);
  if (auto s = CheckRef(req->file(), false); !s.ok()) return Reject(ctx, s);
  if (auto s = CheckWorker(req->worker_id()); !s.ok()) return Reject(ctx, s);
  if (auto s = CheckLease(req->lease_ms()); !s.ok()) return Reject(ctx, s);
  const auto lease = req->lease_ms() == 0 ? default_lease_ : std::chrono::milliseconds(req->lease_ms());
  return Serve<int64_t>(
      ctx, "Heartbeat",
      [&](Done<int64_t> done) {
        store_.HeartbeatAsync(req->file().bucket(), req->file().key(), req->worker_id(), req->attempt(),
                              lease, std::move(done));
      },
      [resp](int64_t& expires) {
        resp->set_lease_expires_ms(expires);
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* FileStateGrpcService::Complete(grpc::CallbackServerContext* ctx,
                                                         const files::v1::CompleteRequest* req,
                                                         files::v1::CompleteResponse* resp) {
  if (auto s = security::Authorize(auth_, *ctx, security::scope::kFilesWrite); !s.ok()) return Reject(ctx, s);
  if (auto s = CheckRef(req->file(), false); !s.ok()) return Reject(ctx, s);
  if (req->worker_id().empty() || req->output_key().empty() || req->sha256().empty()) {
    return Reject(ctx, {grpc::StatusCode::INVALID_ARGUMENT, "worker_id, output_key and sha256 are required"});
  }
  if (auto s = CheckWorker(req->worker_id()); !s.ok()) return Reject(ctx, s);
  if (req->output_key().size() > kMaxKeyBytes) return Reject(ctx, TooLong("output_key", kMaxKeyBytes));
  if (req->sha256().size() > kMaxSha256Bytes) return Reject(ctx, TooLong("sha256", kMaxSha256Bytes));
  return Serve<CompleteResult>(
      ctx, "Complete",
      [&](Done<CompleteResult> done) {
        store_.CompleteAsync(req->file().bucket(), req->file().key(), req->worker_id(), req->attempt(),
                             req->output_key(), req->sha256(), std::move(done));
      },
      [this, resp](CompleteResult& r) {
        // A repeated Complete (the reply of the first was lost) is not a new transition.
        if (!r.repeated) ReportTransition(r.record, metrics_, "completed");
        ToProto(r.record, resp->mutable_record());
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* FileStateGrpcService::Fail(grpc::CallbackServerContext* ctx,
                                                     const files::v1::FailRequest* req,
                                                     files::v1::FailResponse* resp) {
  if (auto s = security::Authorize(auth_, *ctx, security::scope::kFilesWrite); !s.ok()) return Reject(ctx, s);
  if (auto s = CheckRef(req->file(), false); !s.ok()) return Reject(ctx, s);
  if (auto s = CheckWorker(req->worker_id()); !s.ok()) return Reject(ctx, s);
  return Serve<FailResult>(
      ctx, "Fail",
      [&](Done<FailResult> done) {
        store_.FailAsync(req->file().bucket(), req->file().key(), req->worker_id(), req->attempt(),
                         req->error().empty() ? "unspecified error" : BoundedError(req->error()),
                         req->retryable(), std::move(done),
                         req->source_removed()   ? FailCause::kSourceRemoved
                         : req->infrastructure() ? FailCause::kInfrastructure
                                                 : FailCause::kFile);
      },
      [this, resp](FailResult& r) {
        ReportTransition(r.record, metrics_,
                         r.record.state == FileState::kRemoved ? "source object removed" : "failed");
        ToProto(r.record, resp->mutable_record());
        return grpc::Status::OK;
      });
}

grpc::Status FileStateGrpcService::Get(grpc::ServerContext* ctx, const files::v1::GetRequest* req,
                                       files::v1::FileRecord* resp) {
  if (auto s = security::Authorize(auth_, *ctx, security::scope::kFilesRead); !s.ok()) return s;
  if (auto s = CheckRef(req->file(), false); !s.ok()) return s;
  return Guard("Get", [&] {
    const auto r = store_.Get(req->file().bucket(), req->file().key());
    if (!r)
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          "no file " + FileId(req->file().bucket(), req->file().key()));
    ToProto(*r, resp);
    return grpc::Status::OK;
  });
}

grpc::Status FileStateGrpcService::List(grpc::ServerContext* ctx, const files::v1::ListRequest* req,
                                        files::v1::ListResponse* resp) {
  if (auto s = security::Authorize(auth_, *ctx, security::scope::kFilesRead); !s.ok()) return s;
  FileState state;
  switch (req->state()) {
    case files::v1::PENDING:
      state = FileState::kPending;
      break;
    case files::v1::IN_PROGRESS:
      state = FileState::kInProgress;
      break;
    case files::v1::COMPLETED:
      state = FileState::kCompleted;
      break;
    case files::v1::FAILED:
      state = FileState::kFailed;
      break;
    case files::v1::REMOVED:
      state = FileState::kRemoved;
      break;
    default:
      return {grpc::StatusCode::INVALID_ARGUMENT, "state is required"};
  }
  return Guard("List", [&] {
    const auto page =
        store_.List(state, std::min<uint32_t>(req->limit() == 0 ? 100 : req->limit(), 1000), req->cursor());
    for (const auto& f : page.files) ToProto(f, resp->add_files());
    resp->set_next_cursor(page.next_cursor);
    return grpc::Status::OK;
  });
}

grpc::Status FileStateGrpcService::Stats(grpc::ServerContext* ctx, const files::v1::StatsRequest*,
                                         files::v1::StatsResponse* resp) {
  if (auto s = security::Authorize(auth_, *ctx, security::scope::kFilesRead); !s.ok()) return s;
  return Guard("Stats", [&] {
    const auto s = store_.GetStats();
    resp->set_pending(s.pending);
    resp->set_in_progress(s.in_progress);
    resp->set_completed(s.completed);
    resp->set_failed(s.failed);
    resp->set_removed(s.removed);
    return grpc::Status::OK;
  });
}

grpc::Status FileStateGrpcService::Redrive(grpc::ServerContext* ctx, const files::v1::RedriveRequest* req,
                                           files::v1::RedriveResponse* resp) {
  if (auto s = security::Authorize(auth_, *ctx, security::scope::kFilesAdmin); !s.ok()) return s;
  if (req->bucket().empty() && (!req->key().empty() || !req->key_prefix().empty())) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "key and key_prefix need a bucket"};
  }
  if (!req->key().empty() && !req->key_prefix().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "give key or key_prefix, not both"};
  }
  return Guard("Redrive", [&] {
    const auto n = store_.Redrive(req->bucket(), req->key(), req->key_prefix());
    log::Info(
        "redrive",
        {{"bucket", req->bucket()}, {"key", req->key()}, {"key_prefix", req->key_prefix()}, {"redriven", n}});
    resp->set_redriven(n);
    return grpc::Status::OK;
  });
}

}  // namespace rainbow::state
