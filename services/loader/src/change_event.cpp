#include "services/loader/src/change_event.hpp"

#include <nlohmann/json.hpp>

namespace rainbow::loader {
namespace {

using nlohmann::json;

// JsonConverter with schemas.enable=true wraps each key and value as {"schema":…,"payload":…}.
const json& Unwrapped(const json& doc) {
  if (doc.is_object() && doc.size() == 2 && doc.contains("schema") && doc.contains("payload"))
    return doc["payload"];
  return doc;
}

std::optional<std::string> ScalarText(const json& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();  // numbers as written; objects and arrays as JSON
}

Row RowOf(const json& image, const char* which) {
  if (!image.is_object()) throw PoisonError(std::string("change event: '") + which + "' is not an object");
  Row row;
  row.reserve(image.size());
  for (const auto& [name, value] : image.items()) {
    if (!IsPlainIdentifier(name))
      throw PoisonError("change event: column name '" + name + "' is not a plain SQL identifier");
    row.emplace_back(name, ScalarText(value));
  }
  return row;
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

  json key_doc;
  const json* key_columns = nullptr;
  if (message.key) {
    key_doc = json::parse(*message.key, nullptr, false);
    if (key_doc.is_discarded()) throw PoisonError("key is not JSON");
    const json& key = Unwrapped(key_doc);
    if (!key.is_null()) {
      if (!key.is_object() || key.empty()) throw PoisonError("key is not a JSON object of key columns");
      e.key = key.dump();  // nlohmann's objects are ordered by name: one spelling per key
      key_columns = &key;
    }
  }
  if (!message.value) {  // tombstone after a delete: the delete event did the work
    e.op = 'x';
    return e;
  }
  const json doc = json::parse(*message.value, nullptr, false);
  if (doc.is_discarded()) throw PoisonError("value is not JSON");
  const json& v = Unwrapped(doc);
  if (!v.is_object()) throw PoisonError("value is not a change event object");
  const auto op_it = v.find("op");
  if (op_it == v.end() || !op_it->is_string() || op_it->get_ref<const std::string&>().size() != 1)
    throw PoisonError("change event: no valid 'op'");
  e.op = op_it->get_ref<const std::string&>()[0];
  const auto source = v.find("source");
  if (source == v.end() || !source->is_object()) throw PoisonError("change event: no 'source'");
  const auto ts = source->find("ts_ms");
  if (ts == source->end() || !ts->is_number_integer()) throw PoisonError("change event: no 'source.ts_ms'");
  e.source_ts_ms = ts->get<int64_t>();
  if (const auto lsn = source->find("lsn"); lsn != source->end() && lsn->is_number_integer())
    e.lsn = lsn->get<int64_t>();
  if (const auto t = source->find("table");
      t != source->end() && t->is_string() && t->get<std::string>() != e.table)
    throw PoisonError("change event of table '" + t->get<std::string>() + "' on topic '" + message.topic +
                      "'");

  switch (e.op) {
    case 'c':
    case 'u':
    case 'r':
      e.row = RowOf(v.value("after", json()), "after");
      break;
    case 'd': {
      const auto before = v.find("before");
      if (before != v.end() && before->is_object()) e.row = RowOf(*before, "before");
      break;
    }
    case 't':
      e.key.clear();
      break;
    default:
      throw PoisonError(std::string("change event: unknown op '") + e.op + "'");
  }
  if (e.op != 't' && e.key.empty())
    throw PoisonError("change event without a key (the loader mirrors rows by key)");
  // A delete's before-image under REPLICA IDENTITY DEFAULT may lack columns; the key has them.
  if (key_columns != nullptr) {
    for (const auto& [name, value] : key_columns->items()) {
      bool present = false;
      for (const auto& [column, text] : e.row) present = present || (column == name && text.has_value());
      if (present) continue;
      if (!IsPlainIdentifier(name))
        throw PoisonError("key column name '" + name + "' is not a plain SQL identifier");
      std::erase_if(e.row, [&](const auto& c) { return c.first == name; });
      e.row.emplace_back(name, ScalarText(value));
    }
  }
  return e;
}

}  // namespace rainbow::loader
