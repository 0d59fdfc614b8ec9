#include "services/loader/src/model_types.hpp"

#include <cctype>
#include <charconv>
#include <map>
#include <utility>
#include <vector>

#include "services/loader/src/dimensions.hpp"

namespace rainbow::loader {
namespace {

bool IsInteger(std::string_view t, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  return ec == std::errc() && end == t.data() + t.size() && v >= lo && v <= hi;
}

bool IsNumeric(std::string_view t) {
  size_t i = 0, digits = 0;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
  for (; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i) ++digits;
  if (i < t.size() && t[i] == '.') {
    for (++i; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i) ++digits;
  }
  if (digits > 0 && i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
    size_t exp = 0;
    for (; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i) ++exp;
    if (exp == 0) return false;
  }
  return digits > 0 && i == t.size();
}

// ISO-8601 as cdc-producer writes timestamptz ("2024-01-02T03:04:05.5Z") and close relatives.
bool IsTimestamp(std::string_view t) {
  if (t.size() < 10) return false;
  for (size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u})
    if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
  if (t[4] != '-' || t[7] != '-') return false;
  for (char c : t.substr(10)) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == 'T' || c == ' ' || c == ':' || c == '.' ||
          c == 'Z' || c == '+' || c == '-'))
      return false;
  }
  return true;
}

// source table -> (column, SQL type) the model casts.
const std::map<std::string, std::vector<std::pair<std::string, std::string>>>& ModelColumns() {
  static const auto columns = [] {
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> m = {
        {"orders",
         {{"id", "bigint"},
          {"customer_id", "bigint"},
          {"payment_id", "bigint"},
          {"created_at", "timestamptz"}}},
        {"orderdetails",
         {{"order_id", "bigint"},
          {"line_no", "integer"},
          {"product_id", "bigint"},
          {"quantity", "integer"},
          {"price", "numeric"},
          {"promotion_id", "bigint"},
          {"discount_unit_price", "numeric"}}},
    };
    for (const auto& d : Dimensions()) {
      auto& cols = m[d.source_table];
      cols.emplace_back("id", "bigint");
      for (const auto& a : d.attributes) cols.emplace_back(a.column, a.sql_type);
    }
    return m;
  }();
  return columns;
}

}  // namespace

bool IsValidLiteral(std::string_view sql_type, std::string_view text) {
  if (sql_type == "bigint") return IsInteger(text, INT64_MIN, INT64_MAX);
  if (sql_type == "integer") return IsInteger(text, INT32_MIN, INT32_MAX);
  if (sql_type.starts_with("numeric")) return IsNumeric(text);
  if (sql_type == "boolean") return text == "true" || text == "false";
  if (sql_type == "timestamptz") return IsTimestamp(text);
  return true;
}

void CheckModelTypes(const ChangeEvent& event) {
  const auto it = ModelColumns().find(event.table);
  if (it == ModelColumns().end()) return;
  for (const auto& [name, value] : event.row) {
    if (!value) continue;
    for (const auto& [column, type] : it->second) {
      if (column == name && !IsValidLiteral(type, *value))
        throw PoisonError("column " + event.table + "." + name + ": '" + value->substr(0, 64) +
                          "' is not a valid " + type);
    }
  }
}

}  // namespace rainbow::loader
