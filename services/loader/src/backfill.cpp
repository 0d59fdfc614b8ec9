#include "services/loader/src/backfill.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "services/loader/src/change_event.hpp"
#include "services/loader/src/dimensions.hpp"
#include "services/loader/src/facts.hpp"
#include "services/loader/src/lake_writer.hpp"
#include "services/loader/src/model_types.hpp"
#include "services/loader/src/warehouse_writer.hpp"

namespace rainbow::loader {
namespace {

// "<table>/date=D/<topic>-<partition>-<window>.json.gz" -> (topic, partition, window, date).
std::tuple<std::string, int32_t, int64_t, std::string> ObjectOrder(const std::string& key) {
  const auto slash = key.rfind('/');
  const auto date_at = key.find("/date=");
  std::string name = key.substr(slash + 1);
  name = name.substr(0, name.size() - std::string(".json.gz").size());
  const auto last = name.rfind('-');
  const auto prev = name.rfind('-', last - 1);
  if (slash == std::string::npos || date_at == std::string::npos || last == std::string::npos ||
      prev == std::string::npos)
    throw std::runtime_error("lake object '" + key + "' is not named as the loader names them");
  return {name.substr(0, prev), std::stoi(name.substr(prev + 1, last - prev - 1)),
          std::stoll(name.substr(last + 1)), key.substr(date_at + 6, slash - date_at - 6)};
}

}  // namespace

BackfillResult BackfillFromStaging(pg::Connection& warehouse, const std::string& from,
                                   const std::string& to) {
  BackfillResult result;
  pg::Transaction tx(warehouse);
  warehouse.Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kModelLockId) + ")");
  warehouse.Exec(ModelTempTablesStatement());
  for (const auto& d : Dimensions()) {
    const std::string rows = "(SELECT * FROM warehouse.stg_" + d.source_table + ")";
    result.events += warehouse.Exec("SELECT count(*) FROM warehouse.stg_" + d.source_table).Int(0, 0);
    for (const auto& sql : Scd2Statements(d, rows)) warehouse.Exec(sql);
  }
  warehouse.Exec(
      "DELETE FROM warehouse.fact_sales WHERE date_key BETWEEN to_char($1::date, 'YYYYMMDD')::integer "
      "AND to_char($2::date, 'YYYYMMDD')::integer",
      {from, to});
  // Dates as dim_dates has them: the order's UTC day.
  for (const auto& sql :
       FactStatements({"SELECT id::bigint FROM warehouse.stg_orders WHERE (created_at::timestamptz "
                       "AT TIME ZONE 'UTC')::date BETWEEN '" +
                       from + "'::date AND '" + to + "'::date"})) {
    const auto r = warehouse.Exec(sql);
    if (sql.starts_with("INSERT INTO warehouse.fact_sales")) result.fact_rows += r.Affected();
  }
  std::set<std::string> changed;
  const auto dims = warehouse.Exec(std::string("SELECT DISTINCT dim FROM ") + kChangedMembers);
  for (int i = 0; i < dims.rows(); ++i) changed.insert(std::string(dims.Text(i, 0)));
  for (const auto& sql : ReresolveStatements(changed)) warehouse.Exec(sql);
  tx.Commit();
  return result;
}

BackfillResult RecomputeFromLake(pg::Connection& warehouse, s3::S3Client& s3, const std::string& bucket) {
  BackfillResult result;
  std::vector<std::pair<std::tuple<std::string, int32_t, int64_t, std::string>, std::string>> objects;
  s3::ListOptions options;
  for (;;) {
    const auto page = s3.ListObjectsV2(s3::BucketName(bucket), options);
    for (const auto& o : page.objects) objects.emplace_back(ObjectOrder(o.key), o.key);
    if (page.next_continuation_token.empty()) break;
    options.continuation_token = page.next_continuation_token;
  }
  std::sort(objects.begin(), objects.end());
  WarehouseWriter writer(warehouse);
  std::map<kafka::TopicPartition, int64_t> next;
  for (const auto& [order, key] : objects) {
    const auto text = Gunzip(s3.GetObject(s3::BucketName(bucket), s3::ObjectKey(key)));
    std::vector<ChangeEvent> events;
    for (size_t pos = 0; pos < text.size();) {
      const auto nl = text.find('\n', pos);
      const auto m = ParseLakeLine(std::string_view(text).substr(pos, nl - pos));
      pos = nl == std::string::npos ? text.size() : nl + 1;
      auto& n = next[{m.topic, m.partition}];
      n = std::max(n, m.offset + 1);
      try {
        auto e = ParseChangeEvent(m);
        CheckModelTypes(e);
        events.push_back(std::move(e));
      } catch (const PoisonError&) {
        // dead-lettered when it streamed; not part of the warehouse either way
      }
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const ChangeEvent& a, const ChangeEvent& b) { return a.offset < b.offset; });
    std::vector<const ChangeEvent*> ptrs;
    for (const auto& e : events) ptrs.push_back(&e);
    pg::Transaction tx(warehouse);
    const auto counts = writer.Apply(ptrs);
    tx.Commit();
    result.events += static_cast<int64_t>(events.size());
    result.fact_rows += counts.fact_rows;
    ++result.objects;
  }
  pg::Transaction tx(warehouse);
  for (const auto& [p, offset] : next) {
    warehouse.Exec(
        "INSERT INTO warehouse.loader_offsets (topic, partition, next_offset) VALUES ($1, $2, $3) "
        "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = "
        "greatest(warehouse.loader_offsets.next_offset, "
        "EXCLUDED.next_offset), updated_at = now()",
        {p.first, std::to_string(p.second), std::to_string(offset)});
  }
  tx.Commit();
  return result;
}

}  // namespace rainbow::loader
