-- Calendar apps revalidating feeds they already hold: If-None-Match with the feed's ETag,
-- answered 304 without a body while the feed is unchanged.
-- Arguments: ETags file (one `calendar_token etag` line per participant).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")
local feeds = {}

function init(args)
  for line in io.lines(args[1]) do
    local token, etag = line:match("^(%S+) (.+)$")
    if token then
      feeds[#feeds + 1] = {token = token, etag = etag}
    end
  end
  math.randomseed(3000 + id)
end

function request()
  local feed = feeds[math.random(#feeds)]
  return wrk.format("GET", "/calendars/participants/" .. feed.token .. ".ics",
    {["If-None-Match"] = feed.etag})
end

function response(status, headers, body)
  count(status)
end
