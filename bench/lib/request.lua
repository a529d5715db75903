-- wrk script for bench/run: one request shape, taken from the environment.
--   WRK_METHOD   GET (default), PATCH, ...
--   WRK_HEADERS  "Name: value" lines, separated by newlines
--   WRK_BODY     a request body; "{n}" in it becomes a per-request counter, so every
--                PATCH really changes the row (without it the request is prebuilt once)

wrk.method = os.getenv("WRK_METHOD") or "GET"

local headers = os.getenv("WRK_HEADERS") or ""
for line in headers:gmatch("[^\n]+") do
  local name, value = line:match("^%s*([^:]+):%s*(.-)%s*$")
  if name then
    wrk.headers[name] = value
  end
end

local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
  if not wrk.headers["Content-Type"] then
    wrk.headers["Content-Type"] = "application/json"
  end
  if body:find("{n}", 1, true) then
    local n = 0
    request = function()
      n = n + 1
      return wrk.format(nil, nil, nil, (body:gsub("{n}", tostring(n))))
    end
  end
end
