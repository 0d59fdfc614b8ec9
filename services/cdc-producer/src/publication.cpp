// The publication (created if missing, tables added) and the state table: CdcEngine::PrepareCatalog.
#include "services/cdc-producer/src/cdc_engine.hpp"

#include <algorithm>
#include <thread>

#include "common/kafka/admin.hpp"
#include "common/logging/log.hpp"
#include "common/pg/connection.hpp"
#include "services/cdc-producer/src/catalog_sql.hpp"
#include "services/cdc-producer/src/engine_session.hpp"
#include "services/cdc-producer/src/pgoutput_decoder.hpp"
#include "services/cdc-producer/src/slot_state.hpp"

namespace rainbow::cdc {

void CdcEngine::PrepareCatalog(pg::Connection& meta) {
  SlotStateStore(meta, config_.state_schema, config_.slot).EnsureTable();

  const bool exists =
      meta.Exec("SELECT 1 FROM pg_publication WHERE pubname = $1", {config_.publication}).rows() > 0;
  if (!exists) {
    if (!config_.tables.empty()) {
      std::string list;
      for (const auto& t : config_.tables) list += (list.empty() ? "" : ", ") + QualifiedName(t);
      meta.Exec("CREATE PUBLICATION " + QuoteIdent(config_.publication) + " FOR TABLE " + list);
    } else {
      std::string list;
      for (const auto& s : config_.schemas) list += (list.empty() ? "" : ", ") + QuoteIdent(s);
      try {
        meta.Exec("CREATE PUBLICATION " + QuoteIdent(config_.publication) + " FOR TABLES IN SCHEMA " + list);
      } catch (const pg::PgError& e) {
        if (e.sqlstate() != "42501") throw;
        // PostgreSQL 15 reserves FOR TABLES IN SCHEMA to superusers: publish the schemas' tables one by
        // one instead (refreshed at every session start, below).
        log::Warn("no privilege for FOR TABLES IN SCHEMA; publishing the schemas' tables one by one",
                  {{"publication", config_.publication}});
        meta.Exec("CREATE PUBLICATION " + QuoteIdent(config_.publication));
      }
    }
    log::Info("publication created", {{"publication", config_.publication}});
  }
  if (config_.tables.empty()) {
    const bool by_schema =
        meta.Exec(
                "SELECT 1 FROM pg_publication_namespace pn JOIN pg_publication p ON p.oid = pn.pnpubid "
                "WHERE p.pubname = $1",
                {config_.publication})
            .rows() > 0;
    const bool all_tables =
        meta.Exec("SELECT 1 FROM pg_publication WHERE pubname = $1 AND puballtables", {config_.publication})
            .rows() > 0;
    if (!by_schema && !all_tables) {
      std::string arr = "{";
      for (size_t i = 0; i < config_.schemas.size(); ++i) arr += (i ? "," : "") + config_.schemas[i];
      arr += "}";
      auto missing = meta.Exec(
          "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
          "AND NOT EXISTS (SELECT 1 FROM pg_publication_tables pt WHERE pt.pubname = $2 "
          "AND pt.schemaname = n.nspname AND pt.tablename = c.relname) ORDER BY 1, 2",
          {arr, config_.publication});
      for (int r = 0; r < missing.rows(); ++r) {
        const std::string name = std::string(missing.Text(r, 0)) + "." + std::string(missing.Text(r, 1));
        meta.Exec("ALTER PUBLICATION " + QuoteIdent(config_.publication) + " ADD TABLE " +
                  QualifiedName(name));
        log::Info("table added to publication", {{"publication", config_.publication}, {"table", name}});
      }
    }
  }
  for (const auto& t : config_.replica_identity_full) {
    if (t == "*") {
      auto all = meta.Exec(sql::kPublishedTablesSql, {config_.publication});
      for (int r = 0; r < all.rows(); ++r) {
        if (all.Text(r, 3) == "f") continue;
        meta.Exec("ALTER TABLE " + QuoteIdent(std::string(all.Text(r, 1))) + "." +
                  QuoteIdent(std::string(all.Text(r, 2))) + " REPLICA IDENTITY FULL");
      }
    } else {
      meta.Exec("ALTER TABLE " + QualifiedName(t) + " REPLICA IDENTITY FULL");
    }
  }
}

}  // namespace rainbow::cdc
