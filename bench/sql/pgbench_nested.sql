-- pgbench_nested.sql: the whole nested response in ONE statement, the database building
-- the same JSON document the server returns for
--   { stores(first: :stores) { nodes { name items(first: :items) { nodes { name price } } } } }
-- (stores by id, each with its first :items items by id): pgbench -D stores=100 -D items=20
-- for the nested scenario, 20 and 5 for the storefront. bench/run also runs it through psql
-- (-v stores=… -v items=…) and checks that it equals the server's response.
SELECT json_build_object('data', json_build_object('stores', json_build_object('nodes',
  (SELECT coalesce(json_agg(json_build_object(
            'name', s.name,
            'items', json_build_object('nodes',
              (SELECT coalesce(json_agg(json_build_object(
                        'name', i.name, 'price', (i.price_cents / 100.0)::float8) ORDER BY i.id), '[]')
               FROM (SELECT id, name, price_cents FROM items
                     WHERE store_id = s.id ORDER BY id LIMIT :items) AS i))
          ) ORDER BY s.id), '[]')
   FROM (SELECT id, name FROM stores ORDER BY id LIMIT :stores) AS s))));
