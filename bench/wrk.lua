-- wrk script of `make bench` (bench/load.py runs wrk with one thread).
-- BENCH_PATHS: a file of request paths, one a line, sent in turn (else the URL's path).
-- BENCH_TOKEN: sent as `Authorization: Bearer <token>` when set.
-- Counts statuses and X-Cache values, adds up X-Total-Count, and prints its figures as one
-- line, `BENCH_JSON {...}`, when done (latencies in microseconds).
-- BENCH_BODIES=off: no response() callback, so wrk neither keeps nor copies the bodies; only
-- its own count of responses with a status of 400 or more is left ("errors.status"). With
-- the callback, each body becomes a Lua string: at 6 MB a response, wrk's one thread was
-- the bottleneck (a bare aiohttp handler of that body: 130 req/s and 7 timeouts in 10 s at
-- 64 connections with it, 290 req/s and none without).

local paths, next_path = {}, 0
local file = os.getenv("BENCH_PATHS")
if file and file ~= "" then
  for line in io.lines(file) do
    paths[#paths + 1] = line
  end
end
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

statuses, caches, total_count = {}, {}, 0  -- globals: done() reads them from each thread
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

if #paths > 0 then
  function request()
    next_path = next_path % #paths + 1
    return wrk.format(nil, paths[next_path])
  end
end

if os.getenv("BENCH_BODIES") ~= "off" then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    local cache = headers["X-Cache"] or "none"
    caches[cache] = (caches[cache] or 0) + 1
    total_count = total_count + (tonumber(headers["X-Total-Count"]) or 0)
  end
end

local function object(counts)
  local parts = {}
  for key, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%s":%d', tostring(key), count)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function add(into, counts)
  for key, count in pairs(counts) do
    into[key] = (into[key] or 0) + count
  end
end

function done(summary, latency, requests)
  local all_statuses, all_caches, all_total = {}, {}, 0
  for _, thread in ipairs(threads) do
    add(all_statuses, thread:get("statuses"))
    add(all_caches, thread:get("caches"))
    all_total = all_total + thread:get("total_count")
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},'
      .. '"statuses":%s,"cache":%s,"total_count":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, errors.connect, errors.read, errors.write, errors.timeout, errors.status,
    object(all_statuses), object(all_caches), all_total))
end
