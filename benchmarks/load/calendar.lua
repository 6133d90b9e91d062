-- Calendar apps fetching participants' agenda feeds by their secret URLs (.ics, no login).
-- Arguments: tokens file.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")
local people

function init(args)
  people = read_people(args[1])
  math.randomseed(1000 + id)
end

function request()
  local person = people[math.random(#people)]
  return wrk.format("GET", "/calendars/participants/" .. person.calendar .. ".ics")
end

function response(status, headers, body)
  count(status)
end
