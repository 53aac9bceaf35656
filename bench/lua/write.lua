-- write.lua: createItem in store STORE_ID (price 9.99), names varying per request.
--   wrk -s write.lua URL -- STORE_ID
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local query = "mutation($n: String!, $s: ID!) "
  .. "{ createItem(input: {name: $n, price: 9.99, storeId: $s}) { id } }"
local reqs

function init(args)
  common.seed()
  assert(args[1], "usage: -- STORE_ID")
  reqs = {}
  for i = 1, 1000 do
    reqs[i] = wrk.format(nil, nil, nil, common.body(query, { { "n", "bench write " .. i }, { "s", args[1] } }))
  end
end

function request()
  return reqs[math.random(#reqs)]
end
