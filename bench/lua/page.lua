-- page.lua: 20 items of the store of row STORE_ROW (its global ID in the filter) in the
-- default (ID) order, after CURSOR if given: the first page and the deep page run the same
-- query text and differ only in variables.
--   wrk -s page.lua URL -- STORE_ROW [CURSOR]
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local query = "query($store: ID!, $after: String) "
  .. "{ items(first: 20, after: $after, filter: {storeId: $store}) { nodes { id name price } } }"

function init(args)
  local store = assert(tonumber(args[1]), "usage: -- STORE_ROW [CURSOR]")
  local vars = { { "store", common.global_id("Store", store) } }
  if args[2] and args[2] ~= "" then
    vars[2] = { "after", args[2] }
  end
  wrk.body = common.body(query, vars)
end
