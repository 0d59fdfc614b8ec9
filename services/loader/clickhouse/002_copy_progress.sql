-- The sink's progress: every version up to `version` of the table is in ClickHouse. Written after
-- every lane of a copy step has succeeded; the highest row per table counts (read with max()).
-- ClickHouse's own max(_version) is not progress once windows are copied in parallel: a failed lane
-- below a lane that succeeded leaves a gap under it.
CREATE TABLE copy_progress (
  table_name String, version UInt64, at DateTime('UTC')
) ENGINE = ReplacingMergeTree(version) ORDER BY table_name;

-- Tables copied before this migration were copied one window after the other, so their max(_version)
-- is their progress.
INSERT INTO copy_progress SELECT 'dim_customers', max(_version), now() FROM dim_customers;
INSERT INTO copy_progress SELECT 'dim_payments', max(_version), now() FROM dim_payments;
INSERT INTO copy_progress SELECT 'dim_sellers', max(_version), now() FROM dim_sellers;
INSERT INTO copy_progress SELECT 'dim_promotions', max(_version), now() FROM dim_promotions;
INSERT INTO copy_progress SELECT 'dim_products', max(_version), now() FROM dim_products;
INSERT INTO copy_progress SELECT 'dim_dates', max(_version), now() FROM dim_dates;
INSERT INTO copy_progress SELECT 'stg_orders', max(_version), now() FROM stg_orders;
INSERT INTO copy_progress SELECT 'stg_orderdetails', max(_version), now() FROM stg_orderdetails;
INSERT INTO copy_progress SELECT 'fact_sales', max(_version), now() FROM fact_sales;
