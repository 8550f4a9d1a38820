-- shared by get.lua / put.lua / put_new.lua: 1000 run ids, one JSON summary line on stdout
-- (the same line as ../shared/bench/api_fastapi/wrk_common.lua prints).
math.randomseed(42)
NIDS = 1000
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_s":%.3f,"req_per_s":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_mean_ms":%.3f,"lat_p50_ms":%.3f,"lat_p90_ms":%.3f,"lat_p99_ms":%.3f,"lat_max_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
function read_body()
  local f = assert(io.open(os.getenv("WRK_LUA_DIR") .. "/body.json", "r"))
  local body = f:read("*a"):gsub("%s+$", "")
  f:close()
  return body
end
