-- visitors.lua: wrk sends each request with the session cookie of the next
-- of VISITORS distinct visitors, sid=0 to sid=VISITORS-1; thread k of T
-- takes the visitors k, k+T, k+2T, ..., so that together the threads go
-- round all of them in turn. Pass T after wrk's arguments, and where to
-- start: the requests of the runs before, so that each run goes on where the
-- last one stopped (scripts/loadtest does):
--
--	VISITORS=50000 wrk -t 2 -c 64 -d 10s -s visitors.lua http://127.0.0.1:PORT/ -- 2 0
local visitors = tonumber(os.getenv("VISITORS") or "")
if visitors == nil or visitors < 1 then
  error("visitors.lua: set VISITORS to the number of visitors")
end

local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  step = tonumber(args[1]) or 1
  i = (tonumber(args[2]) or 0) + id
end

function request()
  local sid = i % visitors
  i = i + step
  return wrk.format("GET", nil, { ["Cookie"] = "sid=" .. sid })
end
