-- test_room.lua -- a full pool recovers within the run: the collector works
-- on a full pool, room freed by deletions (of any size) is usable again at
-- once, and freeing (l:clear(), collections) never needs room of its own.
local lu = require "luaunit"
local h = require "helper"
local pmem = require "pmem"

local DEFAULT = 64 << 20
local KB = ("k"):rep(1000)

-- a cache entry of about 60 KB: a table of 60 strings of 1,000 bytes
local function entry(i)
  local t = {}
  for j = 1, 60 do t[j] = KB .. i .. ":" .. j end
  return t
end

-- the issue's cache: 50 entries of 60 KB overwritten in place. Old entries
-- are garbage until a collection; the pool fills up, and then the failed
-- write's rollback must free the garbage so that its retry succeeds
function test_overwritten_cache_recovers()
  local pool = h.newpool(DEFAULT, h.fast_pool_path())
  pool.root = {}
  local root = pool.root
  local full, stuck = 0, 0
  for i = 1, 2500 do
    local k = "k" .. i % 50
    if not pcall(function() root[k] = entry(i) end) then
      full = full + 1
      if not pcall(function() root[k] = entry(i) end) then stuck = stuck + 1 end
    end
  end
  lu.assertTrue(full > 0, "the pool never filled up: the test tests nothing")
  lu.assertEquals(stuck, 0, "a retry after 'pool is full' failed too")
  lu.assertIsTable(pool:gc())
  for i = 0, 49 do root["k" .. i] = nil end
  lu.assertEquals(pool:gc().collected, 50)
  pool.root = nil
  pool.root = {}
  for i = 1, 800 do pool.root["k" .. i % 50] = entry(i) end
  pool:close()
end

-- garbage that only Lua values kept alive fills the pool; once they are
-- gone, pool:gc() must free it on the full pool
function test_gc_on_a_full_pool()
  local pool = h.newpool(DEFAULT, h.fast_pool_path())
  pool.root = {}
  local held, n = {}, 0
  while true do
    local ok, err = pcall(function() held[n + 1] = pool:table(entry(n)) end)
    if not ok then lu.assertStrContains(tostring(err), "full") break end
    n = n + 1
  end
  lu.assertTrue(n > 100)
  held = nil
  collectgarbage()
  collectgarbage()
  local ok, r = pcall(pool.gc, pool)
  lu.assertTrue(ok, "pool:gc() on a full pool: " .. tostring(r))
  lu.assertEquals(r.collected, n)
  -- as much fits again
  held = {}
  for i = 1, n do held[i] = pool:table(entry(i)) end
  pool:close()
end

-- fill a list of 1,000-byte strings until the pool is full: n items
local function fill(pool, l)
  local n = 0
  while pcall(l.append, l, KB .. n) do n = n + 1 end
  return n
end

-- l:clear() in a full pool: small pools (the lanes' logs only) and large
-- ones (the log reserve), outside and inside a transaction
local function clear_full(size, path, intx)
  local pool = h.newpool(size, path)
  pool.root = { l = pool:list() }
  local l = pool.root.l
  local n = fill(pool, l)
  lu.assertTrue(n > 100)
  local ok, err
  if intx then ok, err = pcall(pool.transaction, pool, function() l:clear() end)
  else ok, err = pcall(l.clear, l) end
  lu.assertTrue(ok, "l:clear() in a full pool: " .. tostring(err))
  lu.assertEquals(#l, 0)
  pool:gc()
  for i = 1, n do l:append(KB .. i) end
  pool:close()
end

function test_clear_in_a_full_small_pool()
  clear_full(pmem.MIN_POOL_SIZE, h.fast_pool_path())
end

function test_clear_in_a_full_default_pool()
  clear_full(DEFAULT, h.fast_pool_path())
end

function test_clear_in_a_full_pool_inside_a_transaction()
  clear_full(pmem.MIN_POOL_SIZE, h.fast_pool_path(), true)
end

-- room freed by 60 KB strings serves 1,000-byte strings in the same run
function test_room_freed_serves_other_sizes()
  local pool = h.newpool(DEFAULT, h.fast_pool_path())
  pool.root = {}
  local root, n = pool.root, 0
  local big = ("b"):rep(60000)
  while pcall(function() root[n + 1] = big .. n end) do n = n + 1 end
  for i = 1, n do root[i] = nil end
  local want, stuck = n * 60000 * 8 // 10 // 1000, 0
  for i = 1, want do
    local v = KB .. i
    if not pcall(function() root[i] = v end) and
       not pcall(function() root[i] = v end) then stuck = stuck + 1 end
  end
  lu.assertEquals(stuck, 0, ("%d of %d writes found no room"):format(stuck, want))
  pool:close()
end

-- a dead container larger than a batch's logs is freed in several batches;
-- the counts it held are exact afterwards
function test_large_dead_container_counts()
  local pool = h.newpool(DEFAULT, h.fast_pool_path())
  pool.root = { child = {} }
  local child = pool.root.child
  local t = pool:table()
  pool:transaction(function()
    for i = 1, 20000 do t[i] = child; t["s" .. i] = KB .. i end
  end)
  t, child = nil, nil
  collectgarbage()
  collectgarbage()
  lu.assertEquals(pool:gc().collected, 1)         -- the table; the child lives
  lu.assertEquals(pool.root.child.x, nil)
  pool.root.child = nil
  lu.assertEquals(pool:gc().collected, 1)         -- now the child
  pool:close()
end

os.exit(lu.LuaUnit.run())
