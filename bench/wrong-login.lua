-- wrk script: a login flood with wrong passwords for ever new e-mails, so that every attempt
-- reaches the password check (the server under attack runs with its failure limits raised).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"email":"flood-%d-%d@example.com","password":"wrong password"}',
    math.random(1000000000), n)
  return wrk.format(nil, nil, nil, body)
end

-- Count the answers per kind (each wrk thread keeps its own counters).
local threads = {}
function setup(thread) table.insert(threads, thread) end
unauthorized, busy = 0, 0
function response(status)
  if status == 401 then unauthorized = unauthorized + 1 elseif status == 503 then busy = busy + 1 end
end
function done()
  local u, b = 0, 0
  for _, t in ipairs(threads) do u = u + t:get("unauthorized"); b = b + t:get("busy") end
  io.write(string.format("statuses: %d 401 %d 503\n", u, b))
end
