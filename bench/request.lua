-- wrk script for bench/run.py: one fixed request described by the environment, for the
-- scenarios that are not a plain GET (the token endpoint's client_credentials grant).
--   BENCH_METHOD (default GET), BENCH_BODY, BENCH_CONTENT_TYPE, BENCH_AUTHORIZATION

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.body = os.getenv("BENCH_BODY")
local content_type = os.getenv("BENCH_CONTENT_TYPE")
if content_type then
  wrk.headers["Content-Type"] = content_type
end
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization then
  wrk.headers["Authorization"] = authorization
end
