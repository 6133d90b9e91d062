-- Shared by the wrk scripts: per-thread seeds, the tokens file, status counts, and one
-- machine-readable RESULT line at the end (latencies in milliseconds).
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

counts = {}

function count(status)
  counts[status] = (counts[status] or 0) + 1
end

-- One line of the tokens file: key organisation access_token calendar_token.
function read_people(path)
  local people = {}
  for line in io.lines(path) do
    local key, org, access, calendar = line:match("^(%S+) (%S+) (%S+) (%S+)$")
    if key then
      people[#people + 1] = {key = key, org = org, access = access, calendar = calendar}
    end
  end
  return people
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  local statuses = {}
  for status, n in pairs(totals) do
    statuses[#statuses + 1] = string.format('"%d": %d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p90_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(statuses, ", ")))
end
