-- PUT of a new blueprint every time (its seed changes): validated, truth computed, written
-- atomically (200 replaced) — what the FastAPI baseline's POST does, and more.
dofile(os.getenv("WRK_LUA_DIR") .. "/common.lua")
local template = read_body()
local headers = { ["Content-Type"] = "application/json" }
local counter = 0
request = function()
  counter = counter + 1
  local body = template:gsub('"seed": *%d+', '"seed": ' .. (counter * 7919 + math.random(1, 1000000)), 1)
  return wrk.format("PUT", "/v1/experiments/bench/runs/run-" .. math.random(1, NIDS) .. "/params", headers, body)
end
