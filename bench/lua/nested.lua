-- nested.lua: 100 stores, each with its first 20 items (name and price).
--   wrk -s nested.lua URL
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

wrk.body = common.body("{ stores(first: 100) { nodes { name items(first: 20) { nodes { name price } } } } }")
