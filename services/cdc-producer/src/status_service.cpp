#include "services/cdc-producer/src/status_service.hpp"

#include "common/logging/log.hpp"
#include "common/security/grpc_security.hpp"
#include "common/security/scopes.hpp"

namespace rainbow::cdc {

void ToProto(const StatusSnapshot& s, v1::Status& out) {
  out.set_slot_name(s.slot);
  out.set_publication(s.publication);
  out.set_confirmed_flush_lsn(s.confirmed_lsn.ToString());
  out.set_lag_bytes(s.lag_bytes);
  out.set_events_per_second(s.events_per_second);
  out.set_events_total(s.events_total);
  out.set_last_error(s.last_error);
  auto* snap = out.mutable_snapshot();
  snap->set_state(s.snapshot_state);
  snap->set_tables_total(s.snapshot_tables_total);
  snap->set_tables_done(s.snapshot_tables_done);
  snap->set_rows_emitted(s.snapshot_rows);
  out.set_streaming(s.streaming);
  out.set_received_lsn(s.received_lsn.ToString());
  out.set_replayed_events(s.replayed_events);
}

grpc::Status StatusService::GetStatus(grpc::ServerContext* ctx, const v1::GetStatusRequest*,
                                      v1::Status* response) {
  if (auto denied = security::Authorize(auth_, *ctx, security::scope::kCdcRead); !denied.ok()) return denied;
  ToProto(engine_.Status(), *response);
  return grpc::Status::OK;
}

grpc::Status StatusService::Resnapshot(grpc::ServerContext* ctx, const v1::ResnapshotRequest*,
                                       v1::ResnapshotReply* response) {
  if (auto denied = security::Authorize(auth_, *ctx, security::scope::kCdcAdmin); !denied.ok()) return denied;
  if (engine_.stopping()) return {grpc::StatusCode::UNAVAILABLE, "cdc-producer is stopping"};
  engine_.RequestResnapshot();
  log::Info("re-snapshot requested", {{"slot", engine_.Status().slot}});
  response->set_plan("the next session takes a new snapshot; the slot is kept unless it lost its WAL");
  return grpc::Status::OK;
}

}  // namespace rainbow::cdc
