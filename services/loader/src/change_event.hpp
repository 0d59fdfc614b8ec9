#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/kafka/types.hpp"

namespace rainbow::loader {

// A message the loader cannot apply however often it retries (unparseable, not a change event, a
// table name it cannot map, no key): it goes to the dead-letter topic with this reason.
class PoisonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One source row in the text form staging stores: column name -> JSON scalar as text (numbers as
// written, strings unquoted, booleans true/false, objects and arrays as JSON), nullopt for null.
using Row = std::vector<std::pair<std::string, std::optional<std::string>>>;

// A Debezium change event (JsonConverter, with or without the {"schema","payload"} wrapper) read off
// a `<prefix>.<table>` topic. Tombstones (null value) have op 'x' and are only counted.
struct ChangeEvent {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::string table;  // the topic's last segment
  char op = 'x';      // c u d r t, or x for a tombstone
  std::string key;    // the key object as canonical JSON (sorted members); empty for truncates
  Row row;            // `after` for c/u/r, `before` for d (may be partial), empty for t/x
  int64_t source_ts_ms = 0;
  std::optional<int64_t> lsn;
  size_t bytes = 0;  // key + value size on the wire
};

// Parses one consumed message. Throws PoisonError with the reason when it is not a change event of
// a table this loader can name.
ChangeEvent ParseChangeEvent(const kafka::ConsumedMessage& message);

// The table a topic carries: its last dot-separated segment, if it is a plain SQL identifier
// ([a-z_][a-z0-9_]*, at most 48 characters); nullopt otherwise.
std::optional<std::string> TableOfTopic(const std::string& topic);

// A column name usable in SQL without surprises: the same rule as TableOfTopic's.
bool IsPlainIdentifier(const std::string& name);

}  // namespace rainbow::loader
