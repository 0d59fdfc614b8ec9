-- The warehouse of flow A (shared/DESIGN.md, "Data model"): staging mirrors of the CDC streams, SCD
-- type 2 dimensions, dim_dates and fact_sales at order-line grain, plus the loader's own progress.
CREATE SCHEMA IF NOT EXISTS warehouse;

-- Where each partition's consumption stands. Written in the same transaction as the rows the batch
-- produced, and only if it still holds the offset the batch started from (a fence against a second
-- consumer of the same partition during a rebalance).
CREATE TABLE warehouse.loader_offsets (
  topic        text NOT NULL,
  partition    integer NOT NULL,
  next_offset  bigint NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition)
);

-- Staging: the latest row per key of each source table, every source column as text (the JSON
-- scalar's text form), so a column added in the source is one ALTER TABLE away. The loader creates
-- the tables of other source tables on their first event; these are the model's inputs.
-- Meta columns: _key (the Kafka key, canonical JSON), _op, _lsn, _source_ts (commit time), and the
-- Kafka position of the event that wrote the row.
CREATE TABLE warehouse.stg_customers (
  _key text PRIMARY KEY, _op char(1) NOT NULL, _lsn bigint, _source_ts timestamptz,
  _topic text, _partition integer, _offset bigint, _loaded_at timestamptz NOT NULL DEFAULT now(),
  id text, first_name text, last_name text, email text,
  created_at text, updated_at text, deleted_at text
);
CREATE TABLE warehouse.stg_payments (
  _key text PRIMARY KEY, _op char(1) NOT NULL, _lsn bigint, _source_ts timestamptz,
  _topic text, _partition integer, _offset bigint, _loaded_at timestamptz NOT NULL DEFAULT now(),
  id text, name text, type text,
  created_at text, updated_at text, deleted_at text
);
CREATE TABLE warehouse.stg_sellers (
  _key text PRIMARY KEY, _op char(1) NOT NULL, _lsn bigint, _source_ts timestamptz,
  _topic text, _partition integer, _offset bigint, _loaded_at timestamptz NOT NULL DEFAULT now(),
  id text, name text, link text, is_best_store text,
  created_at text, updated_at text, deleted_at text
);
CREATE TABLE warehouse.stg_promotions (
  _key text PRIMARY KEY, _op char(1) NOT NULL, _lsn bigint, _source_ts timestamptz,
  _topic text, _partition integer, _offset bigint, _loaded_at timestamptz NOT NULL DEFAULT now(),
  id text, name text, type text, price_treatment text, coupon_type text, is_global text,
  promo_begin text, promo_end text,
  created_at text, updated_at text, deleted_at text
);
CREATE TABLE warehouse.stg_products (
  _key text PRIMARY KEY, _op char(1) NOT NULL, _lsn bigint, _source_ts timestamptz,
  _topic text, _partition integer, _offset bigint, _loaded_at timestamptz NOT NULL DEFAULT now(),
  id text, name text, price text, original_price text, rating_average text, review_count text,
  sold_count text, category_id text, seller_id text, brand_id text, promotion_id text,
  created_at text, updated_at text, deleted_at text
);
CREATE TABLE warehouse.stg_orders (
  _key text PRIMARY KEY, _op char(1) NOT NULL, _lsn bigint, _source_ts timestamptz,
  _topic text, _partition integer, _offset bigint, _loaded_at timestamptz NOT NULL DEFAULT now(),
  id text, customer_id text, payment_id text, status text,
  created_at text, updated_at text, deleted_at text
);
CREATE UNIQUE INDEX stg_orders_id_idx ON warehouse.stg_orders (id);
CREATE TABLE warehouse.stg_orderdetails (
  _key text PRIMARY KEY, _op char(1) NOT NULL, _lsn bigint, _source_ts timestamptz,
  _topic text, _partition integer, _offset bigint, _loaded_at timestamptz NOT NULL DEFAULT now(),
  order_id text, line_no text, product_id text, quantity text, price text, promotion_id text,
  discount_unit_price text,
  created_at text, updated_at text, deleted_at text
);
CREATE INDEX stg_orderdetails_order_id_idx ON warehouse.stg_orderdetails (order_id);

-- Dimensions, SCD type 2: a change to a tracked attribute closes the current row (valid_to = the
-- change's commit time, is_current = false) and opens a new one; an untracked one is updated in place.
-- Which attributes are tracked is declared in services/loader/src/dimensions.cpp. A member's first
-- version is valid from 1900-01-01, so facts older than the member's arrival still find it. An
-- inferred member (is_inferred) stands in for one a fact referenced before it arrived; its row is
-- filled in when the member comes.
CREATE TABLE warehouse.dim_customers (
  customer_key  bigserial PRIMARY KEY,
  customer_id   bigint NOT NULL,
  first_name    text,
  last_name     text,
  email         text,
  valid_from    timestamptz NOT NULL,
  valid_to      timestamptz NOT NULL DEFAULT '2100-01-01',
  is_current    boolean NOT NULL DEFAULT true,
  is_inferred   boolean NOT NULL DEFAULT false,
  is_deleted    boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX dim_customers_current_idx ON warehouse.dim_customers (customer_id) WHERE is_current;
CREATE INDEX dim_customers_history_idx ON warehouse.dim_customers (customer_id, valid_from);

CREATE TABLE warehouse.dim_payments (
  payment_key   bigserial PRIMARY KEY,
  payment_id    bigint NOT NULL,
  name          text,
  type          text,
  valid_from    timestamptz NOT NULL,
  valid_to      timestamptz NOT NULL DEFAULT '2100-01-01',
  is_current    boolean NOT NULL DEFAULT true,
  is_inferred   boolean NOT NULL DEFAULT false,
  is_deleted    boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX dim_payments_current_idx ON warehouse.dim_payments (payment_id) WHERE is_current;
CREATE INDEX dim_payments_history_idx ON warehouse.dim_payments (payment_id, valid_from);

CREATE TABLE warehouse.dim_sellers (
  seller_key     bigserial PRIMARY KEY,
  seller_id      bigint NOT NULL,
  name           text,
  link           text,
  is_best_store  boolean,
  valid_from     timestamptz NOT NULL,
  valid_to       timestamptz NOT NULL DEFAULT '2100-01-01',
  is_current     boolean NOT NULL DEFAULT true,
  is_inferred    boolean NOT NULL DEFAULT false,
  is_deleted     boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX dim_sellers_current_idx ON warehouse.dim_sellers (seller_id) WHERE is_current;
CREATE INDEX dim_sellers_history_idx ON warehouse.dim_sellers (seller_id, valid_from);

CREATE TABLE warehouse.dim_promotions (
  promotion_key    bigserial PRIMARY KEY,
  promotion_id     bigint NOT NULL,
  name             text,
  type             text,
  price_treatment  numeric(12, 2),
  coupon_type      text,
  is_global        boolean,
  promo_begin      timestamptz,
  promo_end        timestamptz,
  valid_from       timestamptz NOT NULL,
  valid_to         timestamptz NOT NULL DEFAULT '2100-01-01',
  is_current       boolean NOT NULL DEFAULT true,
  is_inferred      boolean NOT NULL DEFAULT false,
  is_deleted       boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX dim_promotions_current_idx ON warehouse.dim_promotions (promotion_id) WHERE is_current;
CREATE INDEX dim_promotions_history_idx ON warehouse.dim_promotions (promotion_id, valid_from);

CREATE TABLE warehouse.dim_products (
  product_key     bigserial PRIMARY KEY,
  product_id      bigint NOT NULL,
  name            text,
  price           numeric(12, 2),
  original_price  numeric(12, 2),
  rating_average  numeric(3, 2),
  review_count    integer,
  sold_count      integer,
  category_id     bigint,
  seller_id       bigint,
  brand_id        bigint,
  promotion_id    bigint,
  valid_from      timestamptz NOT NULL,
  valid_to        timestamptz NOT NULL DEFAULT '2100-01-01',
  is_current      boolean NOT NULL DEFAULT true,
  is_inferred     boolean NOT NULL DEFAULT false,
  is_deleted      boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX dim_products_current_idx ON warehouse.dim_products (product_id) WHERE is_current;
CREATE INDEX dim_products_history_idx ON warehouse.dim_products (product_id, valid_from);

-- One row per calendar day that an order falls on (UTC), generated as orders arrive.
CREATE TABLE warehouse.dim_dates (
  date_key     integer PRIMARY KEY,  -- YYYYMMDD
  date         date NOT NULL UNIQUE,
  day          smallint NOT NULL,
  month        smallint NOT NULL,
  month_name   text NOT NULL,
  year         smallint NOT NULL,
  quarter      smallint NOT NULL,
  week         smallint NOT NULL,    -- ISO week
  day_of_week  smallint NOT NULL,    -- ISO: 1 = Monday
  day_name     text NOT NULL,
  is_weekend   boolean NOT NULL
);

-- Order-line grain. Natural ids are kept next to the surrogate keys so that a key can be re-resolved
-- (point in time: the dimension version valid at order_ts) when a late or changed member arrives.
-- discount_unit_price is the source line's, frozen at order time by order-api.
CREATE TABLE warehouse.fact_sales (
  order_id                  bigint NOT NULL,
  line_no                   integer NOT NULL,
  order_ts                  timestamptz NOT NULL,
  date_key                  integer NOT NULL REFERENCES warehouse.dim_dates (date_key),
  product_id                bigint NOT NULL,
  customer_id               bigint NOT NULL,
  payment_id                bigint NOT NULL,
  promotion_id              bigint,
  seller_id                 bigint,
  product_key               bigint,
  customer_key              bigint,
  payment_key               bigint,
  promotion_key             bigint,
  seller_key                bigint,
  sales_quantity            integer NOT NULL,
  regular_unit_price        numeric(12, 2) NOT NULL,
  discount_unit_price       numeric(12, 2) NOT NULL,
  net_unit_price            numeric(12, 2) NOT NULL,
  extended_discount_amount  numeric NOT NULL,
  extended_sales_amount     numeric NOT NULL,
  loaded_at                 timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, line_no)
);
CREATE INDEX fact_sales_date_idx ON warehouse.fact_sales (date_key);
CREATE INDEX fact_sales_product_idx ON warehouse.fact_sales (product_id);
CREATE INDEX fact_sales_customer_idx ON warehouse.fact_sales (customer_id);
CREATE INDEX fact_sales_payment_idx ON warehouse.fact_sales (payment_id);
CREATE INDEX fact_sales_promotion_idx ON warehouse.fact_sales (promotion_id);
CREATE INDEX fact_sales_seller_idx ON warehouse.fact_sales (seller_id);
