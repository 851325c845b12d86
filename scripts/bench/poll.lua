-- wrk script for P1: CIBA token polls for pending requests, the ids taken in turn from the file
-- BENCH_IDS (one auth_req_id a line), the client authenticated with HTTP Basic (BENCH_BASIC,
-- base64 of id:secret), posted to BENCH_PATH.
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
  if #line > 0 then ids[#ids + 1] = line end
end
local path = os.getenv("BENCH_PATH")
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
}
local n = 0

request = function()
  n = n % #ids + 1
  local body = "grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id=" .. ids[n]
  return wrk.format("POST", path, headers, body)
end
