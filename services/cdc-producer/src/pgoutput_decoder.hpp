#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "services/cdc-producer/src/lsn.hpp"

// Pure decoding of the streaming replication protocol (CopyData messages) and of pgoutput
// proto_version 1 messages. No I/O, no allocation beyond the returned vectors; every string_view in a
// result points into the input buffer, so the caller keeps that buffer alive while it uses the result.
// Any malformed or unknown input throws DecodeError (never reads past the buffer): the libFuzzer target
// in fuzz/ drives exactly these functions.
namespace rainbow::cdc {

class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- Outer CopyData messages of START_REPLICATION (backend -> client) ----

// 'w': a chunk of WAL data; payload is one pgoutput message.
struct XLogData {
  Lsn wal_start;
  Lsn wal_end;
  int64_t send_time_us = 0;  // microseconds since 2000-01-01
  std::span<const uint8_t> payload;
};

// 'k': primary keepalive.
struct Keepalive {
  Lsn wal_end;
  int64_t send_time_us = 0;
  bool reply_requested = false;
};

using CopyDataMessage = std::variant<XLogData, Keepalive>;
CopyDataMessage DecodeCopyData(std::span<const uint8_t> bytes);

// The standby status update 'r' (client -> backend), 34 bytes.
std::string EncodeStandbyStatus(Lsn written, Lsn flushed, Lsn applied, int64_t client_time_us,
                                bool reply_requested);

// ---- pgoutput messages ----

struct TupleValue {
  enum class Kind : uint8_t { kNull, kUnchanged, kText, kBinary };
  Kind kind = Kind::kNull;
  std::string_view data;  // for kText / kBinary
};
using Tuple = std::vector<TupleValue>;

struct BeginMessage {
  Lsn final_lsn;           // LSN of the commit record
  int64_t commit_time_us;  // since 2000-01-01
  uint32_t xid;
};

struct CommitMessage {
  uint8_t flags;
  Lsn commit_lsn;
  Lsn end_lsn;  // end of the commit record: where a restart resumes
  int64_t commit_time_us;
};

struct OriginMessage {
  Lsn origin_lsn;
  std::string_view name;
};

struct RelationColumn {
  bool key = false;  // part of the replica identity
  std::string_view name;
  uint32_t type_oid = 0;
  int32_t type_modifier = -1;
};

struct RelationMessage {
  uint32_t oid;
  std::string_view schema;
  std::string_view table;
  char replica_identity;  // 'd' default, 'n' nothing, 'f' full, 'i' index
  std::vector<RelationColumn> columns;
};

struct TypeMessage {
  uint32_t oid;
  std::string_view schema;
  std::string_view name;
};

struct InsertMessage {
  uint32_t relation_oid;
  Tuple new_tuple;
};

struct UpdateMessage {
  uint32_t relation_oid;
  char old_kind = 0;  // 0 (no old tuple), 'K' (key columns only) or 'O' (full old row)
  Tuple old_tuple;
  Tuple new_tuple;
};

struct DeleteMessage {
  uint32_t relation_oid;
  char old_kind;  // 'K' or 'O'
  Tuple old_tuple;
};

struct TruncateMessage {
  bool cascade;
  bool restart_identity;
  std::vector<uint32_t> relation_oids;
};

// 'M' (pg_logical_emit_message, sent with the pgoutput option messages 'true').
struct LogicalMessage {
  bool transactional;
  Lsn lsn;
  std::string_view prefix;
  std::string_view content;
};

using PgOutputMessage =
    std::variant<BeginMessage, CommitMessage, OriginMessage, RelationMessage, TypeMessage, InsertMessage,
                 UpdateMessage, DeleteMessage, TruncateMessage, LogicalMessage>;

// Decodes one pgoutput (proto_version 1) message; trailing bytes are an error.
PgOutputMessage DecodePgOutput(std::span<const uint8_t> bytes);

// PostgreSQL epoch (2000-01-01) <-> Unix epoch, in microseconds.
constexpr int64_t kPgEpochOffsetUs = 946'684'800'000'000LL;

}  // namespace rainbow::cdc
