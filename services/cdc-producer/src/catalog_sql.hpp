#pragma once

// The SQL the engine runs against the catalog and the slot, named (the state table's own SQL is in
// slot_state.cpp). Parameters are $n placeholders; identifiers are never spliced in here.
namespace rainbow::cdc::sql {

constexpr const char* kSlotSql =
    "SELECT active_pid, confirmed_flush_lsn::text, wal_status FROM pg_replication_slots "
    "WHERE slot_name = $1 AND database = current_database()";
constexpr const char* kLagSql =
    "SELECT confirmed_flush_lsn::text, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
    "FROM pg_replication_slots WHERE slot_name = $1";
constexpr const char* kHeartbeatSql = "SELECT pg_logical_emit_message(false, $1, now()::text)";
constexpr const char* kColumnsSql =
    "SELECT a.attname, a.atttypid::bigint, a.atttypmod FROM pg_attribute a WHERE a.attrelid = $1::oid "
    "AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum";
constexpr const char* kPrimaryKeySql =
    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = "
    "ANY(i.indkey) "
    "WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY a.attnum";
// What the Connect schema needs beyond the Relation message: nullability, default, type name, enum labels.
constexpr const char* kColumnCatalogSql =
    "SELECT a.attname, NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid), t.typname, "
    "CASE WHEN t.typtype = 'e' THEN (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) "
    "FROM pg_enum e WHERE e.enumtypid = t.oid) END "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped";
constexpr const char* kPublishedTablesSql =
    "SELECT c.oid::bigint, n.nspname, c.relname, c.relreplident FROM pg_publication_tables pt "
    "JOIN pg_namespace n ON n.nspname = pt.schemaname "
    "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
    "WHERE pt.pubname = $1 ORDER BY 2, 3";

}  // namespace rainbow::cdc::sql
