dofile(os.getenv("WRK_LUA_DIR") .. "/common.lua")
request = function()
  return wrk.format("GET", "/v1/experiments/bench/runs/run-" .. math.random(1, NIDS) .. "/params")
end
