-- wrk script for P2: backchannel requests (each one stored, and a message put in the outbox),
-- the customers' login hints taken in turn from BENCH_HINTS (one a line), posted to BENCH_PATH
-- with HTTP Basic client authentication (BENCH_BASIC).
local hints = {}
for line in io.lines(os.getenv("BENCH_HINTS")) do
  if #line > 0 then hints[#hints + 1] = line end
end
local path = os.getenv("BENCH_PATH")
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
}
local n = 0

local function encode(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

request = function()
  n = n % #hints + 1
  local body = "scope=openid&binding_message=BENCH&login_hint=" .. encode(hints[n])
  return wrk.format("POST", path, headers, body)
end
