-- wrk script for bench/run.py: a one-operation PATCH /Me whose value changes on every request,
-- so every request really writes a new version (no no-op short-cut).
-- The bearer token comes from the environment (BENCH_TOKEN); wrk's -H flag is not used for PATCH.

local token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
local counter = 0

-- wrk calls setup(thread) once per thread on the main Lua state; thread:set gives each thread a
-- global thread_id, so two threads never send the same value.
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
end

wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/scim+json"
wrk.headers["Accept"] = "application/scim+json"
wrk.headers["Authorization"] = "Bearer " .. token

function request()
  counter = counter + 1
  local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
    .. '"Operations":[{"op":"replace","path":"nickName","value":"bench-'
    .. (thread_id or 0) .. '-' .. counter .. '"}]}'
  return wrk.format(nil, nil, nil, body)
end
