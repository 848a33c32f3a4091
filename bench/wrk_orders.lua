-- wrk script for bench/bench_http.py: POST /api/orders with random but valid limit orders.
--
--   wrk -t1 -c64 -d15s --latency -s bench/wrk_orders.lua http://127.0.0.1:PORT \
--       -- KEY1,KEY2,... [SEED] [POOL]
--
-- Each wrk thread pre-generates POOL requests in init() (building a request per call is the
-- expensive part of a Lua request(); the SCRIPTING notes recommend this) and cycles through them.
-- Orders: market epex_at (mid 80.00) or epex_de (mid 95.00), BUY or SELL, GTC, price on the
-- 0.01 tick, quantity a multiple of the 0.1 lot from 0.1 to 3.0. BUY limits lie in
-- [mid - 0.60, mid + 0.40] and SELL limits in [mid - 0.40, mid + 0.60], so many orders cross.
-- The API key rotates per request over the keys given.
--
-- wrk_report.lua counts statuses and prints one line "WRK_JSON {...}" for the wrapper.

threads = {}

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

local MARKETS = { { "epex_at", 8000 }, { "epex_de", 9500 } }

function init(args)
  statuses = {}
  local keys = {}
  for k in string.gmatch(args[1] or "", "[^,]+") do
    table.insert(keys, k)
  end
  if #keys == 0 then
    error("wrk_orders.lua: pass the API keys after --, comma-separated")
  end
  local seed = tonumber(args[2] or "1") or 1
  local pool = tonumber(args[3] or "8192") or 8192
  math.randomseed(seed * 1000 + thread_no)
  requests_pool = {}
  for i = 1, pool do
    local m = MARKETS[math.random(1, #MARKETS)]
    local side, ticks
    if math.random() < 0.5 then
      side = "BUY"
      ticks = m[2] + math.random(-60, 40)
    else
      side = "SELL"
      ticks = m[2] + math.random(-40, 60)
    end
    local lots = math.random(1, 30)
    local body = string.format(
      '{"market":"%s","side":"%s","quantity":%d.%d,"price":%d.%02d}',
      m[1], side, math.floor(lots / 10), lots % 10, math.floor(ticks / 100), ticks % 100
    )
    local headers = {
      ["Content-Type"] = "application/json",
      ["X-API-Key"] = keys[((i - 1) % #keys) + 1],
    }
    requests_pool[i] = wrk.format("POST", "/api/orders", headers, body)
  end
  pool_size = pool
  next_request = 0
end

function request()
  next_request = next_request % pool_size + 1
  return requests_pool[next_request]
end

-- response() and done(): shared with the other wrk scripts.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_report.lua")
