-- pmem.lua -- the parts of the pmem module written in Lua, compiled into
-- the binary: classes and pool:new, the container constructors, list
-- extend, set algebra, pmem.tolua, tostring previews.
-- Run once by luaopen_pmem with the module table and the pool methods;
-- returns the class resolver the C layer uses when it meets an object.
local M, P = ...

local meta, methods = M._meta, M._methods
local pmtype, alive, poolof = M.type, M._alive, M._poolof

-- {============================================ classes

local classes = {}                          -- name -> class
local classname = setmetatable({}, { __mode = "k" })   -- class -> name
local unloaded = setmetatable({}, { __mode = "k" })    -- stand-in -> name, why

-- markers for pool:new(pmem.Table [, t]) and friends
M.Table, M.List, M.Tuple, M.Set = {}, {}, {}, {}
local builtin = { [M.Table] = "table", [M.List] = "list",
                  [M.Tuple] = "tuple", [M.Set] = "set" }

--[[
Metamethods of classes. The objects of a class share a metatable of their
own (objmeta[class]): pmem's functions for objects (reads, writes, #,
pairs, tostring) plus, for each operator metamethod the class or a parent
defines, a dispatcher that looks the class's function up when it runs (so
redefining or removing one takes effect at once). A class is told that a
metamethod was first defined by its metatable's __newindex (a new key);
the objects' metatables of it and of its descendants then get the
dispatcher. __index, __newindex, __len, __pairs and __tostring are looked
up by pmem's own functions for objects; __gc and __mode cannot be honoured
for stored objects, __metatable and __name are pmem's, so defining one of
these raises at once.
]]
local OPS = {}
for _, e in ipairs { "add", "sub", "mul", "div", "mod", "pow", "unm", "idiv",
                     "band", "bor", "bxor", "shl", "shr", "bnot", "concat",
                     "eq", "lt", "le", "call", "close" } do
  OPS["__" .. e] = true
end
local REFUSED = {
  __gc = "a stored object outlives its proxies: there is no moment to finalize it",
  __mode = "a stored object holds its values strongly",
  __metatable = "getmetatable of an object is always \"pmem.object\"",
  __name = "objects are named by their class name",
}
local WHAT = { __concat = "concatenate", __call = "call", __close = "close",
               __eq = "compare", __lt = "compare", __le = "compare" }

local objmeta = setmetatable({}, { __mode = "k" })  -- class -> its objects' metatable
local base = meta.object
local classof_obj = M._class

-- mm -- the metamethod name of v's class, if v is an object
local function mm(v, name)
  if pmtype(v) == "object" then return classof_obj(v)[name] end
end

local dispatch = {}
for name in pairs(OPS) do
  local what = WHAT[name] or (name:match("^__b") or name == "__shl" or name == "__shr")
    and "perform bitwise operation on" or "perform arithmetic on"
  dispatch[name] = function(a, b, ...)
    local f = mm(a, name) or mm(b, name)
    if f == nil then
      error(("attempt to %s a pmem.object value (its class no longer defines %s)")
            :format(what, name), 2)
    end
    return f(a, b, ...)
  end
end

-- descends -- is cls the class c or one of its descendants?
local function descends(cls, c)
  while type(cls) == "table" do
    if cls == c then return true end
    local mt = getmetatable(cls)
    cls = mt and mt.__index
  end
  return false
end

local function metaof(cls)
  local mt = objmeta[cls]
  if mt then return mt end
  mt = {}
  for k, v in pairs(base) do mt[k] = v end
  for name in pairs(OPS) do
    if cls[name] ~= nil then mt[name] = dispatch[name] end
  end
  objmeta[cls] = mt
  return mt
end

-- defining -- the class metatable's __newindex: refuse what cannot be
-- honoured; a first operator metamethod reaches the objects' metatables
local function defining(c, k, v)
  local why = REFUSED[k]
  if why then
    error(("class '%s' cannot define %s (%s)"):format(classname[c], k, why), 2)
  end
  rawset(c, k, v)
  if OPS[k] and v ~= nil then
    for cls, mt in pairs(objmeta) do
      if descends(cls, c) then mt[k] = dispatch[k] end
    end
  end
end

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
    __newindex = defining,
    __tostring = function() return "pmem.class: " .. name end,
  })
  classes[name], classname[cls] = cls, name
  return cls
end

-- standin -- the class of objects whose class cannot be found: reading,
-- pairs, tostring and pmem.tolua work; a method (any field not named
-- __...) is a function that raises, naming the class and why. Once the
-- class is defined, its fields are found.
local function standin(name, why)
  local s = setmetatable({}, { __index = function(_, k)
    local cls = classes[name]
    if cls then return cls[k] end
    if type(k) == "string" and k:sub(1, 2) == "__" then return nil end
    return function()
      error(("cannot call method '%s': class '%s' is not loaded (%s)")
            :format(tostring(k), name, why), 2)
    end
  end })
  unloaded[s] = name
  return s
end

local missing = {}                          -- name -> stand-in

-- classof -- the class named name and its objects' metatable, requiring
-- its module (the name up to its last dot) if it is not registered yet;
-- a stand-in if that does not define it
local function classof(name)
  local cls = classes[name] or missing[name]
  if cls then return cls, metaof(cls) end
  local mod = name:match("^(.+)%.[^.]+$")
  local why = "no module to load it from"
  if mod then
    local ok, err = pcall(require, mod)
    cls = classes[name]
    if cls then return cls, metaof(cls) end
    why = ok and ("module '" .. mod .. "' does not define it")
          or (tostring(err):match("^[^\n]*"):gsub(":$", ""))
  end
  cls = standin(name, why)
  missing[name] = cls
  return cls, metaof(cls)
end

-- checkseq -- t is nil or a plain table, without holes unless kind is
-- "table"; else raise as argument #2 to 'new'
local function checkseq(kind, t)
  if t == nil then return end
  if type(t) ~= "table" then
    error(("bad argument #2 to 'new' (table expected, got %s)"):format(type(t)), 3)
  end
  if kind == "table" then return end
  for i = 1, rawlen(t) do
    if rawget(t, i) == nil then
      error(("bad argument #2 to 'new' (the sequence has a hole at %d: a %s holds no nil)")
            :format(i, kind), 3)
    end
  end
end

function P.new(pool, cls, t, ...)
  local kind = builtin[cls]
  if kind then
    checkseq(kind, t)
    return pool[kind](pool, t)
  end
  local name = classname[cls]
  if not name then error("bad argument #1 to 'new' (pmem class expected)", 2) end
  local n, args = select("#", ...) + 1, { t, ... }
  return pool:transaction(function()
    local obj = pool:_newobject(name)
    local init = cls.init
    if init then init(obj, table.unpack(args, 1, n)) end
    return obj
  end)
end

-- }============================================

-- {============================================ lists

-- sequential -- may src be iterated by each?
local function sequential(src)
  local kind = pmtype(src)
  return kind == "set" or kind == "list" or kind == "tuple"
    or type(src) == "table" or type(src) == "function"
end

-- what -- v's type as error messages name it
local function what(v)
  local kind = pmtype(v)
  return kind and "pmem." .. kind or type(v)
end

-- checksrc -- raise, for the caller of the caller, unless src is a
-- sequence, list, tuple, set or iterator; bad names the argument
local function checksrc(src, bad)
  if not sequential(src) then
    error(("%s (sequence, list, set or iterator expected, got %s)"):format(bad, what(src)), 3)
  end
end

-- each -- call f(v) for the values of a sequence, list, tuple, set, or
-- iterator function (checked by checksrc)
local function each(src, f)
  if pmtype(src) == "set" then
    for v in pairs(src) do f(v) end
  elseif type(src) == "function" then
    for v in src do f(v) end
  else
    for i = 1, #src do f(src[i]) end
  end
end

function methods.list.extend(l, src)
  checksrc(src, "bad argument #1 to 'extend'")
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

local algebra = {}      -- name -> function(a, b): a set, b checked

function algebra.union(a, b, r)
  for x in pairs(a) do r:add(x) end
  each(b, function(x) r:add(x) end)
end

function algebra.intersection(a, b, r)
  local inb = members(b)
  for x in pairs(a) do if inb(x) then r:add(x) end end
end

function algebra.difference(a, b, r)
  local inb = members(b)
  for x in pairs(a) do if not inb(x) then r:add(x) end end
end

function algebra.symmetric_difference(a, b, r)
  local inb = members(b)
  for x in pairs(a) do if not inb(x) then r:add(x) end end
  each(b, function(x) if not a:contains(x) then r:add(x) end end)
end

function algebra.issubset(a, b)
  local inb = members(b)
  for x in pairs(a) do if not inb(x) then return false end end
  return true
end

function algebra.issuperset(a, b)
  local ok = true
  each(b, function(x) if not a:contains(x) then ok = false end end)
  return ok
end

function algebra.isdisjoint(a, b)
  local inb = members(b)
  for x in pairs(a) do if inb(x) then return false end end
  return true
end

-- build -- a new set of a's pool, filled by fill(a, b, r) in one transaction
local function build(fill, a, b)
  local pool = poolof(a)
  return pool:transaction(function()
    local r = pool:set()
    fill(a, b, r)
    return r
  end)
end

local BUILDS = { union = true, intersection = true, difference = true,
                 symmetric_difference = true }

-- the methods: s:union(b) ... with b a set, list, tuple, sequence or iterator
for name, f in pairs(algebra) do
  S[name] = function(a, b)
    if pmtype(a) ~= "set" then
      error(("calling '%s' on bad self (pmem set expected, got %s)"):format(name, what(a)), 2)
    end
    checksrc(b, "bad argument #1 to '" .. name .. "'")
    if BUILDS[name] then return build(f, a, b) end
    return f(a, b)
  end
end

-- the operators: the left operand must be a set, the right one a set or
-- a plain sequence
local function operator(op, f, builds)
  return function(a, b)
    if pmtype(a) ~= "set" then
      error(("bad left operand to '%s' (pmem set expected, got %s)"):format(op, what(a)), 2)
    end
    if pmtype(b) ~= "set" and type(b) ~= "table" then
      error(("bad right operand to '%s' (pmem set or sequence expected, got %s)")
            :format(op, what(b)), 2)
    end
    if builds then return build(f, a, b) end
    return f(a, b)
  end
end

local count = function(s) return #s end
local sm = meta.set
sm.__bor = operator("|", algebra.union, true)
sm.__band = operator("&", algebra.intersection, true)
sm.__sub = operator("-", algebra.difference, true)
sm.__bxor = operator("~", algebra.symmetric_difference, true)
sm.__le = operator("<=", algebra.issubset)
sm.__lt = operator("<", function(a, b) return count(a) < count(b) and algebra.issubset(a, b) end)
sm.__eq = function(a, b)
  return pmtype(a) == "set" and pmtype(b) == "set" and count(a) == count(b)
     and algebra.issubset(a, b)
end

-- }============================================

-- {============================================ copies between pools

--[[
pool:copy(v) -- a deep copy of v in pool, in one transaction: persistent
containers of any pool (or plain tables, which become tables) keep their
types, objects their class name and attributes, and sharing and cycles are
kept. Mutable containers are made empty first and filled from a queue, so
the recursion only follows tuples into tuples (which cannot form a cycle:
a tuple's items exist before it).
]]
function P.copy(pool, v)
  if not pmtype(v) and type(v) ~= "table" then return v end
  return pool:transaction(function()
    local memo, queue = {}, {}
    local function dup(x)
      local kind = pmtype(x)
      if not kind and type(x) ~= "table" then return x end
      local y = memo[x]
      if y ~= nil then return y end
      if kind == "tuple" then
        local items = {}
        for i = 1, #x do items[i] = dup(x[i]) end
        y = pool:tuple(items)
      elseif kind == "object" then
        y = pool:_newobject(M.classname(x))
      else
        y = pool[kind or "table"](pool)
      end
      memo[x] = y
      if kind ~= "tuple" then queue[#queue + 1] = x end
      return y
    end
    local top = dup(v)
    local i = 1
    while queue[i] ~= nil do
      local x = queue[i]
      local y, kind = memo[x], pmtype(x)
      local iter = kind and M.next or next
      if kind == "list" then
        for _, item in iter, x do y:append(dup(item)) end
      elseif kind == "set" then
        for e in iter, x do y:add(dup(e)) end
      else
        for k, item in iter, x do rawset(y, dup(k), dup(item)) end
      end
      i = i + 1
    end
    return top
  end)
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
  if kind == "object" then
    local cls = M._class(v)
    head = head .. " " .. (classname[cls] or unloaded[cls] .. " (class not loaded)")
  end
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

for _, mt in pairs(meta) do mt.__tostring = preview end

-- objects: #, pairs and tostring as their class defines them, if it does
local om = meta.object
local olen, opairs = om.__len, om.__pairs
om.__len = function(o)
  local f = classof_obj(o).__len
  if f then return f(o) end
  return olen(o)
end
om.__pairs = function(o)
  local f = classof_obj(o).__pairs
  if f then return f(o) end
  return opairs(o)
end
om.__tostring = function(o)
  local f = alive(o) and classof_obj(o).__tostring
  if f then return f(o) end
  return preview(o)
end

-- }============================================

return classof
