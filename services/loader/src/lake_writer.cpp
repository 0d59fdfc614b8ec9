#include "services/loader/src/lake_writer.hpp"

#include <zlib.h>

#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace rainbow::loader {

std::string LakeObjectKey(const std::string& table, const std::string& date, const std::string& topic,
                          int32_t partition, int64_t window_start) {
  char window[32];
  std::snprintf(window, sizeof(window), "%012lld", static_cast<long long>(window_start));
  return table + "/date=" + date + "/" + topic + "-" + std::to_string(partition) + "-" + window + ".json.gz";
}

void AppendLakeLine(std::string& out, const kafka::ConsumedMessage& m, const nlohmann::json& event) {
  nlohmann::json key;
  if (m.key) {
    key = nlohmann::json::parse(*m.key, nullptr, false);
    if (key.is_discarded()) key = *m.key;  // not JSON: kept as a string
    if (key.is_object() && key.size() == 2 && key.contains("schema") && key.contains("payload"))
      key = nlohmann::json(key["payload"]);
  }
  const nlohmann::json line = {
      {"topic", m.topic}, {"partition", m.partition}, {"offset", m.offset}, {"key", key}, {"event", event}};
  out += line.dump();
  out += '\n';
}

kafka::ConsumedMessage ParseLakeLine(std::string_view line) {
  const auto j = nlohmann::json::parse(line);
  kafka::ConsumedMessage m;
  m.topic = j.at("topic").get<std::string>();
  m.partition = j.at("partition").get<int32_t>();
  m.offset = j.at("offset").get<int64_t>();
  if (!j.at("key").is_null()) m.key = j["key"].is_string() ? j["key"].get<std::string>() : j["key"].dump();
  m.value = j.at("event").dump();
  return m;
}

std::string UtcDate(int64_t ts_ms) {
  const std::time_t secs = static_cast<std::time_t>(ts_ms >= 0 ? ts_ms / 1000 : (ts_ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

std::string Gzip(const std::string& data) {
  z_stream z{};
  // 15 + 16: a gzip wrapper; zlib writes mtime 0 and no name unless told otherwise.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  const auto written = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
  out.resize(written);
  return out;
}

}  // namespace rainbow::loader
