#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "services/cdc-producer/src/value_format.hpp"

// Kafka Connect schemas as Debezium's PostgreSQL connector declares them, serialized the way Kafka
// Connect's JsonConverter writes them (`{"type":…,"optional":…,"name":…,"version":…,"parameters":…,
// "default":…,"field":…}`), for the `json-schemas` wire format (`{"schema":…,"payload":…}`). Pure
// functions of the table's catalog description; the facts come from Debezium's PostgresValueConverter,
// TableSchemaBuilder, PostgresDefaultValueConverter and the source struct maker, checked against Debezium
// itself by the differential test (tests/cdc_debezium_test.cpp).
namespace rainbow::cdc {

struct ColumnInfo;
struct TableInfo;

// One non-null value in text format as Debezium writes it (decimal mode; timestamptz with the column's
// fixed fractional width). The `json` format keeps its historical forms (value_format.hpp) instead.
void AppendExactValue(std::string& out, const ColumnInfo& c, std::string_view text, DecimalMode mode);

// The Connect schema of one column's value, as a JSON object without the closing brace, so that the
// caller can append `"field"` (struct member) or close it. `optional` comes from the column's nullability.
std::string ColumnSchemaOpen(const ColumnInfo& c, DecimalMode mode, bool optional);

// The column's `default` as Debezium writes it into the schema (its default expression, converted like a
// value; a function call becomes the type's placeholder: 0, false, "", 1970-01-01...), or nullopt when
// Debezium gives no default (no default, NULL, a type without a default mapper).
std::optional<std::string> ColumnDefaultJson(const ColumnInfo& c, DecimalMode mode);

// What Debezium writes for a null in a NOT NULL column without a default (a DEFAULT-identity delete's
// `before` has nulls outside the key): its converters' fallback, the type's zero (0, false, "", "AA==",
// "1970-01-01T00:00:00Z"); nullopt where we do not know it (null is written).
std::optional<std::string> NotNullFallbackJson(const ColumnInfo& c, DecimalMode mode);

// `<server>.<schema>.<table>.Key` struct of the key columns; empty when the table has no key.
std::string KeySchema(const TableInfo& t, const std::string& server_name, DecimalMode mode);
// `<server>.<schema>.<table>.Envelope` with before/after (`...Value`), source, transaction, op, ts_*.
std::string EnvelopeSchema(const TableInfo& t, const std::string& server_name, DecimalMode mode);

}  // namespace rainbow::cdc
