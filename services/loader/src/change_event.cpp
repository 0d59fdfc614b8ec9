#include "services/loader/src/change_event.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace rainbow::loader {
namespace {

namespace dom = simdjson::dom;

// One parser per thread, reused: its buffers grow to the largest message once. The DOM API picks the
// fastest kernel for this CPU at run time; it reads the whole document (schema part included) into a
// tape without allocating per value, and only what is used below is turned into strings.
dom::parser& Parser() {
  thread_local dom::parser parser;
  return parser;
}

// A number as JSON text: integers exactly, doubles in the shortest form that reads back the same.
std::string NumberText(dom::element v) {
  if (v.is_int64()) return std::to_string(int64_t(v));
  if (v.is_uint64()) return std::to_string(uint64_t(v));
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), double(v));
  return ec == std::errc() ? std::string(buf, end) : "null";
}

// The text form staging stores: strings unescaped, numbers as JSON, booleans true/false, null as
// nullopt, objects and arrays as their (minified) JSON.
std::optional<std::string> ScalarText(dom::element v) {
  switch (v.type()) {
    case dom::element_type::NULL_VALUE:
      return std::nullopt;
    case dom::element_type::STRING:
      return std::string(std::string_view(v));
    case dom::element_type::BOOL:
      return bool(v) ? "true" : "false";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return NumberText(v);
    default:
      return simdjson::minify(v);
  }
}

// The canonical JSON of a key member's value: strings escaped one way (nlohmann's), numbers as above.
std::string CanonicalJson(dom::element v) {
  switch (v.type()) {
    case dom::element_type::STRING:
      return nlohmann::json(std::string(std::string_view(v))).dump();
    case dom::element_type::NULL_VALUE:
      return "null";
    case dom::element_type::BOOL:
      return bool(v) ? "true" : "false";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return NumberText(v);
    default:
      return nlohmann::json::parse(simdjson::minify(v)).dump();
  }
}

Row RowOf(dom::element image, const char* which) {
  if (image.type() != dom::element_type::OBJECT)
    throw PoisonError(std::string("change event: '") + which + "' is not an object");
  Row row;
  const dom::object obj = image;
  row.reserve(obj.size());
  for (const auto field : obj) {
    std::string name(field.key);
    if (!IsPlainIdentifier(name))
      throw PoisonError("change event: column name '" + name + "' is not a plain SQL identifier");
    if (name[0] == '_')
      throw PoisonError("change event: column name '" + name +
                        "' starts with '_' (the loader's meta columns)");
    row.emplace_back(std::move(name), ScalarText(field.value));
  }
  return row;
}

// JsonConverter with schemas.enable=true wraps each key and value as {"schema":…,"payload":…}.
dom::element Unwrapped(dom::element doc) {
  if (doc.type() != dom::element_type::OBJECT) return doc;
  const dom::object obj = doc;
  dom::element payload;
  if (obj.size() == 2 && obj["schema"].error() == simdjson::SUCCESS &&
      obj["payload"].get(payload) == simdjson::SUCCESS)
    return payload;
  return doc;
}

}  // namespace

bool IsPlainIdentifier(const std::string& name) {
  if (name.empty() || name.size() > 48) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  for (char c : name) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::optional<std::string> TableOfTopic(const std::string& topic) {
  const auto dot = topic.rfind('.');
  std::string table = dot == std::string::npos ? topic : topic.substr(dot + 1);
  if (!IsPlainIdentifier(table)) return std::nullopt;
  return table;
}

ChangeEvent ParseChangeEvent(const kafka::ConsumedMessage& message) {
  ChangeEvent e;
  e.topic = message.topic;
  e.partition = message.partition;
  e.offset = message.offset;
  e.bytes = (message.key ? message.key->size() : 0) + (message.value ? message.value->size() : 0);
  auto table = TableOfTopic(message.topic);
  if (!table) throw PoisonError("topic '" + message.topic + "' does not name a table");
  e.table = *table;

  // The key: members sorted by name (one spelling per key), also kept as columns for the row.
  std::vector<std::pair<std::string, dom::element>> key_members;
  if (message.key) {
    dom::element doc;
    if (Parser().parse(*message.key).get(doc) != simdjson::SUCCESS) throw PoisonError("key is not JSON");
    const dom::element key = Unwrapped(doc);
    if (key.type() == dom::element_type::OBJECT) {
      for (const auto m : dom::object(key)) key_members.emplace_back(std::string(m.key), m.value);
      if (key_members.empty()) throw PoisonError("key is not a JSON object of key columns");
    } else if (!key.is_null()) {
      throw PoisonError("key is not a JSON object of key columns");
    }
    std::sort(key_members.begin(), key_members.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    if (!key_members.empty()) {
      e.key = "{";
      for (size_t i = 0; i < key_members.size(); ++i) {
        if (i > 0) e.key += ',';
        e.key += nlohmann::json(key_members[i].first).dump() + ":" + CanonicalJson(key_members[i].second);
      }
      e.key += "}";
    }
  }
  // The key's columns, as text, before the value's parse reuses the parser's buffers.
  Row key_columns;
  for (const auto& [name, value] : key_members) key_columns.emplace_back(name, ScalarText(value));

  if (!message.value) {  // tombstone after a delete: the delete event did the work
    e.op = 'x';
    return e;
  }
  dom::element doc;
  if (Parser().parse(*message.value).get(doc) != simdjson::SUCCESS) throw PoisonError("value is not JSON");
  const dom::element v = Unwrapped(doc);
  if (v.type() != dom::element_type::OBJECT) throw PoisonError("value is not a change event object");
  const dom::object event = v;
  std::string_view op;
  if (event["op"].get(op) != simdjson::SUCCESS || op.size() != 1)
    throw PoisonError("change event: no valid 'op'");
  e.op = op[0];
  dom::object source;
  if (event["source"].get(source) != simdjson::SUCCESS) throw PoisonError("change event: no 'source'");
  int64_t ts = 0;
  if (source["ts_ms"].get(ts) != simdjson::SUCCESS) throw PoisonError("change event: no 'source.ts_ms'");
  e.source_ts_ms = ts;
  int64_t lsn = 0;
  if (source["lsn"].get(lsn) == simdjson::SUCCESS) e.lsn = lsn;
  std::string_view source_table;
  if (source["table"].get(source_table) == simdjson::SUCCESS && source_table != e.table)
    throw PoisonError("change event of table '" + std::string(source_table) + "' on topic '" + message.topic +
                      "'");

  switch (e.op) {
    case 'c':
    case 'u':
    case 'r': {
      dom::element after;
      if (event["after"].get(after) != simdjson::SUCCESS)
        throw PoisonError("change event: 'after' is not an object");
      e.row = RowOf(after, "after");
      break;
    }
    case 'd': {
      dom::element before;
      if (event["before"].get(before) == simdjson::SUCCESS && before.type() == dom::element_type::OBJECT)
        e.row = RowOf(before, "before");
      break;
    }
    case 't':
      e.key.clear();
      key_columns.clear();
      break;
    default:
      throw PoisonError(std::string("change event: unknown op '") + e.op + "'");
  }
  if (e.op != 't' && e.key.empty())
    throw PoisonError("change event without a key (the loader mirrors rows by key)");
  // A delete's before-image under REPLICA IDENTITY DEFAULT may lack columns; the key has them.
  for (auto& key_column : key_columns) {
    const std::string& name = key_column.first;
    bool present = false;
    for (const auto& [column, value] : e.row) present = present || (column == name && value.has_value());
    if (present) continue;
    if (!IsPlainIdentifier(name))
      throw PoisonError("key column name '" + name + "' is not a plain SQL identifier");
    std::erase_if(e.row, [&name](const auto& c) { return c.first == name; });
    e.row.emplace_back(name, std::move(key_column.second));
  }
  return e;
}

}  // namespace rainbow::loader
