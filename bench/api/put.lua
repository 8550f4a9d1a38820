-- PUT of the same blueprint as stored: validated, hashed, found identical, nothing written (200).
dofile(os.getenv("WRK_LUA_DIR") .. "/common.lua")
local body = read_body()
local headers = { ["Content-Type"] = "application/json" }
request = function()
  return wrk.format("PUT", "/v1/experiments/bench/runs/run-" .. math.random(1, NIDS) .. "/params", headers, body)
end
