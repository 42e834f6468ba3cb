-- wrk script for bench/bench.py. Configured through environment variables (wrk's Lua has
-- os.getenv), so one script serves every scenario:
--   BENCH_METHOD        GET or POST (default GET)
--   BENCH_BODY          a static request body (JSON)
--   BENCH_HEADER_NAME / BENCH_HEADER_VALUE   one extra header (Authorization, X-API-Key)
--   BENCH_REFRESH_FILE  refresh-chain mode: one refresh token per line, one line per thread.
--                       Run with -t N -c N: wrk's Lua state is per thread and does not expose
--                       the connection, so one thread = one connection = one chain.
--   BENCH_REFRESH_REQUEST_FIELD   body field that carries the token ("refresh_token", "refresh")
--   BENCH_REFRESH_RESPONSE_FIELD  response field with the next token ("refresh_token", "refresh")
-- done() prints one line "BENCH_RESULT {json}" for the driver.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local header_name = os.getenv("BENCH_HEADER_NAME")
local header_value = os.getenv("BENCH_HEADER_VALUE")
local refresh_file = os.getenv("BENCH_REFRESH_FILE")
local request_field = os.getenv("BENCH_REFRESH_REQUEST_FIELD") or "refresh_token"
local response_field = os.getenv("BENCH_REFRESH_RESPONSE_FIELD") or "refresh_token"

wrk.method = method
if body and body ~= "" then
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
end
if refresh_file then
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end
if header_name and header_name ~= "" then
   wrk.headers[header_name] = header_value
end

-- Main state: number the threads so each picks its own line of the token file.
local threads = {}
local next_index = 1

function setup(thread)
   thread:set("thread_index", next_index)
   next_index = next_index + 1
   table.insert(threads, thread)
end

-- Per-thread state.
non2xx = 0
statuses = {}
chain_broken = 0
refresh_token = nil

local function read_line(path, n)
   local i = 0
   for line in io.lines(path) do
      i = i + 1
      if i == n then return line end
   end
   return nil
end

function init(args)
   if refresh_file then
      refresh_token = read_line(refresh_file, thread_index)
      if not refresh_token then
         error("no refresh token for thread " .. tostring(thread_index) .. " in " .. refresh_file)
      end
   end
end

if refresh_file then
   local prefix = '{"' .. request_field .. '":"'
   local pattern = '"' .. response_field .. '"%s*:%s*"([^"]+)"'

   function request()
      return wrk.format("POST", nil, nil, prefix .. refresh_token .. '"}')
   end

   function response(status, headers, resp_body)
      statuses[status] = (statuses[status] or 0) + 1
      if status < 200 or status > 299 then
         non2xx = non2xx + 1
         chain_broken = chain_broken + 1
         return
      end
      local token = string.match(resp_body, pattern)
      if token then
         refresh_token = token
      else
         chain_broken = chain_broken + 1
      end
   end
else
   function response(status, headers, resp_body)
      statuses[status] = (statuses[status] or 0) + 1
      if status < 200 or status > 299 then
         non2xx = non2xx + 1
      end
   end
end

function done(summary, latency, requests)
   local total_non2xx = 0
   local broken = 0
   local codes = {}
   for _, thread in ipairs(threads) do
      total_non2xx = total_non2xx + (thread:get("non2xx") or 0)
      broken = broken + (thread:get("chain_broken") or 0)
      local thread_statuses = thread:get("statuses") or {}
      for code, count in pairs(thread_statuses) do
         codes[code] = (codes[code] or 0) + count
      end
   end
   local parts = {}
   for code, count in pairs(codes) do
      table.insert(parts, string.format('"%d":%d', code, count))
   end
   local errors = summary.errors
   local seconds = summary.duration / 1e6
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_s":%.6f,"rps":%.3f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
      '"p99_ms":%.3f,"max_ms":%.3f,"non2xx":%d,"wrk_status_errors":%d,"socket_errors":' ..
      '{"connect":%d,"read":%d,"write":%d,"timeout":%d},"chain_broken":%d,"statuses":{%s}}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      total_non2xx, errors.status, errors.connect, errors.read, errors.write, errors.timeout,
      broken, table.concat(parts, ",")))
end
