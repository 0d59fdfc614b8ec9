-- The serving layer (ClickHouse, services/loader/README.md "ClickHouse") copies the warehouse
-- incrementally. Every row it copies carries a _version from one sequence, taken on each insert and
-- update (a BEFORE row trigger), and a delete leaves its row in warehouse.deleted_rows with the next
-- version. ClickHouse keeps, per key, the row with the highest version (ReplacingMergeTree), so copying
-- "everything above the highest version already copied" again and again is idempotent.
--
-- Versions must become visible in order: every statement that takes one first holds a shared advisory
-- lock (a BEFORE statement trigger) until its transaction ends; the copier takes the same lock
-- exclusively for an instant and reads the sequence: every version up to that value is committed.
CREATE SEQUENCE warehouse.serving_version_seq;

CREATE TABLE warehouse.deleted_rows (
  table_name  text NOT NULL,
  old_row     jsonb NOT NULL,
  _version    bigint NOT NULL DEFAULT nextval('warehouse.serving_version_seq'),
  deleted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deleted_rows_version_idx ON warehouse.deleted_rows (_version);

CREATE FUNCTION warehouse.serving_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW._version := nextval('warehouse.serving_version_seq');
  RETURN NEW;
END $$;

CREATE FUNCTION warehouse.serving_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(7263104101);
  RETURN NULL;
END $$;

CREATE FUNCTION warehouse.serving_log_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO warehouse.deleted_rows (table_name, old_row) VALUES (TG_TABLE_NAME, to_jsonb(OLD));
  RETURN OLD;
END $$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['fact_sales', 'dim_customers', 'dim_payments', 'dim_sellers', 'dim_promotions',
                           'dim_products', 'dim_dates', 'stg_orders', 'stg_orderdetails'] LOOP
    EXECUTE format('ALTER TABLE warehouse.%I ADD COLUMN _version bigint', t);
    EXECUTE format('UPDATE warehouse.%I SET _version = nextval(''warehouse.serving_version_seq'')', t);
    EXECUTE format('CREATE INDEX %I ON warehouse.%I (_version)', t || '_version_idx', t);
    EXECUTE format('CREATE TRIGGER serving_lock BEFORE INSERT OR UPDATE OR DELETE ON warehouse.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION warehouse.serving_lock()', t);
    EXECUTE format('CREATE TRIGGER serving_version BEFORE INSERT OR UPDATE ON warehouse.%I '
                   'FOR EACH ROW EXECUTE FUNCTION warehouse.serving_version()', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['fact_sales', 'stg_orders', 'stg_orderdetails'] LOOP
    EXECUTE format('CREATE TRIGGER serving_log_delete AFTER DELETE ON warehouse.%I '
                   'FOR EACH ROW EXECUTE FUNCTION warehouse.serving_log_delete()', t);
  END LOOP;
END $$;
