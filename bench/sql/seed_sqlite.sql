-- seed_sqlite.sql: the same small and overload stores as seed_postgres.sql (no big store:
-- the SQLite scenarios are point, nested, write and overload), loaded by the sqlite3 CLI
-- into a freshly migrated, empty database. Parameters (.parameter set): :small_stores,
-- :items_per_store, :heavy_stores, :heavy_items. Store ids start at 1: the small stores
-- are 1..small_stores, the overload stores follow.
-- Timestamps use the text format the server's driver writes (mattn/go-sqlite3).
.bail on

BEGIN;

WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :small_stores)
INSERT INTO stores (name, name_key, created_at, updated_at)
SELECT 'Bench store ' || n, 'bench store ' || n,
       strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
FROM g
ORDER BY n;

WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :items_per_store),
s AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM stores)
INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at)
SELECT s.id, 'Item ' || s.rn || '-' || g.n, 'item ' || s.rn || '-' || g.n,
       (s.rn * 7919 + g.n * 104729) % 1000000,
       strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
FROM s CROSS JOIN g
ORDER BY s.id, g.n;

WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :heavy_stores)
INSERT INTO stores (name, name_key, created_at, updated_at)
SELECT 'Overload store ' || n, 'overload store ' || n,
       strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
FROM g
ORDER BY n;

WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :heavy_items),
s AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM stores WHERE name_key LIKE 'overload store %')
INSERT INTO items (store_id, name, name_key, price_cents, created_at, updated_at)
SELECT s.id, 'Overload item ' || s.rn || '-' || g.n, 'overload item ' || s.rn || '-' || g.n,
       (s.rn * 7919 + g.n * 104729) % 1000000,
       strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'), strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')
FROM s CROSS JOIN g
ORDER BY s.id, g.n;

COMMIT;

ANALYZE;
