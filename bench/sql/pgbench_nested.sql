-- pgbench_nested.sql: the whole nested response in ONE statement, the database building
-- the same JSON document the server returns for
--   { stores(first: 100) { nodes { name items(first: 20) { nodes { name price } } } } }
-- (stores by id, each with its first 20 items by id). bench/run also runs it through psql
-- and checks that it equals the server's response.
SELECT json_build_object('data', json_build_object('stores', json_build_object('nodes',
  (SELECT coalesce(json_agg(json_build_object(
            'name', s.name,
            'items', json_build_object('nodes',
              (SELECT coalesce(json_agg(json_build_object(
                        'name', i.name, 'price', (i.price_cents / 100.0)::float8) ORDER BY i.id), '[]')
               FROM (SELECT id, name, price_cents FROM items
                     WHERE store_id = s.id ORDER BY id LIMIT 20) AS i))
          ) ORDER BY s.id), '[]')
   FROM (SELECT id, name FROM stores ORDER BY id LIMIT 100) AS s))));
