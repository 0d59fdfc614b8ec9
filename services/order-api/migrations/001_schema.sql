-- The OLTP schema of the Rainbow project (shared/DESIGN.md, "Data model"). Every table carries
-- created_at / updated_at / deleted_at as the seed's database does.
CREATE SCHEMA IF NOT EXISTS rainbow;

CREATE TABLE rainbow.customers (
  id          bigserial PRIMARY KEY,
  first_name  text NOT NULL,
  last_name   text NOT NULL,
  email       text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);

CREATE TABLE rainbow.payments (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  type        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);

CREATE TABLE rainbow.sellers (
  id             bigserial PRIMARY KEY,
  name           text NOT NULL,
  link           text,
  is_best_store  boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz
);

CREATE TABLE rainbow.categories (
  id           bigserial PRIMARY KEY,
  name         text NOT NULL,
  description  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz
);

CREATE TABLE rainbow.brands (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);

CREATE TABLE rainbow.promotions (
  id               bigserial PRIMARY KEY,
  name             text NOT NULL,
  type             text NOT NULL,
  -- 'Percentage': percent off the price; 'Fixed Amount': money off each unit.
  price_treatment  numeric(12, 2) NOT NULL CHECK (price_treatment >= 0),
  coupon_type      text NOT NULL CHECK (coupon_type IN ('Percentage', 'Fixed Amount')),
  is_global        boolean NOT NULL DEFAULT false,
  promo_begin      timestamptz NOT NULL,
  promo_end        timestamptz NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz,
  CHECK (promo_end > promo_begin),
  CHECK (coupon_type <> 'Percentage' OR price_treatment <= 100)
);

CREATE TABLE rainbow.products (
  id              bigserial PRIMARY KEY,
  name            text NOT NULL,
  price           numeric(12, 2) NOT NULL CHECK (price >= 0),
  original_price  numeric(12, 2),
  rating_average  numeric(3, 2),
  review_count    integer NOT NULL DEFAULT 0,
  sold_count      integer NOT NULL DEFAULT 0,
  category_id     bigint REFERENCES rainbow.categories (id),
  seller_id       bigint REFERENCES rainbow.sellers (id),
  brand_id        bigint REFERENCES rainbow.brands (id),
  promotion_id    bigint REFERENCES rainbow.promotions (id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz
);

CREATE TABLE rainbow.inventories (
  product_id  bigint PRIMARY KEY REFERENCES rainbow.products (id),
  quantity    integer NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);

CREATE TABLE rainbow.orders (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES rainbow.customers (id),
  payment_id  bigint NOT NULL REFERENCES rainbow.payments (id),
  status      text NOT NULL DEFAULT 'CREATED',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);
CREATE INDEX orders_customer_id_idx ON rainbow.orders (customer_id, id);

-- One row per order line; price and discount are frozen at order time (the warehouse's fact_sales
-- reads them from here through CDC).
CREATE TABLE rainbow.orderdetails (
  order_id             bigint NOT NULL REFERENCES rainbow.orders (id),
  line_no              integer NOT NULL,
  product_id           bigint NOT NULL REFERENCES rainbow.products (id),
  quantity             integer NOT NULL CHECK (quantity > 0),
  price                numeric(12, 2) NOT NULL,
  promotion_id         bigint REFERENCES rainbow.promotions (id),
  discount_unit_price  numeric(12, 2) NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  deleted_at           timestamptz,
  PRIMARY KEY (order_id, line_no)
);

-- A retried POST with the same Idempotency-Key returns the first response and creates nothing new.
CREATE TABLE rainbow.idempotency_keys (
  key                 text PRIMARY KEY,
  request_fingerprint text NOT NULL,
  order_id            bigint NOT NULL REFERENCES rainbow.orders (id),
  created_at          timestamptz NOT NULL DEFAULT now()
);

-- The product feed of the other seed (shared/seed-data/products.csv), 26 columns, bulk-loaded by COPY.
CREATE TABLE rainbow.product_catalog (
  ean                   text PRIMARY KEY,
  style_number          text NOT NULL,
  style_option          text,
  size                  text,
  color                 text,
  brand_name            text,
  brand_code            integer,
  subbrand_name         text,
  product_category      text,
  product_subcategory   text,
  gender                text,
  edi_season            text,
  edi_style_name        text,
  country_of_origin     text,
  price_eur             numeric(12, 2),
  price_usd             numeric(12, 2),
  price_gbp             numeric(12, 2),
  gross_price_eur       numeric(12, 2),
  b2b_readiness_date    timestamptz,
  article_status        text,
  enrichment_status     text,
  created_on            timestamptz,
  last_updated          timestamptz,
  fabric_composition    text,
  washing_instructions  text,
  edi_description       text,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  deleted_at            timestamptz
);
