-- dump.lua -- a canonical text of any value, shared by the suites and their
-- child processes (which find it through LUA_PATH): numbers keep their
-- subtype (and the sign of zero), strings their bytes, persistent tables
-- their pairs order; plain tables are sorted; shared values and cycles
-- show as @n. Two values dump alike iff a test should call them equal.
local pmem = pmem or require "pmem"

local function dump(v, seen)
  seen = seen or { n = 0 }
  local tv, kind = type(v), pmem.type(v)
  if tv == "number" then
    if math.type(v) == "integer" then return ("i%d"):format(v) end
    if v ~= v then return "fnan" end
    return "f" .. ("%a"):format(v)
  elseif tv == "string" then
    return (("%q"):format(v):gsub("\\\n", "\\n"))
  elseif tv ~= "table" and not kind then
    return tostring(v)
  end
  if seen[v] then return "@" .. seen[v] end
  seen.n = seen.n + 1
  seen[v] = seen.n
  local parts = {}
  if kind == "list" or kind == "tuple" then
    for i = 1, #v do parts[i] = dump(v[i], seen) end
  else
    for k, x in pairs(v) do parts[#parts + 1] = dump(k, seen) .. "=" .. dump(x, seen) end
    if not kind then table.sort(parts) end
  end
  return (kind or "plain") .. "{" .. table.concat(parts, ",") .. "}"
end

return dump
