-- Participants reading their own agenda as JSON with their personal token.
-- Arguments: tokens file, event slug.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")
local people, path

function init(args)
  people = read_people(args[1])
  path = "/api/v1/events/" .. args[2] .. "/me/agenda"
  math.randomseed(2000 + id)
end

function request()
  local person = people[math.random(#people)]
  return wrk.format("GET", path, {["X-Participant-Token"] = person.access})
end

function response(status, headers, body)
  count(status)
end
