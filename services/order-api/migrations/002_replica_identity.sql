-- CDC (cdc-producer) publishes these tables. Rows are updated in place (status, prices, stock), and
-- the warehouse's SCD type 2 dimensions want the full before-image of an update, so dimensions and
-- orders log whole old rows; orderdetails and the key table are insert-only and keep the default.
ALTER TABLE rainbow.customers REPLICA IDENTITY FULL;
ALTER TABLE rainbow.payments REPLICA IDENTITY FULL;
ALTER TABLE rainbow.sellers REPLICA IDENTITY FULL;
ALTER TABLE rainbow.categories REPLICA IDENTITY FULL;
ALTER TABLE rainbow.brands REPLICA IDENTITY FULL;
ALTER TABLE rainbow.promotions REPLICA IDENTITY FULL;
ALTER TABLE rainbow.products REPLICA IDENTITY FULL;
ALTER TABLE rainbow.inventories REPLICA IDENTITY FULL;
ALTER TABLE rainbow.orders REPLICA IDENTITY FULL;
ALTER TABLE rainbow.product_catalog REPLICA IDENTITY FULL;
