-- pgbench_point.sql: the point read the GraphQL item(id:) scenario does, as one prepared
-- SELECT. pgbench -D point_lo=… -D point_hi=… (the small stores' item ids).
\set id random(:point_lo, :point_hi)
SELECT name, price_cents FROM items WHERE id = :id;
