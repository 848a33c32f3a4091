-- wrk script for bench/bench_market.py: GET one path with an API key.
--
--   wrk -t1 -c64 -d10s --latency -s bench/wrk_get.lua http://127.0.0.1:PORT -- KEY PATH

threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  local key = args[1] or error("wrk_get.lua: pass the API key after --")
  local path = args[2] or "/api/market-data"
  the_request = wrk.format("GET", path, { ["X-API-Key"] = key })
end

function request()
  return the_request
end

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_report.lua")
