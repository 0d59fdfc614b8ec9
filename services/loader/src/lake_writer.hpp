#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/kafka/types.hpp"

namespace rainbow::loader {

// One lake object: `<table>/date=YYYY-MM-DD/<topic>-<partition>-<window start>.json.gz`. Windows are
// fixed ranges of offsets of one partition, so the name depends only on where the events are, never on
// when they were flushed: a replay after a crash rewrites the same objects with the same lines.
std::string LakeObjectKey(const std::string& table, const std::string& date, const std::string& topic,
                          int32_t partition, int64_t window_start);

// One lake line (JSON, then '\n'): the event with where it came from, so the lake alone can rebuild
// the warehouse in the original order and with the original keys:
//   {"topic":…,"partition":…,"offset":…,"key":<the Kafka key as JSON, or null>,"event":<the value>}
// Key and event are unwrapped from {"schema","payload"} when they were wrapped. nullopt for a message
// that is not a change event (no source.ts_ms; the warehouse sink dead-letters it) and for tombstones.
struct LakeLine {
  int64_t ts_ms = 0;  // source.ts_ms: which date's object the line belongs to
  std::string line;
};
std::optional<LakeLine> LakeLineOf(const kafka::ConsumedMessage& m);

// A lake line back as the message it was written from (value = the event, serialized).
kafka::ConsumedMessage ParseLakeLine(std::string_view line);

// "YYYY-MM-DD" (UTC) of epoch milliseconds.
std::string UtcDate(int64_t ts_ms);

// gzip of `data` with a fixed header (no name, mtime 0): the same lines give the same bytes.
std::string Gzip(const std::string& data);
// The bytes a gzip stream holds; throws std::runtime_error when it is not one.
std::string Gunzip(const std::string& gz);

// The events of one partition's current window, grouped by the date their object belongs to.
struct LakeWindow {
  int64_t start = -1;
  int64_t events = 0;
  std::map<std::string, std::map<std::string, std::string>> lines;  // table -> date -> JSON lines
  bool dirty = false;                                               // lines added since the last write
};

}  // namespace rainbow::loader
