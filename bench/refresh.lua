-- wrk script for bench/run.py: the token endpoint's refresh_token grant. Refresh tokens rotate on
-- every use and a reused one revokes its grant, so each wrk thread (run with as many threads as
-- connections: one connection each, strictly one request at a time) follows its own chain,
-- starting from its own grant's refresh token and sending the one each answer returns.
--   BENCH_REFRESH_TOKENS (comma-separated, one per thread), BENCH_AUTHORIZATION (client Basic)

local tokens = {}
for token in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS") or error("BENCH_REFRESH_TOKENS is not set"), "[^,]+") do
  tokens[#tokens + 1] = token
end

local next_id = 0
function setup(thread)
  next_id = next_id + 1
  if next_id > #tokens then
    error("more wrk threads than refresh tokens")
  end
  thread:set("refresh_token", tokens[next_id])
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTHORIZATION") or error("BENCH_AUTHORIZATION is not set")

function request()
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. refresh_token)
end

function response(status, headers, body)
  local rotated = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
  if rotated then
    refresh_token = rotated
  end
end
