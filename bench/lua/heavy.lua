-- heavy.lua: the heaviest query the default limits admit (complexity 190,601 of 200,000;
-- see bench/README.md, "Overload"): 100 stores after the cursor AFTER, each with its first
-- 100 items twice, as edges (cursor, item, the item's store) and as nodes.
--   wrk -tN -cN -s heavy.lua URL -- AFTER [REFUSAL_LIMIT_MS [TIMEOUT_MS]]
--
-- Every answer within TIMEOUT_MS (10000, wrk's --timeout) of its request is sorted into
-- data (200 whose body begins with "data"), refused (503 with the code OVERLOADED) and other
-- (anything else: a GraphQL error, another status); refusals later than REFUSAL_LIMIT_MS
-- (1000) are counted too. Answers after TIMEOUT_MS, of any kind, are late (wrk counts them
-- as timeouts). Run it with as many threads as connections: wrk does not say which
-- connection a response came on, but with one connection per thread each thread's request
-- and response pair up. The totals over the threads are added to the summary line
-- (common.lua), as is what is still in flight when wrk stops (wrk forgets it): how many,
-- the oldest, and how many of them had waited longer than TIMEOUT_MS (stuck).
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local ffi = require("ffi")

local query = "query($after: String) { stores(first: 100, after: $after) { nodes { id name createdAt updatedAt "
  .. "items(first: 100) { "
  .. "edges { cursor node { id name price createdAt updatedAt store { id name createdAt updatedAt } } } "
  .. "nodes { id name price createdAt updatedAt } } } } }"

ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

-- Per thread (globals, read by done through thread:get).
data, refused, refused_bare, refused_late, other, late = 0, 0, 0, 0, 0, 0
max_us, refused_max_us = 0, 0 -- the slowest answer (of any kind), the slowest refusal
other_sample = nil -- the first answer neither data nor refusal, late or not: status, start of the body
pending = 0        -- when the request in flight was sent; 0: none
refusal_limit_us, timeout_us = 1e6, 10e6

local req

function init(args)
  assert(args[1], "usage: -- AFTER [REFUSAL_LIMIT_MS [TIMEOUT_MS]]")
  refusal_limit_us = (tonumber(args[2]) or 1000) * 1e3
  timeout_us = (tonumber(args[3]) or 10000) * 1e3
  req = wrk.format(nil, nil, nil, common.body(query, { { "after", args[1] } }))
end

function request()
  pending = now_us()
  return req
end

if not common.capturing then
  function response(status, headers, body)
    local us = pending > 0 and now_us() - pending or 0
    pending = 0
    max_us = math.max(max_us, us)
    local kind = "other"
    if status == 200 and body:sub(1, 8) == '{"data":' then
      kind = "data"
    elseif status == 503 and body:find('"code":"OVERLOADED"', 1, true) then
      kind = "refused"
    else
      other_sample = other_sample or (status .. " " .. body:sub(1, 300):gsub("%s+", " "))
    end
    if us > timeout_us then
      late = late + 1
    elseif kind == "data" then
      data = data + 1
    elseif kind == "refused" then
      refused = refused + 1
      refused_max_us = math.max(refused_max_us, us)
      if us > refusal_limit_us then refused_late = refused_late + 1 end
      if not (headers["Retry-After"] or headers["retry-after"]) then refused_bare = refused_bare + 1 end
    else
      other = other + 1
    end
  end
end

-- In the main state, when every thread has stopped.
function common.extra()
  local t = { data = 0, refused = 0, refused_bare = 0, refused_late = 0, other = 0, late = 0, max_us = 0,
    refused_max_us = 0, inflight = 0, inflight_stuck = 0, inflight_max_us = 0 }
  local now, sample = now_us(), nil
  for _, thread in ipairs(common.threads) do
    local timeout = thread:get("timeout_us") -- init ran in the threads only
    for _, k in ipairs({ "data", "refused", "refused_bare", "refused_late", "other", "late" }) do
      t[k] = t[k] + thread:get(k)
    end
    t.max_us = math.max(t.max_us, thread:get("max_us"))
    t.refused_max_us = math.max(t.refused_max_us, thread:get("refused_max_us"))
    local sent = thread:get("pending")
    if sent > 0 then
      t.inflight = t.inflight + 1
      t.inflight_max_us = math.max(t.inflight_max_us, now - sent)
      if now - sent > timeout then t.inflight_stuck = t.inflight_stuck + 1 end
    end
    sample = sample or thread:get("other_sample")
  end
  local parts = {}
  for _, k in ipairs({ "data", "refused", "refused_bare", "refused_late", "other", "late", "max_us",
    "refused_max_us", "inflight", "inflight_stuck", "inflight_max_us" }) do
    parts[#parts + 1] = string.format("%s=%d", k, t[k])
  end
  if sample then io.write("BENCH_OTHER ", sample, "\n") end
  return table.concat(parts, " ")
end
