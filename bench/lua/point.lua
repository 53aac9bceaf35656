-- point.lua: item(id:) with its name and price, for item rows drawn uniformly at random from
-- [LO, HI] (the small stores' items), sent as their global IDs (gid://storegraph/Item/N);
-- anonymous, or signed in with BENCH_TOKEN (the point-auth scenario; see common.lua).
--   [BENCH_TOKEN=…] wrk -s point.lua URL -- LO HI
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local query = "query($id: ID!) { item(id: $id) { name price } }"
local reqs, lo, hi

function init(args)
  common.seed()
  lo, hi = tonumber(args[1]), tonumber(args[2])
  assert(lo and hi and lo <= hi, "usage: -- LO HI")
  -- Prebuilt requests, so the generator spends no time formatting.
  reqs = {}
  for row = lo, hi do
    reqs[#reqs + 1] = wrk.format(nil, nil, nil, common.body(query, { { "id", common.global_id("Item", row) } }))
  end
end

function request()
  return reqs[math.random(#reqs)]
end
