-- The serving layer: copies of the warehouse's fact_sales, dimensions (every SCD2 version), dim_dates
-- and the staging mirrors of orders and order lines. Each table is a ReplacingMergeTree on the
-- warehouse's natural key, versioned by the warehouse's _version (migration 002): after any replay a
-- read with FINAL returns each key once, the latest version. A deleted row comes back as a row with
-- is_deleted = 1 and a higher version; the views filter it. Conservative dialect (ClickHouse 18.16):
-- DateTime('UTC') (times before 1970, e.g. an SCD2 valid_from of 1900-01-01, are stored as 1970-01-01),
-- Decimal for money, UInt8 for booleans, no LowCardinality, TTL or CODEC.
CREATE TABLE fact_sales (
  order_id Int64, line_no Int32, order_ts DateTime('UTC'), date_key UInt32,
  product_id Int64, customer_id Int64, payment_id Int64, promotion_id Nullable(Int64), seller_id Nullable(Int64),
  product_key Nullable(Int64), customer_key Nullable(Int64), payment_key Nullable(Int64),
  promotion_key Nullable(Int64), seller_key Nullable(Int64),
  sales_quantity Int32, regular_unit_price Decimal(12, 2), discount_unit_price Decimal(12, 2),
  net_unit_price Decimal(12, 2), extended_discount_amount Decimal(38, 6), extended_sales_amount Decimal(38, 6),
  is_deleted UInt8, _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY (order_id, line_no);

CREATE TABLE dim_customers (
  customer_key Int64, customer_id Int64, first_name Nullable(String), last_name Nullable(String),
  email Nullable(String), valid_from DateTime('UTC'), valid_to DateTime('UTC'), is_current UInt8,
  is_inferred UInt8, is_deleted UInt8, _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY customer_key;

CREATE TABLE dim_payments (
  payment_key Int64, payment_id Int64, name Nullable(String), type Nullable(String),
  valid_from DateTime('UTC'), valid_to DateTime('UTC'), is_current UInt8, is_inferred UInt8, is_deleted UInt8,
  _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY payment_key;

CREATE TABLE dim_sellers (
  seller_key Int64, seller_id Int64, name Nullable(String), link Nullable(String), is_best_store Nullable(UInt8),
  valid_from DateTime('UTC'), valid_to DateTime('UTC'), is_current UInt8, is_inferred UInt8, is_deleted UInt8,
  _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY seller_key;

CREATE TABLE dim_promotions (
  promotion_key Int64, promotion_id Int64, name Nullable(String), type Nullable(String),
  price_treatment Nullable(Decimal(12, 2)), coupon_type Nullable(String), is_global Nullable(UInt8),
  promo_begin Nullable(DateTime('UTC')), promo_end Nullable(DateTime('UTC')),
  valid_from DateTime('UTC'), valid_to DateTime('UTC'), is_current UInt8, is_inferred UInt8, is_deleted UInt8,
  _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY promotion_key;

CREATE TABLE dim_products (
  product_key Int64, product_id Int64, name Nullable(String), price Nullable(Decimal(12, 2)),
  original_price Nullable(Decimal(12, 2)), rating_average Nullable(Decimal(3, 2)), review_count Nullable(Int32),
  sold_count Nullable(Int32), category_id Nullable(Int64), seller_id Nullable(Int64), brand_id Nullable(Int64),
  promotion_id Nullable(Int64), valid_from DateTime('UTC'), valid_to DateTime('UTC'), is_current UInt8,
  is_inferred UInt8, is_deleted UInt8, _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY product_key;

CREATE TABLE dim_dates (
  date_key UInt32, date Date, day UInt8, month UInt8, month_name String, year UInt16, quarter UInt8,
  week UInt8, day_of_week UInt8, day_name String, is_weekend UInt8, _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY date_key;

CREATE TABLE stg_orders (
  _key String, _op String, _lsn Nullable(Int64), _source_ts Nullable(DateTime('UTC')),
  id Nullable(String), customer_id Nullable(String), payment_id Nullable(String), status Nullable(String),
  created_at Nullable(String), updated_at Nullable(String), deleted_at Nullable(String),
  is_deleted UInt8, _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY _key;

CREATE TABLE stg_orderdetails (
  _key String, _op String, _lsn Nullable(Int64), _source_ts Nullable(DateTime('UTC')),
  order_id Nullable(String), line_no Nullable(String), product_id Nullable(String), quantity Nullable(String),
  price Nullable(String), promotion_id Nullable(String), discount_unit_price Nullable(String),
  created_at Nullable(String), updated_at Nullable(String), deleted_at Nullable(String),
  is_deleted UInt8, _version UInt64
) ENGINE = ReplacingMergeTree(_version) ORDER BY _key;

-- Serving views: FINAL makes every figure exact whatever merges have or have not happened yet.
CREATE VIEW sales_by_day AS
SELECT date_key, count() AS lines, sum(sales_quantity) AS quantity, sum(extended_sales_amount) AS sales,
       sum(extended_discount_amount) AS discount
FROM fact_sales FINAL WHERE is_deleted = 0 GROUP BY date_key;

CREATE VIEW sales_by_product AS
SELECT product_id, count() AS lines, sum(sales_quantity) AS quantity, sum(extended_sales_amount) AS sales
FROM fact_sales FINAL WHERE is_deleted = 0 GROUP BY product_id;

CREATE VIEW sales_by_seller AS
SELECT seller_id, count() AS lines, sum(sales_quantity) AS quantity, sum(extended_sales_amount) AS sales
FROM fact_sales FINAL WHERE is_deleted = 0 GROUP BY seller_id;

CREATE VIEW sales_by_promotion AS
SELECT promotion_id, count() AS lines, sum(sales_quantity) AS quantity, sum(extended_sales_amount) AS sales,
       sum(extended_discount_amount) AS discount
FROM fact_sales FINAL WHERE is_deleted = 0 GROUP BY promotion_id;
