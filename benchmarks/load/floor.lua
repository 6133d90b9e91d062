-- The floor: GET /healthz does no database work, so it measures what the stack itself costs
-- (uvicorn, middleware, routing, logging) — the most any cached response could reach.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

function request()
  return wrk.format("GET", "/healthz")
end

function response(status, headers, body)
  count(status)
end
