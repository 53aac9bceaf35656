-- write.lua: createItem in the store of row STORE_ROW (price 9.99; its global ID as storeId),
-- names varying per request, signed in as the store's owner: BENCH_TOKEN is the owner's
-- access token (common.lua sends it).
--   BENCH_TOKEN=… wrk -s write.lua URL -- STORE_ROW
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
-- Anonymous, every answer would be UNAUTHENTICATED with status 200, which wrk counts as a
-- success.
assert(common.signed_in, "write.lua: BENCH_TOKEN is not set: createItem needs a signed-in user")

local query = "mutation($n: String!, $s: ID!) "
  .. "{ createItem(input: {name: $n, price: 9.99, storeId: $s}) { id } }"
local reqs

function init(args)
  common.seed()
  local store = common.global_id("Store", assert(tonumber(args[1]), "usage: -- STORE_ROW"))
  reqs = {}
  for i = 1, 1000 do
    reqs[i] = wrk.format(nil, nil, nil, common.body(query, { { "n", "bench write " .. i }, { "s", store } }))
  end
end

function request()
  return reqs[math.random(#reqs)]
end
