-- pmem.lua -- the parts of the pmem module written in Lua, compiled into
-- the binary: classes and pool:new, the container constructors, list
-- extend, set algebra, pmem.tolua, tostring previews.
-- Run once by luaopen_pmem with the module table and the pool methods;
-- returns the class resolver the C layer uses when it meets an object.
local M, P = ...

local meta, methods = M._meta, M._methods
local pmtype, alive, poolof = M.type, M._alive, M._poolof

-- {============================================ pools

function M.create(path, size, mode)
  return M.open(path, "x", size, mode)
end

function P.table(pool, t) return pool:_new("table", t) end
function P.list(pool, t) return pool:_new("list", t) end
function P.tuple(pool, t) return pool:_new("tuple", t) end
function P.set(pool, t) return pool:_new("set", t) end

-- }============================================

-- {============================================ classes

local classes = {}                          -- name -> class
local classname = setmetatable({}, { __mode = "k" })   -- class -> name

-- markers for pool:new(pmem.Table [, t]) and friends
M.Table, M.List, M.Tuple, M.Set = {}, {}, {}, {}
local builtin = { [M.Table] = "table", [M.List] = "list",
                  [M.Tuple] = "tuple", [M.Set] = "set" }

function M.class(name, parent)
  if type(name) ~= "string" or name == "" then
    error("bad argument #1 to 'class' (class name expected)", 2)
  end
  if classes[name] then error(("class '%s' is already defined"):format(name), 2) end
  if parent ~= nil and not classname[parent] then
    error("bad argument #2 to 'class' (pmem class expected)", 2)
  end
  local cls = setmetatable({}, {
    __index = parent,
    __tostring = function() return "pmem.class: " .. name end,
  })
  classes[name], classname[cls] = cls, name
  return cls
end

-- classof -- the class named name, requiring its module (the name up to
-- its last dot) if it is not registered yet
local function classof(name)
  local cls = classes[name]
  if cls then return cls end
  local mod = name:match("^(.+)%.[^.]+$")
  local why = "no module to load it from"
  if mod then
    local ok, err = pcall(require, mod)
    cls = classes[name]
    if cls then return cls end
    why = ok and ("module '" .. mod .. "' does not define it") or tostring(err)
  end
  error(("unknown class '%s' (%s)"):format(name, why), 0)
end

function P.new(pool, cls, ...)
  local kind = builtin[cls]
  if kind then return pool:_new(kind, ...) end
  local name = classname[cls]
  if not name then error("bad argument #1 to 'new' (pmem class expected)", 2) end
  local n, args = select("#", ...), { ... }
  return pool:transaction(function()
    local obj = pool:_newobject(name)
    local init = cls.init
    if init then init(obj, table.unpack(args, 1, n)) end
    return obj
  end)
end

-- }============================================

-- {============================================ lists

-- each -- call f(v) for the values of a sequence, list, tuple, set, or
-- iterator function
local function each(src, f)
  local kind = pmtype(src)
  if kind == "set" then
    for v in pairs(src) do f(v) end
  elseif kind == "list" or kind == "tuple" or type(src) == "table" then
    for i = 1, #src do f(src[i]) end
  elseif type(src) == "function" then
    for v in src do f(v) end
  else
    error("bad argument to 'extend' (sequence, list, set or iterator expected, got "
          .. type(src) .. ")", 3)
  end
end

function methods.list.extend(l, src)
  poolof(l):transaction(each, src, function(v) l:append(v) end)
end

-- atomic -- the table library's function f, made one atomic change when
-- it works on a persistent list (a failing call changes nothing): the
-- library shifts items one assignment at a time, and an error half-way
-- (say, table.insert(l, 1, nil)) would leave the list half-shifted
local function atomic(f, dst)
  return function(t, ...)
    local l = t
    if dst then l = select(dst - 1, ...) or t end
    if type(l) == "userdata" and pmtype(l) == "list" then
      return poolof(l):transaction(f, t, ...)
    end
    return f(t, ...)
  end
end

table.insert, table.remove = atomic(table.insert), atomic(table.remove)
table.sort, table.move = atomic(table.sort), atomic(table.move, 5)

-- }============================================

-- {============================================ sets

local S = methods.set

-- members -- a membership test for a set or a plain sequence
local function members(b)
  if pmtype(b) == "set" then return function(x) return b:contains(x) end end
  local t = {}
  each(b, function(v) t[v] = true end)
  return function(x) return t[x] ~= nil end
end

local function build(a, fill)
  local pool = poolof(a)
  return pool:transaction(function()
    local r = pool:set()
    fill(r)
    return r
  end)
end

function S.union(a, b)
  return build(a, function(r)
    for x in pairs(a) do r:add(x) end
    each(b, function(x) r:add(x) end)
  end)
end

function S.intersection(a, b)
  local inb = members(b)
  return build(a, function(r) for x in pairs(a) do if inb(x) then r:add(x) end end end)
end

function S.difference(a, b)
  local inb = members(b)
  return build(a, function(r) for x in pairs(a) do if not inb(x) then r:add(x) end end end)
end

function S.symmetric_difference(a, b)
  local inb = members(b)
  return build(a, function(r)
    for x in pairs(a) do if not inb(x) then r:add(x) end end
    each(b, function(x) if not a:contains(x) then r:add(x) end end)
  end)
end

function S.issubset(a, b)
  local inb = members(b)
  for x in pairs(a) do if not inb(x) then return false end end
  return true
end

function S.issuperset(a, b)
  local ok = true
  each(b, function(x) if not a:contains(x) then ok = false end end)
  return ok
end

function S.isdisjoint(a, b)
  local inb = members(b)
  for x in pairs(a) do if inb(x) then return false end end
  return true
end

local count = function(s) return #s end
local sm = meta.set
sm.__bor, sm.__band, sm.__sub, sm.__bxor = S.union, S.intersection, S.difference,
  S.symmetric_difference
sm.__le = S.issubset
sm.__lt = function(a, b) return count(a) < count(b) and S.issubset(a, b) end
sm.__eq = function(a, b)
  return pmtype(a) == "set" and pmtype(b) == "set" and count(a) == count(b)
     and S.issubset(a, b)
end

-- }============================================

-- {============================================ conversion and display

function M.tolua(v, memo)
  local kind = pmtype(v)
  if not kind then return v end
  memo = memo or {}
  if memo[v] then return memo[v] end
  local t = {}
  memo[v] = t
  for k, x in pairs(v) do t[M.tolua(k, memo)] = M.tolua(x, memo) end
  return t
end

local function short(v)
  local kind = pmtype(v)
  if kind then return "pmem." .. kind end
  if type(v) == "string" then
    return #v > 20 and ("%q"):format(v:sub(1, 17) .. "..."):gsub("\\\n", "\\n")
      or ("%q"):format(v):gsub("\\\n", "\\n")
  end
  return tostring(v)
end

local PREVIEW = 5

-- preview -- "pmem.table: {a=1, b="x", ...}", or the state if unusable
local function preview(v)
  local kind = pmtype(v)
  local head = "pmem." .. kind
  if kind == "object" then head = head .. " " .. tostring(classname[M._class(v)]) end
  if not alive(v) then
    return head .. " (unusable: pool closed or rolled back)"
  end
  local parts, n = {}, 0
  local seq = kind == "list" or kind == "tuple" or kind == "set"
  for k, x in pairs(v) do
    n = n + 1
    if n > PREVIEW then parts[#parts + 1] = "..."; break end
    if kind == "set" then parts[#parts + 1] = short(k)
    elseif seq then parts[#parts + 1] = short(x)
    else parts[#parts + 1] = (type(k) == "string" and k:match("^[%a_][%w_]*$")
                              and k or "[" .. short(k) .. "]") .. "=" .. short(x) end
  end
  return ("%s: {%s}"):format(head, table.concat(parts, ", "))
end

for kind, mt in pairs(meta) do
  mt.__tostring = preview
  if kind == "object" then
    mt.__tostring = function(o)
      local f = alive(o) and M._class(o).__tostring
      if f then return f(o) end
      return preview(o)
    end
  end
end

-- }============================================

return classof
