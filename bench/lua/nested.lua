-- nested.lua: the first STORES stores (100 unless given), each with its first ITEMS items
-- (20 unless given), name and price: the nested scenario, and with 20 and 5 the storefront.
--   wrk -s nested.lua URL [-- STORES ITEMS]
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

function init(args)
  local stores, items = tonumber(args[1] or 100), tonumber(args[2] or 20)
  assert(stores and items, "usage: -- STORES ITEMS")
  wrk.body = common.body(string.format(
    "{ stores(first: %d) { nodes { name items(first: %d) { nodes { name price } } } } }", stores, items))
end
