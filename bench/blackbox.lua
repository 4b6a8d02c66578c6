-- wrk script driving blackbox_exporter's /probe: optional pacing (DELAY_MS per request and
-- connection), counts probes that report probe_success 1, sums probe_duration_seconds.
local d = tonumber(os.getenv("DELAY_MS") or "0")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, bad, dur = 0, 0, 0
end

if d > 0 then
  function delay()
    return d
  end
end

function response(status, headers, body)
  local s = body:match("\nprobe_success (%d)")
  local pd = body:match("\nprobe_duration_seconds ([%d%.eE%-%+]+)")
  if status == 200 and s == "1" then ok = ok + 1 else bad = bad + 1 end
  if pd then dur = dur + tonumber(pd) end
end

function done(summary, latency, requests)
  local o, b, du = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); b = b + t:get("bad"); du = du + t:get("dur")
  end
  local n = o + b
  io.write(string.format("BB ok=%d bad=%d mean_probe_ms=%.3f http_p50_ms=%.3f http_p99_ms=%.3f\n",
    o, b, n > 0 and du / n * 1000 or 0, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
