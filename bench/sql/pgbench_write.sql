-- pgbench_write.sql: the INSERT the createItem scenario makes, as one prepared statement
-- in autocommit. pgbench -D store_id=…
INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at)
VALUES (:store_id, 'x', 'x', 999, now(), now()) RETURNING id;
