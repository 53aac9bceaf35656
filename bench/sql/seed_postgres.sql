-- seed_postgres.sql: the benchmark data, loaded by psql into a freshly migrated, empty
-- database. Variables (psql -v): small_stores, items_per_store, big_items, heavy_stores,
-- heavy_items.
--
--   stores 1..small_stores     each with items_per_store items (ids in store order)
--   one more store             with big_items items, for deep paging; created after the
--                              small ones so that stores(first: 100) are the small ones.
--   heavy_stores more, last    'Overload store N', each with heavy_items items: what the
--                              overload scenario's heavy query pages, after the big store.
-- name_key is the lower-case name; price_cents is whole cents.
\set ON_ERROR_STOP on

BEGIN;

INSERT INTO stores (name, name_key, created_at, updated_at)
SELECT 'Bench store ' || g, 'bench store ' || g,
       now() - make_interval(secs => :small_stores - g), now() - make_interval(secs => :small_stores - g)
FROM generate_series(1, :small_stores) AS g
ORDER BY g;

INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at)
SELECT s.id, 'Item ' || s.rn || '-' || n, 'item ' || s.rn || '-' || n,
       (s.rn * 7919 + n::bigint * 104729) % 1000000, now(), now()
FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM stores) AS s
CROSS JOIN generate_series(1, :items_per_store) AS n
ORDER BY s.id, n;

INSERT INTO stores (name, name_key, created_at, updated_at)
VALUES ('Bench big store', 'bench big store', now(), now());

INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at)
SELECT (SELECT id FROM stores WHERE name_key = 'bench big store'),
       'Deep item ' || n, 'deep item ' || n, (n::bigint * 104729) % 1000000, now(), now()
FROM generate_series(1, :big_items) AS n
ORDER BY n;

INSERT INTO stores (name, name_key, created_at, updated_at)
SELECT 'Overload store ' || g, 'overload store ' || g, now(), now()
FROM generate_series(1, :heavy_stores) AS g
ORDER BY g;

INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at)
SELECT s.id, 'Overload item ' || s.rn || '-' || n, 'overload item ' || s.rn || '-' || n,
       (s.rn * 7919 + n::bigint * 104729) % 1000000, now(), now()
FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM stores WHERE name_key LIKE 'overload store %') AS s
CROSS JOIN generate_series(1, :heavy_items) AS n
ORDER BY s.id, n;

COMMIT;

-- Statistics for the planner and a visibility map for index-only scans.
VACUUM (ANALYZE) stores, items;
