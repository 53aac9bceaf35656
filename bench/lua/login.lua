-- login.lua: the login mutation with EMAIL and PASSWORD, the same account every time: what
-- signing in costs, most of it the password hash (argon2id, 19 MiB, two passes). The server
-- must not rate-limit it (AUTH_RATE_PER_ADDRESS=0, AUTH_RATE_PER_EMAIL=0): a refusal costs
-- no hash. Answers without an access token come with status 200, which wrk counts as
-- successes; they are counted here instead and added to the summary line as err_answer.
--   wrk -s login.lua URL -- EMAIL PASSWORD
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local query = "mutation($email: String!, $password: String!) "
  .. "{ login(input: {email: $email, password: $password}) { accessToken } }"

function init(args)
  local email, password = args[1], args[2]
  assert(email and password, "usage: -- EMAIL PASSWORD")
  wrk.body = common.body(query, { { "email", email }, { "password", password } })
end

-- Per thread (a global, read by done through thread:get).
err_answer = 0

if not common.capturing then
  function response(status, headers, body)
    if status ~= 200 or body:sub(1, 33) ~= '{"data":{"login":{"accessToken":"' then
      err_answer = err_answer + 1
    end
  end
end

-- In the main state, when every thread has stopped.
function common.extra()
  local n = 0
  for _, thread in ipairs(common.threads) do
    n = n + thread:get("err_answer")
  end
  return string.format("err_answer=%d", n)
end
