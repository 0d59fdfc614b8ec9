-- Every captured table logs whole old rows (issue 24): cdc-producer's README promises a full `before` on
-- updates and deletes, and consumers of Debezium events (the JDBC sink, SCD2 dimensions) rely on it.
-- 002 left orderdetails and idempotency_keys at DEFAULT, so their deletes carried nulls in NOT NULL
-- columns and their updates `before: null`.
ALTER TABLE rainbow.orderdetails REPLICA IDENTITY FULL;
ALTER TABLE rainbow.idempotency_keys REPLICA IDENTITY FULL;
