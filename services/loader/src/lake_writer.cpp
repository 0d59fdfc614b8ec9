#include "services/loader/src/lake_writer.hpp"

#include <simdjson.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

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

std::optional<LakeLine> LakeLineOf(const kafka::ConsumedMessage& m) {
  if (!m.value) return std::nullopt;
  thread_local simdjson::dom::parser parser;
  const auto unwrapped = [](simdjson::dom::element doc) {
    simdjson::dom::element payload;
    if (doc.is_object() && simdjson::dom::object(doc).size() == 2 &&
        doc["schema"].error() == simdjson::SUCCESS && doc["payload"].get(payload) == simdjson::SUCCESS)
      return payload;
    return doc;
  };
  std::string key = "null";
  if (m.key) {
    simdjson::dom::element doc;
    key = parser.parse(*m.key).get(doc) == simdjson::SUCCESS
              ? simdjson::minify(unwrapped(doc))
              : nlohmann::json(*m.key).dump();  // kept as a string
  }
  simdjson::dom::element doc;
  if (parser.parse(*m.value).get(doc) != simdjson::SUCCESS) return std::nullopt;
  const auto event = unwrapped(doc);
  int64_t ts_ms = 0;
  if (event["source"]["ts_ms"].get(ts_ms) != simdjson::SUCCESS) return std::nullopt;
  LakeLine out{ts_ms, {}};
  out.line = "{\"topic\":" + nlohmann::json(m.topic).dump() +
             ",\"partition\":" + std::to_string(m.partition) + ",\"offset\":" + std::to_string(m.offset) +
             ",\"key\":" + key + ",\"event\":" + simdjson::minify(event) + "}\n";
  return out;
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

std::string Gunzip(const std::string& z) {
  z_stream s{};
  if (inflateInit2(&s, 15 + 16) != Z_OK) throw std::runtime_error("gunzip: inflateInit2 failed");
  std::string out;
  char buf[65536];
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  s.avail_in = static_cast<uInt>(z.size());
  for (int rc = Z_OK; rc != Z_STREAM_END;) {
    s.next_out = reinterpret_cast<Bytef*>(buf);
    s.avail_out = sizeof(buf);
    rc = inflate(&s, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&s);
      throw std::runtime_error("gunzip: not a gzip object");
    }
    out.append(buf, sizeof(buf) - s.avail_out);
  }
  inflateEnd(&s);
  return out;
}

}  // namespace rainbow::loader
