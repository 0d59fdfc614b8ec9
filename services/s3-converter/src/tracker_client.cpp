#include "services/s3-converter/src/tracker_client.hpp"

#include "common/security/grpc_security.hpp"

namespace rainbow::converter {

namespace {

// Lease lost: another worker holds the file now, or it is no longer IN_PROGRESS.
bool LeaseLost(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
         s.error_code() == grpc::StatusCode::NOT_FOUND;
}

[[noreturn]] void Throw(const char* op, const grpc::Status& s) {
  throw TrackerUnavailable(std::string("state-tracker ") + op + ": " + s.error_message() + " (code " +
                           std::to_string(static_cast<int>(s.error_code())) + ")");
}

}  // namespace

TrackerClient::TrackerClient(const std::string& address, const security::ClientConfig& client,
                             std::chrono::milliseconds deadline)
    : stub_(files::v1::FileStateService::NewStub(security::Connect(address, client))), deadline_(deadline) {}

std::unique_ptr<grpc::ClientContext> TrackerClient::Context(std::chrono::milliseconds wait) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    (wait.count() > 0 ? std::min(wait, deadline_) : deadline_));
  return ctx;
}

std::vector<files::v1::FileRecord> TrackerClient::Claim(const std::string& worker_id, uint32_t max_files,
                                                        std::chrono::milliseconds lease) {
  files::v1::ClaimRequest req;
  req.set_worker_id(worker_id);
  req.set_max_files(max_files);
  req.set_lease_ms(static_cast<uint32_t>(lease.count()));
  files::v1::ClaimResponse resp;
  auto ctx = Context();
  const auto s = stub_->Claim(ctx.get(), req, &resp);
  if (!s.ok()) Throw("Claim", s);
  return {resp.files().begin(), resp.files().end()};
}

namespace {

// A transition request on a file this worker holds: the file, the worker and its attempt (the fence).
template <typename Request>
Request Fenced(const files::v1::FileRef& file, const std::string& worker_id, uint32_t attempt) {
  Request req;
  *req.mutable_file() = file;
  req.set_worker_id(worker_id);
  req.set_attempt(attempt);
  return req;
}

}  // namespace

template <typename Request, typename Response>
bool TrackerClient::CallFenced(const char* op,
                               grpc::Status (files::v1::FileStateService::Stub::*method)(grpc::ClientContext*,
                                                                                         const Request&,
                                                                                         Response*),
                               const Request& req, std::chrono::milliseconds wait, std::string* refusal) {
  Response resp;
  auto ctx = Context(wait);
  const auto s = ((*stub_).*method)(ctx.get(), req, &resp);
  if (LeaseLost(s)) {
    if (refusal != nullptr) *refusal = s.error_message();
    return false;
  }
  if (!s.ok()) Throw(op, s);
  return true;
}

bool TrackerClient::Heartbeat(const files::v1::FileRef& file, const std::string& worker_id, uint32_t attempt,
                              std::chrono::milliseconds lease, std::chrono::milliseconds wait) {
  auto req = Fenced<files::v1::HeartbeatRequest>(file, worker_id, attempt);
  req.set_lease_ms(static_cast<uint32_t>(lease.count()));
  return CallFenced("Heartbeat", &files::v1::FileStateService::Stub::Heartbeat, req, wait);
}

bool TrackerClient::Complete(const files::v1::FileRef& file, const std::string& worker_id, uint32_t attempt,
                             const std::string& output_key, const std::string& sha256, std::string* refusal) {
  auto req = Fenced<files::v1::CompleteRequest>(file, worker_id, attempt);
  req.set_output_key(output_key);
  req.set_sha256(sha256);
  return CallFenced("Complete", &files::v1::FileStateService::Stub::Complete, req,
                    std::chrono::milliseconds(0), refusal);
}

bool TrackerClient::Fail(const files::v1::FileRef& file, const std::string& worker_id, uint32_t attempt,
                         const std::string& error, bool retryable, Cause cause) {
  auto req = Fenced<files::v1::FailRequest>(file, worker_id, attempt);
  req.set_error(error);
  req.set_retryable(retryable);
  req.set_infrastructure(cause == Cause::kInfrastructure && retryable);
  req.set_source_removed(cause == Cause::kSourceRemoved);
  return CallFenced("Fail", &files::v1::FileStateService::Stub::Fail, req);
}

}  // namespace rainbow::converter
