-- Rotates over ids read from $IDS_FILE; METHOD, PATH_TEMPLATE ("{id}" replaced), BODY and TOKEN from env.
local ids = {}
local method = os.getenv("METHOD") or "GET"
local template = os.getenv("PATH_TEMPLATE")
local body = os.getenv("BODY")
local token = os.getenv("TOKEN")
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
math.randomseed(os.time())
request = function()
  local id = ids[math.random(#ids)]
  local path = template:gsub("{id}", id)
  local b = body and body:gsub("{id}", id) or nil
  local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  return wrk.format(method, path, headers, b)
end
