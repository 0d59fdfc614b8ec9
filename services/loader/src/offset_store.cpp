#include "services/loader/src/offset_store.hpp"

namespace rainbow::loader {

std::map<kafka::TopicPartition, int64_t> LoadOffsets(pg::Connection& conn,
                                                     const std::vector<kafka::TopicPartition>& partitions) {
  std::map<kafka::TopicPartition, int64_t> out;
  if (partitions.empty()) return out;
  std::string topics = "{", parts = "{";
  for (const auto& [topic, partition] : partitions) {
    topics += (topics.size() > 1 ? ",\"" : "\"") + topic + "\"";
    parts += (parts.size() > 1 ? "," : "") + std::to_string(partition);
  }
  topics += "}";
  parts += "}";
  const auto r = conn.Exec(
      "SELECT o.topic, o.partition, o.next_offset FROM warehouse.loader_offsets o "
      "JOIN unnest($1::text[], $2::integer[]) AS w(topic, partition) USING (topic, partition)",
      {topics, parts});
  for (int i = 0; i < r.rows(); ++i)
    out[{std::string(r.Text(i, 0)), static_cast<int32_t>(r.Int(i, 1))}] = r.Int(i, 2);
  return out;
}

bool AdvanceOffset(pg::Connection& conn, const kafka::TopicPartition& partition, int64_t first,
                   int64_t next) {
  const auto r = conn.Exec(
      "INSERT INTO warehouse.loader_offsets AS o (topic, partition, next_offset) VALUES ($1, $2, $4) "
      "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now() "
      "WHERE o.next_offset = $3 RETURNING 1",
      {partition.first, std::to_string(partition.second), std::to_string(first), std::to_string(next)});
  return r.rows() == 1;
}

}  // namespace rainbow::loader
