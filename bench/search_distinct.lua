-- wrk script: like the peer's search.lua, but every request's text is new (a counter is
-- appended), so no query embedding comes from the cache.
local queries_path = os.getenv("QUERIES") or "queries.txt"
local top_k = tonumber(os.getenv("TOP_K") or "10")
local queries = {}
local n = 0
local thread_no = 0
local threads_started = 0

function setup(thread)
  thread:set("thread_no", threads_started)
  threads_started = threads_started + 1
end

function init(args)
  for line in io.lines(queries_path) do
    if line:match("%S") then queries[#queries + 1] = line:gsub('"', '') end
  end
  n = (thread_no or 0) * 10000000
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local q = queries[n % #queries + 1] .. " " .. n
  return wrk.format("POST", "/search", nil, '{"text_query":"' .. q .. '","top_k":' .. top_k .. '}')
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.2f mean_ms=%.2f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, secs, summary.requests / secs, latency.mean / 1000,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.connect, e.read, e.write, e.status, e.timeout))
end
