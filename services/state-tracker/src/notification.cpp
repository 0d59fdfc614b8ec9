#include "services/state-tracker/src/notification.hpp"

#include <nlohmann/json.hpp>

namespace rainbow::state {

namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const nlohmann::json& Member(const nlohmann::json& j, const char* name, const std::string& where) {
  if (!j.is_object()) throw NotificationError(where + " is not an object");
  auto it = j.find(name);
  if (it == j.end()) throw NotificationError(where + " has no \"" + name + "\"");
  return *it;
}

std::string StringMember(const nlohmann::json& j, const char* name, const std::string& where) {
  const auto& v = Member(j, name, where);
  if (!v.is_string()) throw NotificationError(where + "." + name + " is not a string");
  return v.get<std::string>();
}

}  // namespace

std::string QueryUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      const int hi = i + 1 < s.size() ? Hex(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? Hex(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) throw NotificationError("bad %-escape in key '" + std::string(s) + "'");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool IsSequencer(std::string_view s) {
  return !s.empty() && s.size() <= 64 &&
         s.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

std::vector<ObjectEvent> ParseBucketNotification(std::string_view value) {
  const auto j = nlohmann::json::parse(value, nullptr, false);
  if (j.is_discarded()) throw NotificationError("value is not JSON");
  const auto& records = Member(j, "Records", "notification");
  if (!records.is_array()) throw NotificationError("notification.Records is not an array");
  std::vector<ObjectEvent> out;
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string where = "Records[" + std::to_string(i) + "]";
    const auto& r = records[i];
    const std::string event = StringMember(r, "eventName", where);
    const auto& s3 = Member(r, "s3", where);
    const std::string bucket =
        StringMember(Member(s3, "bucket", where + ".s3"), "name", where + ".s3.bucket");
    const auto& object = Member(s3, "object", where + ".s3");
    const std::string raw_key = StringMember(object, "key", where + ".s3.object");
    const bool removed = event.rfind("s3:ObjectRemoved:", 0) == 0;
    if (!removed && event.rfind("s3:ObjectCreated:", 0) != 0) continue;
    ObjectEvent o;
    o.event_name = event;
    o.removed = removed;
    o.bucket = bucket;
    o.key = QueryUnescape(raw_key);
    if (o.bucket.empty() || o.key.empty()) throw NotificationError(where + ": empty bucket or key");
    // A removal names no content (AWS sends no eTag for it); a creation must.
    if (!removed || object.contains("eTag")) o.etag = StringMember(object, "eTag", where + ".s3.object");
    if (o.etag.size() >= 2 && o.etag.front() == '"' && o.etag.back() == '"')
      o.etag = o.etag.substr(1, o.etag.size() - 2);
    if (!removed && o.etag.empty()) throw NotificationError(where + ": empty eTag");
    if (auto it = object.find("sequencer"); it != object.end()) {
      if (it->is_string()) o.sequencer = it->get<std::string>();
      if (!IsSequencer(o.sequencer))
        throw NotificationError(where + ".s3.object.sequencer is not a hex string");
    }
    if (auto it = object.find("size"); it != object.end()) {
      if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
        throw NotificationError(where + ".s3.object.size is not a non-negative integer");
      }
      o.size = it->get<uint64_t>();
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace rainbow::state
