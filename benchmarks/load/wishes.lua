-- The rush before the wish cut-off: every request sends a NEW wish (a sender and recipient
-- pair no earlier request and no stored wish used, never within one organisation), so each
-- 201 must be exactly one new row. The key of every wish acknowledged with 201 is written to
-- <keys prefix><thread>.keys, for the check against the database afterwards.
-- Arguments: tokens file, event slug, existing pairs file, number of wrk threads, keys prefix.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")
local people, path, existing, threads_total, keys
local n = 0

function init(args)
  people = read_people(args[1])
  path = "/api/v1/events/" .. args[2] .. "/me/wishes"
  existing = {}
  for line in io.lines(args[3]) do
    existing[line] = true
  end
  threads_total = tonumber(args[4])
  keys = assert(io.open(args[5] .. id .. ".keys", "w"))
  keys:setvbuf("line")
end

-- The k-th pair of this thread: senders round-robin, recipients at growing offsets, so no
-- two requests of any thread share a pair.
local function next_pair()
  while true do
    local k = n * threads_total + id
    n = n + 1
    local sender = k % #people
    local offset = 1 + math.floor(k / #people)
    local recipient = (sender + offset) % #people
    local from, to = people[sender + 1], people[recipient + 1]
    if from.org ~= to.org and not existing[from.key .. " " .. to.key] then
      return from, to
    end
  end
end

function request()
  local from, to = next_pair()
  local body = string.format('{"to": "%s", "priority": %d}', to.key, 1 + (n % 3))
  return wrk.format("POST", path, {
    ["X-Participant-Token"] = from.access,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  count(status)
  if status == 201 then
    keys:write((body:match('"key"%s*:%s*"([^"]+)"') or "?"), "\n")
  end
end
