-- common.lua: shared by the scenario scripts (they load it with dofile from their own
-- directory). It sets up a JSON POST, signed in when BENCH_TOKEN holds an access token,
-- prints the machine-readable summary line that bench/run parses, and, when BENCH_CAPTURE
-- names a file, writes the first response's status and body there and stops (bench/run's
-- correctness check before the measurements).
local M = {}

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"

-- The bench user's access token, from bench/run (the login mutation's accessToken): every
-- request carries it, as a signed-in client's do. Unset or empty: anonymous requests.
local token = os.getenv("BENCH_TOKEN")
M.signed_in = token ~= nil and token ~= ""
if M.signed_in then
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- body builds the JSON request body for a GraphQL query and its variables. Variables
-- are {name, value} pairs of strings; the values used here never need escaping beyond
-- quotes and backslashes.
local function quote(s)
  return '"' .. s:gsub('[\\"]', '\\%0') .. '"'
end

function M.body(query, vars)
  local b = '{"query":' .. quote(query)
  if vars and #vars > 0 then
    local parts = {}
    for i, kv in ipairs(vars) do
      parts[i] = quote(kv[1]) .. ":" .. quote(kv[2])
    end
    b = b .. ',"variables":{' .. table.concat(parts, ",") .. "}"
  end
  return b .. "}"
end

-- global_id is the global ID the server gives row `row` of type_name ("Store", "Item"), e.g.
-- global_id("Item", 42) is "gid://storegraph/Item/42". The scripts take database row ids, as
-- pgbench's scripts do, and send the IDs a client would hold.
function M.global_id(type_name, row)
  return "gid://storegraph/" .. type_name .. "/" .. string.format("%d", row)
end

-- Per-thread random seed: setup runs once per thread in the main Lua state, which keeps the
-- threads for done (M.extra).
M.threads = {}
function setup(thread)
  M.threads[#M.threads + 1] = thread
  thread:set("thread_no", #M.threads)
end

function M.seed()
  math.randomseed(os.time() * 1000 + (thread_no or 0))
end

local capture = os.getenv("BENCH_CAPTURE")
M.capturing = capture ~= nil and capture ~= ""
if M.capturing then
  local captured = false
  function response(status, headers, body)
    if captured then return end
    captured = true
    local f = assert(io.open(capture, "w"))
    f:write(tostring(status), "\n", body or "")
    f:close()
    wrk.thread:stop()
  end
end

-- A script may set M.extra to a function (run in done, in the main state) returning more
-- key=value pairs for the summary line, e.g. totals over M.threads of thread:get(...).
function done(summary, latency, requests)
  local e = summary.errors
  local extra = M.extra and M.extra() or ""
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.3f p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f "
      .. "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d%s\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, extra ~= "" and " " .. extra or ""))
end

return M
