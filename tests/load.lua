-- wrk script for tests/test_load.py: a mix of cached and uncached routes.
-- Three requests in four hit the cache; the fourth asks for a moment never asked before.
local counter = 0

request = function()
  counter = counter + 1
  if counter % 4 == 0 then
    local day = 1 + (counter % 28)
    local second = counter % 86400
    local path = string.format(
      "/rpc/monthly_registrations?as_of=2025-02-%02dT%02d:%02d:%02dZ",
      day, math.floor(second / 3600), math.floor(second / 60) % 60, second % 60)
    return wrk.format("GET", path)
  end
  return wrk.format("GET", "/stats/registrations")
end
