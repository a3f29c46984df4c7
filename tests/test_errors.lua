-- test_errors.lua -- errors that tell the user what to do: inside
-- pool:transaction a pool error keeps the position and the whole traceback
-- of the failing line (Ctrl-C too); "transaction aborted" names its
-- cause; an unstorable value deep in a table is named by its path; errors
-- name functions and arguments as the user wrote them, and the pool they
-- concern; a callable value runs as a transaction (docs/reference.md).
local lu = require "luaunit"
local helper = require "helper"
local pmem = require "pmem"

local THIS = "test_errors.lua:"

local function newpool()
  return helper.newpool()
end

-- err_of(f, ...) -> the error message of f(...), which must fail
local function err_of(f, ...)
  local ok, err = pcall(f, ...)
  lu.assertFalse(ok, "expected an error")
  return tostring(err)
end

-- line -- the line number of the caller's line
local function line()
  return debug.getinfo(2, "l").currentline
end

-- {============================================ positions in transactions

function test_pool_error_in_transaction_has_the_failing_lines_position()
  local pool = newpool()
  local l = pool:list({ 1, 2 })
  local at
  local inside = err_of(function()
    pool:transaction(function()
      at = line(); l:insert(5, "x")
    end)
  end)
  lu.assertStrContains(inside, THIS .. at .. ": bad argument #1 to 'insert' (position out of bounds)")
  local outside = err_of(function() at = line(); l:insert(5, "x") end)
  lu.assertStrContains(outside, THIS .. at .. ": bad argument #1 to 'insert'")
  -- an unstorable value, a closed pool's value, a bad self
  inside = err_of(function()
    pool:transaction(function()
      at = line(); l[1] = print
    end)
  end)
  lu.assertStrContains(inside, THIS .. at .. ": cannot store a function")
  inside = err_of(function()
    pool:transaction(function()
      at = line(); local n = l.append(5); return n
    end)
  end)
  lu.assertStrContains(inside, THIS .. at .. ": bad argument #1 to 'append'")
  -- the table library on a list (an atomic change of its own)
  inside = err_of(function()
    pool:transaction(function()
      at = line(); table.insert(l, 1, 2, 3)
    end)
  end)
  lu.assertStrContains(inside, THIS .. at .. ": wrong number of arguments to 'insert'")
  pool:close()
end

-- run_script(src) -> stdout, exit code, stderr of src run by pmlua with
-- a fresh pool's path as its argument
local function run_script(src)
  local path = helper.pool_path()
  local f = helper.tmpdir() .. "/script.lua"
  local h = assert(io.open(f, "w")); h:write(src); h:close()
  return helper.run_cmd(helper.q(helper.PMLUA) .. " " .. helper.q(f) .. " " .. helper.q(path))
end

function test_uncaught_error_in_transaction_shows_the_whole_traceback()
  local _, code, err = run_script([[
local pmem = require "pmem"
local pool = assert(pmem.open(..., "x"))
local function store_it(t)
  t.f = print
end
local function work()
  store_it(pool.root)
end
pool.root = pool:table()
pool:transaction(function()
  work()
end)
]])
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "script.lua:4: cannot store a function\nstack traceback:\n")
  lu.assertStrContains(err, "script.lua:4: in upvalue 'store_it'")
  lu.assertStrContains(err, "script.lua:7: in upvalue 'work'")
  lu.assertStrContains(err, "script.lua:11: in function <")
  lu.assertStrContains(err, "in method 'transaction'")
  lu.assertStrContains(err, "script.lua:10: in main chunk")
end

function test_interrupt_in_transaction_shows_the_interrupted_line()
  -- the script sends itself SIGINT (Ctrl-C) inside the transaction (through
  -- io.popen: os.execute's system() ignores SIGINT while it waits), then
  -- loops until interrupted, for 60 s at most
  local _, code, err = run_script([[
local pmem = require "pmem"
local pool = assert(pmem.open(..., "x"))
pool.root = pool:table()
pool:transaction(function()
  pool.root.x = 1
  local pid = io.open("/proc/self/stat"):read("n")
  io.popen("kill -INT " .. pid):close()
  local limit = os.time() + 60
  while os.time() < limit do end
  os.exit(3)
end)
]])
  lu.assertEquals(code, 1, err)
  lu.assertStrContains(err, "interrupted!\nstack traceback:\n")
  -- the traceback goes through the transaction's function
  lu.assertStrMatches(err, ".*script%.lua:%d: in function <[^\n]*script%.lua:4>\n.*")
  lu.assertStrContains(err, "in method 'transaction'")
  lu.assertStrContains(err, "script.lua:4: in main chunk")
end

-- }============================================

-- {============================================ causes of aborts

function test_transaction_aborted_names_the_error_that_aborted_it()
  local pool = newpool()
  pool.root = pool:table()
  local at
  local err = err_of(function()
    pool:transaction(function()
      pcall(function() at = line(); pool.root.f = print end)
      pool.root.after = 1
    end)
  end)
  lu.assertStrContains(err, "transaction aborted (by an earlier error: ")
  lu.assertStrContains(err, THIS .. at .. ": cannot store a function)")
  -- the final error, when the function goes on without writing
  err = err_of(function()
    pool:transaction(function()
      pcall(function() at = line(); pool.root.f = print end)
    end)
  end)
  lu.assertStrContains(err, "transaction aborted (by an earlier error: ")
  lu.assertStrContains(err, THIS .. at .. ": cannot store a function)")
  -- an error escaping a nested transaction, caught by the outer function
  err = err_of(function()
    pool:transaction(function()
      pcall(pool.transaction, pool, function() error({ "a table" }) end)
    end)
  end)
  lu.assertStrContains(err, "transaction aborted (by an earlier error: table: ")
  -- a new transaction starts without the old cause
  err = err_of(function()
    pool:transaction(function() pool.root.ok = 1; error("plain", 0) end)
  end)
  lu.assertEquals(err, "plain")
  lu.assertNil(pool.root.ok)
  lu.assertNil(pool.root.after)
  pool:close()
end

-- }============================================

-- {============================================ unstorable values

function test_unstorable_value_deep_in_a_table_is_named_by_its_path()
  local pool = newpool()
  pool.root = pool:table()
  local cases = {
    { { cache = { entries = { 1, 2, { callback = print } } } },
      "cannot store a function (at .cache.entries[3].callback)" },
    { { a = { ["b c"] = { [true] = { [2.5] = coroutine.create(print) } } } },
      "cannot store a thread (at .a[\"b c\"][true][2.5])" },
    { { a = { [print] = 1 } }, "cannot use a function as a key of a persistent value (at .a)" },
    { { { setmetatable({}, {}) } }, "cannot store a table with a metatable (at [1][1])" },
    { print, "cannot store a function" },
  }
  for _, case in ipairs(cases) do
    local err = err_of(function() pool.root.x = case[1] end)
    lu.assertStrContains(err, case[2])
  end
  lu.assertStrContains(err_of(pool.list, pool, { 1, { f = print } }),
                       "cannot store a function (at [2].f)")
  lu.assertStrContains(err_of(pool.list, pool, { 1, 2, print }), "cannot store a function (at [3])")
  -- deep: the end of the path
  local deep = {}
  local t = deep
  for _ = 1, 40 do t.n = {}; t = t.n end
  t.f = print
  lu.assertStrContains(err_of(function() pool.root.x = deep end),
                       "cannot store a function (at ... .n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.f)")
  lu.assertNil(pool.root.x)
  pool:close()
end

-- }============================================

-- {============================================ names as the user wrote them

function test_errors_name_functions_and_arguments_as_written()
  local pool, path = newpool()
  local at
  local function check(err, want)
    lu.assertStrContains(err, THIS .. at .. ": " .. want)
    for _, internal in ipairs { "pmem.lua", "'_new'", "'poolof'", "'open'" } do
      lu.assertNotStrContains(err, internal)
    end
  end
  check(err_of(function() at = line(); local p = pmem.create(path .. "2", "c"); return p end),
        "bad argument #2 to 'create' (number expected, got string)")
  check(err_of(function() at = line(); local t = pool:table(5); return t end),
        "bad argument #1 to 'table' (table expected, got number)")
  check(err_of(function() at = line(); local s = pool:set({ 1, nil, 3 }); return s end),
        "bad argument #1 to 'set' (the sequence has a hole at 2: a set holds no nil)")
  check(err_of(function() at = line(); local l = pool:list({ 1, nil, 3 }); return l end),
        "bad argument #1 to 'list' (the sequence has a hole at 2: a list holds no nil)")
  check(err_of(function() at = line(); local l = pool:new(pmem.List, 5); return l end),
        "bad argument #2 to 'new' (table expected, got number)")
  check(err_of(function() at = line(); local l = pool:new(pmem.Tuple, { 1, nil, 2 }); return l end),
        "bad argument #2 to 'new' (the sequence has a hole at 2: a tuple holds no nil)")
  local s = pool:set({ 1, 2 })
  check(err_of(function() at = line(); local u = { 9 } | s; return u end),
        "bad left operand to '|' (pmem set expected, got table)")
  check(err_of(function() at = line(); local u = s - 5; return u end),
        "bad right operand to '-' (pmem set or sequence expected, got number)")
  check(err_of(function() at = line(); local u = s:union(5); return u end),
        "bad argument #1 to 'union' (sequence, list, set or iterator expected, got number)")
  check(err_of(function() at = line(); local u = s:issubset(true); return u end),
        "bad argument #1 to 'issubset'")
  check(err_of(function() at = line(); pool:list():extend(5) end),
        "bad argument #1 to 'extend' (sequence, list, set or iterator expected, got number)")
  pool:close()
end

function test_set_errors_say_how_to_use_a_set()
  local pool = newpool()
  local s = pool:set({ "a" })
  local err = err_of(function() s.x = true end)
  lu.assertStrContains(err, "s:add(x) adds x")
  lu.assertStrContains(err_of(function() s["y"] = true end), "s:discard(x) removes it")
  lu.assertFalse(s:contains("x"))
  err = err_of(function() s:remove("zz") end)
  lu.assertStrContains(err, 'element "zz" not in set')
  lu.assertStrContains(err_of(function() s:remove(42) end), "element 42 not in set")
  pool:close()
end

function test_closed_pool_errors_name_the_pool()
  local pool, path = newpool()
  pool.root = pool:table({ k = 1 })
  local t = pool.root
  pool:close()
  lu.assertStrContains(err_of(function() return t.k end), path .. ": pool is closed")
  lu.assertStrContains(err_of(function() t.k = 2 end), path .. ": pool is closed")
  lu.assertStrContains(err_of(function() return pool.root end), path .. ": pool is closed")
  lu.assertStrContains(err_of(pool.transaction, pool, function() end), path .. ": pool is closed")
  -- a value of the closed pool stored into its reopened successor
  local again = assert(pmem.open(path))
  local err = err_of(function() again.root.old = t end)
  lu.assertStrContains(err, "cannot store a persistent table of a closed pool (" .. path
                       .. " was closed")
  lu.assertEquals(again.root.k, 1)
  -- a value of another open pool
  local other = newpool()
  err = err_of(function() again.root.x = other:table() end)
  lu.assertStrContains(err, "of another pool (pool:copy(v) copies it into this one)")
  other:close()
  again:close()
end

function test_opening_a_pool_twice_in_one_process_says_so()
  local pool, path = newpool()
  local p2, err, errno = pmem.open(path)
  lu.assertNil(p2)
  lu.assertEquals(err, path .. ": pool is already open in this process (close it first, "
                  .. "or use the pool value you have)")
  lu.assertEquals(errno, 11)
  p2, err = pmem.open(path, "r")
  lu.assertNil(p2)
  lu.assertStrContains(err, "already open in this process")
  pool:close()
  -- read-only opens share the file, in one process too
  local r1 = assert(pmem.open(path, "r"))
  local r2 = assert(pmem.open(path, "r"))
  p2, err = pmem.open(path)
  lu.assertNil(p2)
  lu.assertStrContains(err, "already open in this process")
  r1:close()
  r2:close()
  -- closed: opens again
  assert(pmem.open(path)):close()
  -- another process holding it is named as such
  local out = helper.child_ok([[
    local pmem = require "pmem"
    local p, err = pmem.open(...)
    print(p == nil, err)
  ]], path)
  lu.assertEquals(out, "false\tnil\n")
end

function test_open_in_another_process_says_another_process()
  local pool, path = newpool()
  local out = helper.child_ok([[
    local pmem = require "pmem"
    local p, err = pmem.open(...)
    print(p == nil, err)
  ]], path)
  lu.assertEquals(out, "true\t" .. path .. ": pool is in use (open in another process)\n")
  pool:close()
end

-- }============================================

-- {============================================ callable transactions

function test_transaction_accepts_callable_values()
  local pool = newpool()
  pool.root = pool:table()
  local callable = setmetatable({}, { __call = function(self, a, b)
    pool.root.sum = a + b
    return "done", self
  end })
  local r1, r2 = pool:transaction(callable, 2, 3)
  lu.assertEquals(r1, "done")
  lu.assertTrue(rawequal(r2, callable))
  lu.assertEquals(pool.root.sum, 5)
  -- a userdata with __call: an object of a class that defines it
  local C = pmem.class("CallableTx")
  function C:__call(v) pool.root.called = v end
  local o = pool:new(C)
  pool:transaction(o, "yes")
  lu.assertEquals(pool.root.called, "yes")
  -- not callable
  lu.assertStrContains(err_of(function() pool:transaction({}) end),
                       "bad argument #1 to 'transaction' (function or callable value expected, got table)")
  pool:close()
end

-- }============================================

os.exit(lu.LuaUnit.run())
