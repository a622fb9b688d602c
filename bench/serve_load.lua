-- serve_load.lua - wrk script for bench/serve_load.sh: GET /api/search with
-- two mid-frequency words of bench/synth.h's vocabulary (the words
-- search_bench's synthetic index is made of), rotating over 1000 queries;
-- MODE=vector|keyword in the environment picks the ranking (default hybrid).

local function word(w)
  -- synth.h: sprintf("w%x%c", w * 2654435761u % 0xfffff, 'a' + w % 26)
  local v = (w * 2654435761) % 4294967296 % 1048575
  return string.format("w%x%s", v, string.char(97 + w % 26))
end

local mode = os.getenv("MODE") or "hybrid"
local queries = {}
math.randomseed(7)
for i = 1, 1000 do
  local a, b = word(50 + math.random(0, 499)), word(50 + math.random(0, 499))
  queries[i] = "/api/search?k=10&mode=" .. mode .. "&q=" .. a .. "%20" .. b
end

local n = 0
request = function()
  n = n % #queries + 1
  return wrk.format("GET", queries[n])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.1f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
    "non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, e.status, e.connect, e.read, e.write, e.timeout))
end
