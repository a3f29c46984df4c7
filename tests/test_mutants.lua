-- test_mutants.lua -- "never a crash, whatever the file holds": thousands of
-- random mutants of real pools, each opened, walked, written, collected,
-- closed and reopened by a real pmlua process under a time limit. An error
-- (nil + message from pmem.open, a raised "damaged pool") is a correct
-- answer; a signal, a sanitizer report or a hang is a failure.
--
-- This file owns the mutant run and plays three parts:
--   pmlua tests/test_mutants.lua -o text        the LuaUnit suite (parent)
--   pmlua tests/test_mutants.lua seed PATH MODE  build one seed pool
--   pmlua tests/test_mutants.lua worker DIR MASTER FIRST LAST BATCH WORK
--                                                run mutants FIRST..LAST
--
-- The parent builds three small seed pools in DIR: "clean" (closed),
-- "unclean" (kill -9 while open: the next open runs a full mark-sweep) and
-- "intx" (kill -9 inside a large transaction: the next open replays undo
-- logs). Mutant i is described by a PRNG seeded with (MASTER, i): a seed,
-- a kind (bit flips in the pool header, the descriptor, the lanes, the heap
-- headers, pmlua's data; a word set to a plausible wrong offset or an odd
-- value; a field of one of pmlua's containers, strings, table bodies or list
-- items made wrong; a zeroed page or allocation header; truncation; junk appended) and
-- positions. A worker makes the mutant file itself, prints "BEGIN i what",
-- exercises it, prints "END i o" (opened) or "END i r" (refused), and stops
-- starting mutants after BATCH seconds. Workers run in parallel, each under
-- `timeout -s KILL`; one that dies names the mutant it was in (the last
-- BEGIN without END), and the next worker of its slice resumes after it.
--
-- Workers run with PMLUA_OPEN_TIMEOUT=1: an open whose trial child loops in
-- libpmemobj's recovery (a damaged lane) gives up after 1 s with "damaged
-- pool", a correct answer, well inside the hang budget.
-- A hang is a mutant still running HANG seconds after the worker stopped
-- starting new ones: timeout kills a worker after BATCH + HANG seconds, so
-- a hang costs at most 6 s (10 under the sanitizer). A worker killed by
-- SIGKILL from elsewhere (the OOM killer) would be counted as a hang too.
--
-- Cost: nearly all of it is pmem.open (a forked trial open, then the real
-- one; each a full libpmemobj open), 1 to 3 opens per mutant.
--
-- Environment: PMLUA_MUTANTS (count; default 200, 100 under the
-- sanitizer; make torture: 10000), PMLUA_MUTANT_SEED (master seed, printed; replays a run),
-- PMLUA_MUTANT_ONLY=i (run mutant i alone), PMLUA_MUTANT_JOBS (parallel
-- workers; default: the CPUs), PMLUA_MUTANT_KEEP=DIR (copy the seeds and
-- print, per failure, the worker command that replays it under gdb).
local pmem = require "pmem"

local LANE_LOGS = { { 0, "internal redo" }, { 256, "external redo" }, { 960, "undo" } }
local SEEDS = { "clean", "unclean", "intx" }
local CLASS = "MutPoint"        -- the class of the seeds' objects (no module)
local LONG = "a long string written by the mutant run"
local WALK_MAX = 5000           -- containers walked per open
local ENTRIES_MAX = 2000        -- entries looked at per container

-- u64(s, pos) -- the little-endian 8-byte word at 0-based offset pos
local function u64(s, pos)
  return (string.unpack("<I8", s, pos + 1))
end

-- {=========================================================== seed pools

-- fill(pool) -- a bit of everything: tables that rehashed, lists that grew
-- and shrank, a tuple, sets, objects, long strings, nesting, cycles,
-- containers as keys, a removed container key
local function fill(pool)
  local C = pmem.class(CLASS)
  local root = pool:table()
  pool.root = root
  local t = pool:table()
  for i = 1, 200 do t["key" .. i] = i end
  for i = 1, 150 do t["key" .. i] = nil end
  for i = 1, 50 do t[i] = ("long string number %d, padded"):format(i) end
  root.rehashed = t
  local l = pool:list()
  for i = 1, 100 do l:append(i * 1.5) end
  for _ = 1, 80 do l:remove() end
  l:append("a long string inside a list")
  root.list = l
  root.tuple = pool:tuple { 1, "two", 3.0, true, "a long string inside a tuple" }
  root.set = pool:set { "a", "b", 42, 1.5, false, "a long set element string" }
  local big = pool:set()
  for i = 1, 60 do big:add("element " .. i) end
  root.bigset = big
  for i = 1, 3 do
    local p = pool:new(C)
    p.x, p.y, p.name = i, -i, "a point with a long name " .. i
    root["point" .. i] = p
  end
  root.nested = { a = { b = { c = { d = pool:list { { e = "deep" }, { f = 0.5 } } } } } }
  root.self = root
  local a, b = pool:table(), pool:table()
  a.b, b.a = b, a
  root.cycle = a
  local keys = pool:table()
  keys[pool:table { k = 1 }] = "a table as a key"
  keys[root.point1] = true
  local gone = pool:list { 1 }
  keys[gone] = "removed below"
  keys[gone] = nil
  root.keys = keys
  local orphans = { pool:table { orphan = LONG }, pool:list { LONG, LONG } }
  return root, orphans                    -- garbage once the run is killed
end

-- big_transaction(pool, root) -- many snapshots (more than a lane's undo
-- log holds), allocations and frees, then kill -9 before the commit
local function big_transaction(pool, root)
  pool:transaction(function()
    for i = 1, 120 do root.rehashed["tx" .. i] = ("tx long string %d ......"):format(i) end
    for i = 1, 20 do root.list:append(pool:table { in_tx = i }) end
    root.tuple = nil
    root.more = pool:list { 1, 2, LONG }
    os.execute("kill -9 $PPID")
  end)
end

-- make_seed(path, mode) -- the "seed" part: build one seed pool
local function make_seed(path, mode)
  local pool = assert(pmem.open(path, "x", pmem.MIN_POOL_SIZE))
  local root, orphans = fill(pool)
  if mode == "clean" then pool:close() return end
  if mode == "intx" then big_transaction(pool, root) end
  os.execute("kill -9 $PPID")             -- kill -9 with the pool open
  return orphans
end

-- }===========================================================

-- {=========================================================== seed layout
-- The parent reads each seed once and writes DIR/NAME.layout (a Lua table:
-- where things are, and the extents of non-zero bytes) and DIR/NAME.image
-- (those extents' bytes, end to end). A worker loads these (half a MiB
-- instead of 8) and writes a mutant as the extents, its changes, and holes.

local GAP = 256                 -- zero bytes that end an extent

-- nonzero_pages(data, from) -- indices of the 4 KiB pages at or after byte
-- offset from holding a byte that is not zero
local function nonzero_pages(data, from)
  local pages, pos = {}, from + 1
  while true do
    local at = data:find("[^%z]", pos)
    if not at then return pages end
    local page = (at - 1) // 4096
    pages[#pages + 1] = page
    pos = (page + 1) * 4096 + 1
  end
end

-- extents(data) -- {offset, length} of the runs of bytes that are not all
-- zero, 64-byte aligned (so no aligned word straddles two)
local function extents(data)
  local ext, pos, zeros = {}, 1, ("\0"):rep(GAP)
  while true do
    local a = data:find("[^%z]", pos)
    if not a then return ext end
    a = (a - 1) // 64 * 64
    local z = data:find(zeros, a + 1, true)
    local e = math.min(#data, z and (z + 62) // 64 * 64 or #data)
    ext[#ext + 1] = { a, e - a }
    pos = e + 1
  end
end

-- used_lanes(data, L) -- lanes whose bytes differ from the last lane's
local function used_lanes(data, L)
  local used, size = {}, L.lane_size
  local last = data:sub(L.heap - size + 1, L.heap)
  for i = 0, L.nlanes - 1 do
    local at = L.lanes + i * size
    if data:sub(at + 1, at + size) ~= last then used[#used + 1] = i end
  end
  return used
end

-- scan_words(data, L) -- the non-zero aligned words of the data pages, and
-- among them those that look like an offset into the heap (pointers)
local function scan_words(data, L)
  local words, ptrs = {}, {}
  for _, page in ipairs(L.pages) do
    for at = page * 4096, page * 4096 + 4088, 8 do
      local v = u64(data, at)
      if v ~= 0 then
        words[#words + 1] = at
        if v >= L.heap and v < L.size then ptrs[#ptrs + 1] = at end
      end
    end
  end
  return words, ptrs
end

-- objects(data, L) -- {offset, size, type} of the allocations that some
-- pointer (or the descriptor's root offset) points at, by offset: the
-- 16-byte compact header in front of each holds the size (low 48 bits) and
-- the pmemobj type number
local function objects(data, L)
  local found, list = {}, {}
  local function add(v)
    if found[v] or v < L.chunks + 16 then return end
    found[v] = true
    local size, extra = string.unpack("<I8I8", data, v - 16 + 1)
    size = size & 0xffffffffffff
    if size > 16 and v - 16 + size <= L.size then list[#list + 1] = { v - 16, size, extra & 0xffff } end
  end
  add(L.root)
  for _, at in ipairs(L.ptrs) do add(u64(data, at)) end
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return list
end

-- layout(data) -- where things are in a seed, read from the file itself:
-- the descriptor gives the lanes and the heap; the heap header (PMDK 1.12)
-- the chunk size (+40) and chunks per zone (+48); the zone header the
-- chunks in use (+4); the chunk headers follow it, then the chunks
local function layout(data)
  local L = { size = #data }
  L.lanes, L.nlanes, L.heap = u64(data, 5120), u64(data, 5128), u64(data, 5136)
  L.lane_size = 3072             -- libpmemobj's lane layout (PMDK 1.12)
  L.root = u64(data, 6144)
  L.chunksize, L.per_zone = u64(data, L.heap + 40), u64(data, L.heap + 48)
  L.zone = L.heap + 1024
  L.nchunks = string.unpack("<I4", data, L.zone + 5)
  L.chunk_hdrs = L.zone + 64
  L.chunks = L.chunk_hdrs + L.per_zone * 8
  L.pages = nonzero_pages(data, L.chunks)
  L.words, L.ptrs = scan_words(data, L)
  L.used_lanes = used_lanes(data, L)
  L.objects = objects(data, L)
  L.extents = extents(data)
  return L
end

-- serialize(v) -- Lua source for a value of integers, strings and tables
local function serialize(v)
  if type(v) ~= "table" then return ("%q"):format(v) end
  local parts = {}
  for k, x in pairs(v) do
    parts[#parts + 1] = ("[%s]=%s"):format(serialize(k), serialize(x))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- describe_seed(dir, name) -- write NAME.layout and NAME.image of a seed
local function describe_seed(dir, name)
  local f = assert(io.open(dir .. "/" .. name .. ".pmem", "rb"))
  local data = f:read("a")
  f:close()
  local L = layout(data)
  local image = {}
  for i, e in ipairs(L.extents) do image[i] = data:sub(e[1] + 1, e[1] + e[2]) end
  f = assert(io.open(dir .. "/" .. name .. ".image", "wb"))
  f:write(table.concat(image))
  f:close()
  f = assert(io.open(dir .. "/" .. name .. ".layout", "w"))
  f:write("return ", serialize(L), "\n")
  f:close()
  return data
end

-- load_seed(dir, name) -- a seed's layout, its extents' bytes in L.ext
local function load_seed(dir, name)
  local L = dofile(dir .. "/" .. name .. ".layout")
  local f = assert(io.open(dir .. "/" .. name .. ".image", "rb"))
  local image = f:read("a")
  f:close()
  L.ext, L.at = {}, 1
  for i, e in ipairs(L.extents) do
    L.ext[i] = image:sub(L.at, L.at + e[2] - 1)
    L.at = L.at + e[2]
  end
  return L
end

-- last_at(list, pos) -- index of the last {offset, ...} of a sorted list
-- that starts at or before pos (0 if none)
local function last_at(list, pos)
  local lo, hi = 1, #list
  while lo <= hi do
    local mid = (lo + hi) // 2
    if list[mid][1] <= pos then lo = mid + 1 else hi = mid - 1 end
  end
  return hi
end

-- peek(L, pos, n) -- n bytes of the seed at pos
local function peek(L, pos, n)
  local out, i = {}, math.max(1, last_at(L.extents, pos))
  local at = pos
  while at < pos + n do
    local e = L.extents[i]
    if not e or e[1] >= pos + n then
      out[#out + 1] = ("\0"):rep(pos + n - at)
      break
    end
    if e[1] + e[2] > at then
      if e[1] > at then out[#out + 1] = ("\0"):rep(e[1] - at); at = e[1] end
      local stop = math.min(e[1] + e[2], pos + n)
      out[#out + 1] = L.ext[i]:sub(at - e[1] + 1, stop - e[1])
      at = stop
    end
    i = i + 1
  end
  return table.concat(out)
end

-- word(L, pos) -- the seed's 8-byte word at pos
local function word(L, pos)
  return u64(peek(L, pos, 8), 0)
end

-- pmlua's pmemobj type numbers (src/pml_layout.h)
local TYPES = { "string", "table", "list", "object", "tuple", "set", "table body", "list items" }

local DESCRIPTOR = {
  [5120] = "lanes_offset", [5128] = "nlanes", [5136] = "heap_offset",
  [6136] = "checksum", [6144] = "root_offset", [6152] = "run_id",
  [6160] = "root_size", [6168] = "conversion_flags", [6176] = "heap_size",
  [6184] = "heap_curr_allocated",
}

-- region(L, pos) -- what the byte at pos belongs to, for descriptions
local function region(L, pos)
  if pos < 4096 then return "pool header" end
  if pos < 8192 then
    local w = pos - pos % 8
    return DESCRIPTOR[w] and ("descriptor %s+%d"):format(DESCRIPTOR[w], pos - w)
           or "descriptor"
  end
  if pos >= L.lanes and pos < L.heap then
    local lane, off = (pos - L.lanes) // L.lane_size, (pos - L.lanes) % L.lane_size
    for i = #LANE_LOGS, 1, -1 do
      if off >= LANE_LOGS[i][1] then
        return ("lane %d %s log+%d"):format(lane, LANE_LOGS[i][2], off - LANE_LOGS[i][1])
      end
    end
  end
  if pos < L.heap then return "before the heap" end
  if pos < L.zone then return "heap header" end
  if pos < L.chunk_hdrs then return "zone header" end
  if pos < L.chunks then return ("chunk header %d"):format((pos - L.chunk_hdrs) // 8) end
  local o = L.objects[last_at(L.objects, pos)]
  if o and pos < o[1] + o[2] then
    local off = o[1] + 16
    local name = off == L.root and "root" or TYPES[o[3]] or ("type " .. o[3])
    return pos < off and ("allocation header of %s@%d+%d"):format(name, off, pos - o[1])
           or ("%s@%d+%d"):format(name, off, pos - off)
  end
  if pos < L.size then
    return ("chunk %d+%d"):format((pos - L.chunks) // L.chunksize, (pos - L.chunks) % L.chunksize)
  end
  return "past the end"
end

-- span(L, pos, n) -- what the bytes pos..pos+n-1 belong to
local function span(L, pos, n)
  local first, last = region(L, pos), region(L, pos + n - 1)
  local same = first:gsub("%+%d+$", "") == last:gsub("%+%d+$", "")
  return same and first or first .. " .. " .. last
end

-- }===========================================================

-- {=========================================================== mutations
-- A mutant m: seed index, a map of changed bytes (m.set[pos] = byte),
-- optionally a length to truncate to or junk to append, what to do after
-- opening (m.ro: open read-only first; m.reroot: replace the root and
-- collect), and a description m.what. Every choice comes from math.random,
-- seeded per mutant.

local function pick(t) return t[math.random(#t)] end

-- byte_at(m, L, pos) -- the byte at pos, with the mutant's changes so far
local function byte_at(m, L, pos)
  return m.set[pos] or peek(L, pos, 1):byte()
end

-- flip(m, L, pos [, bit]) -- flip one bit of the byte at pos
local function flip(m, L, pos, bit)
  bit = bit or math.random(0, 7)
  m.set[pos] = byte_at(m, L, pos) ~ (1 << bit)
  return ("flip bit %d of byte %d (%s)"):format(bit, pos, region(L, pos))
end

-- set_word(m, L, pos, v) -- store the 8-byte word v at pos
local function set_word(m, L, pos, v)
  local old = word(L, pos)
  local s = string.pack("<i8", v)
  for i = 1, 8 do m.set[pos + i - 1] = s:byte(i) end
  return ("word at %d (%s) 0x%x -> 0x%x"):format(pos, region(L, pos), old, v)
end

-- data_byte(L) -- a byte of pmlua's data: mostly in non-zero words
local function data_byte(L)
  local r = math.random()
  if r < 0.5 and #L.words > 0 then return pick(L.words) + math.random(0, 7) end
  if r < 0.7 then return pick(L.pages) * 4096 + math.random(0, 4095) end
  if r < 0.85 then return L.root + math.random(0, 111) end
  -- the allocation header in front of an object some word points at
  local v = #L.ptrs > 0 and word(L, pick(L.ptrs)) or L.root
  return math.max(L.chunks, v - math.random(1, 16))
end

-- an in-pool offset that is plausible but wrong
local function wrong_offset(L, old)
  local r = math.random(6)
  if r == 1 and #L.ptrs > 0 then return word(L, pick(L.ptrs)) end
  if r == 2 then return old + pick { -4096, -64, -32, -16, -8, 8, 16, 24, 32, 64, 4096 } end
  if r == 3 then return pick(L.pages) * 4096 + math.random(0, 511) * 8 end
  if r == 4 then return L.lanes + math.random(0, L.nlanes * L.lane_size // 8 - 1) * 8 end
  if r == 5 then return pick { L.heap, L.zone, L.chunks, L.root, L.size - 16, L.size - 8 } end
  return L.heap + math.random(0, (L.size - L.heap) // 16 - 1) * 16
end

-- an odd value for a word: a size, count, offset or tag gone wrong
local function odd_value(L, old)
  return pick {
    0, 1, -1, math.mininteger, math.maxinteger, L.size, L.size - 8, L.size + 4096,
    old + 1, old - 1, old * 2, old ~ (1 << math.random(0, 63)),
    math.random(2, 64), math.random(math.mininteger, math.maxinteger),
  }
end

local MUTATE = {}

function MUTATE.header(m, L)
  return flip(m, L, math.random(0, 4095))
end

function MUTATE.descriptor(m, L)
  local r = math.random()
  if r < 0.1 then return flip(m, L, math.random(4096, 4101)) end   -- layout name
  if r < 0.45 then return flip(m, L, math.random(5120, 5143)) end  -- lanes, heap offsets
  return flip(m, L, math.random(6136, 6191))         -- checksum, root offset and size, ...
end

function MUTATE.lane(m, L)
  local lane = (#L.used_lanes > 0 and math.random() < 0.6) and pick(L.used_lanes)
               or math.random(0, L.nlanes - 1)
  local off
  if math.random() < 0.4 then
    off = pick(LANE_LOGS)[1] + math.random(0, 63)    -- a ulog header
  else
    off = math.random(0, L.lane_size - 1)
  end
  return flip(m, L, L.lanes + lane * L.lane_size + off)
end

function MUTATE.heap(m, L)
  local r = math.random()
  if r < 0.2 then return flip(m, L, L.heap + math.random(0, 1023)) end
  if r < 0.4 then return flip(m, L, L.zone + math.random(0, 63)) end
  return flip(m, L, L.chunk_hdrs + math.random(0, 8 * L.nchunks - 1))
end

function MUTATE.data(m, L)
  return flip(m, L, data_byte(L))
end

function MUTATE.burst(m, L)
  local what = {}
  for i = 1, math.random(2, 8) do what[i] = flip(m, L, data_byte(L)) end
  return table.concat(what, "; ")
end

function MUTATE.word(m, L)
  local r, pos = math.random()
  if r < 0.25 then pos = math.random(6144 // 8, 6191 // 8) * 8
  elseif r < 0.5 then pos = L.root + math.random(0, 13) * 8
  else pos = #L.words > 0 and pick(L.words) or L.root end
  return set_word(m, L, pos, odd_value(L, word(L, pos)))
end

function MUTATE.pointer(m, L)
  local pos = (math.random() < 0.1 or #L.ptrs == 0) and 6144 or pick(L.ptrs)
  local v = wrong_offset(L, word(L, pos))
  return ("%s, into %s"):format(set_word(m, L, pos, v), region(L, v))
end

function MUTATE.zero(m, L)
  local r, pos, n = math.random()
  if r < 0.3 then
    local v = #L.ptrs > 0 and word(L, pick(L.ptrs)) or L.root
    pos, n = math.max(L.chunks, v - 16), 16                    -- an allocation header
  else
    local lane = #L.used_lanes > 0 and pick(L.used_lanes) or 0
    local page = pick { 0, 1, (L.lanes + lane * L.lane_size) // 4096, L.heap // 4096,
                        pick(L.pages), pick(L.pages), pick(L.pages) }
    pos, n = page * 4096, 4096
  end
  for i = pos, pos + n - 1 do m.set[i] = 0 end
  return ("zero %d bytes at %d (%s)"):format(n, pos, span(L, pos, n))
end

function MUTATE.truncate(m, L)
  local r = math.random()
  if r < 0.3 then m.truncate = math.random(0, L.size - 1)
  elseif r < 0.6 then m.truncate = math.random(0, L.size // 4096 - 1) * 4096
  elseif r < 0.8 then m.truncate = L.size - math.random(1, 8192)
  else m.truncate = pick { 4096, 8192, L.heap, L.chunks, (pick(L.pages) + 1) * 4096 } end
  return ("truncate to %d bytes (%s)"):format(m.truncate, region(L, m.truncate))
end

-- the fields of pmlua's containers (src/pml_layout.h), by pmemobj type
-- number: {offset, width, name, is an offset}
local HDR = { { 0, 4, "kind" }, { 4, 4, "flags" }, { 8, 8, "refcount" } }
local TABLE = { { 16, 8, "count" }, { 24, 8, "used" }, { 32, 8, "cap" }, { 40, 8, "body", true } }
local LIST = { { 16, 8, "len" }, { 24, 8, "cap" }, { 32, 8, "items", true } }
local function fields(...)
  local t = {}
  for _, part in ipairs { ... } do table.move(part, 1, #part, #t + 1, t) end
  return t
end
local FIELDS = {
  [1] = { { 0, 8, "len" } },
  [2] = fields(HDR, TABLE), [6] = fields(HDR, TABLE),
  [4] = fields(HDR, TABLE, { { 48, 1, "class tag" }, { 56, 8, "class", true } }),
  [3] = fields(HDR, LIST), [5] = fields(HDR, LIST),
}

-- set_bytes(m, pos, v, n) -- store the n-byte little-endian integer v at pos
local function set_bytes(m, pos, v, n)
  local s = string.pack("<i8", v)
  for i = 1, n do m.set[pos + i - 1] = s:byte(i) end
end

-- cell(m, L, o) -- a cell of a table body or list items: its tag or its word
local function cell(m, L, o)
  local pos = o[1] + 16 + 16 * math.random(0, math.max(0, (o[2] - 32) // 16))
  if math.random() < 0.5 then
    local tag = math.random(0, 15)
    m.set[pos] = tag
    return ("tag of the cell at %d (%s) := %d"):format(pos, region(L, pos), tag)
  end
  return set_word(m, L, pos + 8, wrong_offset(L, word(L, pos + 8)))
end

-- struct(m, L) -- a field of one of pmlua's containers, strings, bodies or
-- items made wrong: an odd value, a plausible wrong offset
function MUTATE.struct(m, L)
  local cands = {}
  for _, o in ipairs(L.objects) do
    if FIELDS[o[3]] or o[3] == 7 or o[3] == 8 then cands[#cands + 1] = o end
  end
  if #cands == 0 then return MUTATE.word(m, L) end
  local o = pick(cands)
  if not FIELDS[o[3]] then return cell(m, L, o) end
  local f = pick(FIELDS[o[3]])
  local pos = o[1] + 16 + f[1]
  if f[2] == 8 then
    local v = f[4] and math.random() < 0.7 and wrong_offset(L, word(L, pos)) or odd_value(L, word(L, pos))
    return ("%s %s"):format(f[3], set_word(m, L, pos, v))
  end
  local v = pick { 0, 1, 2, 3, 5, 6, 7, 8, 9, 255, 0xffff, 0x7fffffff, math.random(0, 0xffffffff) }
  set_bytes(m, pos, v, f[2])
  return ("%s of %s := %d"):format(f[3], region(L, pos), v)
end

-- junk(n) -- n random bytes
local function junk(n)
  local t = {}
  for i = 1, n // 8 + 1 do t[i] = string.pack("<i8", math.random(math.mininteger, math.maxinteger)) end
  return table.concat(t):sub(1, n)
end

function MUTATE.append(m, L)
  local r = math.random()
  if r < 0.4 then m.append = junk(math.random(1, 65536))
  elseif r < 0.7 then m.append = ("\0"):rep(pick { 1, 4096, L.chunksize, 1 << 20, L.size })
  else m.append = peek(L, 0, 4096):rep(math.random(1, 64)) end
  return ("append %d bytes"):format(#m.append)
end

local KINDS = {       -- kind, weight (per 100)
  { "header", 5 }, { "descriptor", 9 }, { "lane", 12 }, { "heap", 10 },
  { "data", 14 }, { "burst", 5 }, { "word", 7 }, { "pointer", 10 }, { "struct", 14 },
  { "zero", 8 }, { "truncate", 3 }, { "append", 3 },
}

-- mutant(master, i, seeds) -- mutant i of the run with this master seed
local function mutant(master, i, seeds)
  math.randomseed(master, i)
  local m = { set = {}, seed = math.random(#SEEDS) }
  local w = math.random(100)
  for _, k in ipairs(KINDS) do
    w = w - k[2]
    if w <= 0 then m.kind = k[1] break end
  end
  m.what = MUTATE[m.kind](m, seeds[m.seed])
  m.ro = math.random() < 0.1
  m.reroot = math.random() < 0.2
  return m
end

-- runs(m, stop) -- the mutant's changed bytes before stop, as {pos, bytes}
-- runs of consecutive positions
local function runs(m, stop)
  local positions, out = {}, {}
  for pos in pairs(m.set) do
    if pos < stop then positions[#positions + 1] = pos end
  end
  table.sort(positions)
  for _, pos in ipairs(positions) do
    local last = out[#out]
    if last and last[1] + #last[2] == pos then
      last[2] = last[2] .. string.char(m.set[pos])
    else
      out[#out + 1] = { pos, string.char(m.set[pos]) }
    end
  end
  return out
end

-- write_mutant(path, m, L) -- the seed with the mutant's changes, as a new
-- file (a pool left mapped by an earlier mutant keeps its own file): the
-- extents, the changed bytes over them, holes for the zeros
local function write_mutant(path, m, L)
  local stop = m.truncate or L.size
  os.remove(path)
  local f = assert(io.open(path, "wb"))
  for i, e in ipairs(L.extents) do
    if e[1] >= stop then break end
    f:seek("set", e[1])
    f:write(e[1] + e[2] <= stop and L.ext[i] or L.ext[i]:sub(1, stop - e[1]))
  end
  for _, r in ipairs(runs(m, stop)) do
    f:seek("set", r[1])
    f:write(r[2])
  end
  if stop > 0 then                        -- the length, even if it ends in zeros
    f:seek("set", stop - 1)
    f:write(string.char(byte_at(m, L, stop - 1)))
  end
  if m.append then f:write(m.append) end
  f:close()
end

-- }===========================================================

-- {=========================================================== exercising a pool

-- expand(v, push, found) -- read everything of container v, pushing the
-- containers it holds; found[type] keeps the first container of each type
local function expand(v, push, found)
  local ty = pmem.type(v)
  found[ty] = found[ty] or v
  local _ = tostring(v), #v
  if ty == "list" or ty == "tuple" then
    local n = #v
    _ = v[0], v[1], v[n], v[n + 1]
    for i, x in ipairs(v) do
      if i > ENTRIES_MAX then break end
      push(x)
    end
    return
  end
  local n = 0
  for k, x in pairs(v) do
    n = n + 1
    if n > ENTRIES_MAX then break end
    push(k); push(x)
    _ = tostring(k), v[k]
  end
  if ty == "set" then _ = v:contains(1), v:contains(LONG) end
end

-- walk(pool) -- read everything reachable from the root, each container in
-- its own pcall; returns found (see expand)
local function walk(pool)
  local seen, queue, found = {}, {}, {}
  local function push(x)
    if pmem.type(x) and not seen[x] and #queue < WALK_MAX then
      seen[x] = true
      queue[#queue + 1] = x
    end
  end
  pcall(function() push(pool.root) end)
  for i = 1, math.huge do
    if not queue[i] then break end
    pcall(expand, queue[i], push, found)
  end
  pcall(pmem.tolua, queue[1])
  return found
end

-- first_key(t) -- some key of t
local function first_key(t)
  for k in pairs(t) do return k end
end

-- writes(pool, found) -- a few changes of each kind of container, each of
-- which may fail; a transaction that commits and one that rolls back
local function writes(pool, found)
  local t, l, s, o = found.table, found.list, found.set, found.object
  pcall(function() t.mut = LONG; t.mut2 = { 1, LONG }; t.mut = nil end)
  pcall(function() t[first_key(t)] = nil end)
  pcall(function() l:append(LONG); l:insert(1, 2.5); l:remove(1); l:remove() end)
  pcall(function() s:add(LONG); s:discard(LONG); s:discard(first_key(s)) end)
  pcall(function() o.x = LONG; o[first_key(o)] = nil end)
  pcall(pool.transaction, pool, function()
    t.txk = pool:list { LONG }
    l:append(t)
  end)
  pcall(pool.transaction, pool, function()
    t.rolled = LONG
    error("roll back")
  end)
end

-- session(path, flag, m, first) -- open, walk, write, collect, close;
-- whether the pool opened
local function session(path, flag, m, first)
  local ok, pool = pcall(pmem.open, path, flag)
  if not ok or not pool then return false end
  local found = walk(pool)
  if flag ~= "r" and first then
    writes(pool, found)
    pcall(pool.gc, pool)
    if m.reroot then
      pcall(function() pool.root = { replaced = LONG } end)
      pcall(pool.gc, pool)
    end
  end
  pcall(pool.close, pool)
  return true
end

-- exercise(path, m) -- what every mutant goes through; whether it opened
local function exercise(path, m)
  if m.ro then session(path, "r", m, true) end
  local opened = session(path, "w", m, true)
  if opened then session(path, "w", m, false) end
  collectgarbage()
  collectgarbage()                        -- proxies' and leaked pools' finalizers
  return opened
end

-- }===========================================================

-- {=========================================================== worker

-- now() -- seconds, to 10 ms
local function now()
  local f = io.open("/proc/uptime")
  local t = f and f:read("n")
  if f then f:close() end
  return t or os.time()
end

local function load_seeds(dir)
  local seeds = {}
  for i, name in ipairs(SEEDS) do seeds[i] = load_seed(dir, name) end
  return seeds
end

-- worker(dir, master, first, last, batch, work) -- the "worker" part
local function worker(dir, master, first, last, batch, work)
  package.path, package.cpath = "", ""    -- a damaged class name loads nothing
  pmem.class(CLASS)
  local seeds = load_seeds(dir)
  local start, i = now(), first
  while i <= last and (i == first or batch <= 0 or now() - start < batch) do
    local m = mutant(master, i, seeds)
    io.write(("BEGIN %d %s %s: %s%s%s\n"):format(i, m.kind, SEEDS[m.seed], m.what,
      m.ro and " [read-only open first]" or "", m.reroot and " [root replaced]" or ""))
    io.flush()
    write_mutant(work, m, seeds[m.seed])
    local opened = exercise(work, m)
    io.write(("END %d %s\n"):format(i, opened and "o" or "r"))
    io.flush()
    i = i + 1
  end
  os.remove(work)
  io.write(("STOP %d\n"):format(i))
end

if arg and arg[1] == "seed" then
  return make_seed(arg[2], arg[3])
elseif arg and arg[1] == "worker" then
  local n = { tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6]) }
  return worker(arg[2], n[1], n[2], n[3], n[4], arg[7])
end

-- }===========================================================

-- {=========================================================== the suite

local lu = require "luaunit"
local helper = require "helper"

local q = helper.q
local SELF = arg[0]
-- make test runs 200 (about 30 s on 2 cores); make torture 10,000
local DEFAULT_COUNT = helper.SANITIZED and 100 or 200
local COUNT = tonumber(os.getenv("PMLUA_MUTANTS")) or DEFAULT_COUNT
local MASTER = tonumber(os.getenv("PMLUA_MUTANT_SEED")) or os.time() % 1000000
local ONLY = tonumber(os.getenv("PMLUA_MUTANT_ONLY"))
local KEEP = os.getenv("PMLUA_MUTANT_KEEP")
local BATCH = 2                                   -- seconds of mutants per worker
local HANG = helper.SANITIZED and 8 or 4          -- one mutant longer than this hangs

local function cpus()
  local p = io.popen("nproc 2>/dev/null")
  local n = tonumber(p:read("a"))
  p:close()
  return n or 1
end
local JOBS = tonumber(os.getenv("PMLUA_MUTANT_JOBS")) or math.min(cpus(), 8)

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- build_seeds(dir) -- the three seed pools (and their descriptions for the
-- workers); the killed ones must be marked open. The status is echoed, so
-- that the shell's "Killed" goes to the child's stderr, not ours.
local function build_seeds(dir)
  for _, name in ipairs(SEEDS) do
    local path = dir .. "/" .. name .. ".pmem"
    -- the direct engine: a killed run leaves its state in the pool file
    local out, _, err = helper.run_cmd(('%s %s %s seed %s %s; echo "status=$?"'):format(
      helper.DIRECT, q(helper.PMLUA), q(SELF), q(path), name))
    local want = name == "clean" and "0" or "137"
    lu.assertEquals(out:match("status=(%d+)"), want, "seed " .. name .. ": " .. err)
    local data = describe_seed(dir, name)
    local state = u64(data, u64(data, 6144) + 16)   -- pml_Root.state
    lu.assertEquals(state, name == "clean" and 0 or 1, "run state of seed " .. name)
  end
end

-- slices() -- the mutant ranges, one per worker loop
local function slices()
  if ONLY then return { { ONLY, ONLY } } end
  local s, per = {}, (COUNT + JOBS - 1) // JOBS
  for first = 1, COUNT, per do s[#s + 1] = { first, math.min(COUNT, first + per - 1) } end
  return s
end

-- one slice: workers over mutants FIRST..LAST, each under timeout, until
-- done. Everything they print goes to LOG; a worker that does not reach its
-- STOP line adds "DIED status" and its sanitizer lines ("ERR ..."), and the
-- next one starts after the mutant it was in.
local SLICE = [[
pmlua=$1 self=$2 dir=$3 master=$4 batch=$5 kill=$6 first=$7 last=$8 w=$9
: >"$w.log"
while [ "$first" -le "$last" ]; do
  PMLUA_OPEN_TIMEOUT=1 timeout -s KILL "$kill" "$pmlua" "$self" worker "$dir" "$master" "$first" "$last" \
    "$batch" "$w.pmem" >"$w.out" 2>"$w.err"
  rc=$?
  cat "$w.out" >>"$w.log"
  stop=$(sed -n 's/^STOP //p' "$w.out")
  if [ "$rc" -ne 0 ] || [ -z "$stop" ]; then
    echo "DIED $rc" >>"$w.log"
    grep -E 'ERROR: [A-Za-z]+Sanitizer|runtime error' "$w.err" | tail -n 2 | sed 's/^/ERR /' >>"$w.log"
    stop=$(sed -n 's/^BEGIN \([0-9]*\) .*/\1/p' "$w.out" | tail -n 1)
    if [ -z "$stop" ]; then head -n 20 "$w.err" | sed 's/^/ERR /' >>"$w.log"; exit 1; fi
    stop=$((stop + 1))
  fi
  first=$stop
done
]]

-- failure(st, i, what, rc) -- a mutant that killed its worker: a signal
-- (or a sanitizer's exit status) or, killed by timeout, a hang
local function failure(st, i, what, rc)
  local how = (rc == 124 or rc == 137) and "hang" or rc > 128 and ("signal %d"):format(rc - 128)
              or ("exit status %d"):format(rc)
  st[how == "hang" and "hangs" or "signals"] = st[how == "hang" and "hangs" or "signals"] + 1
  local f = { i = i, text = ("mutant %d: %s -- %s"):format(i, how, what) }
  st.failures[#st.failures + 1] = f
  return f
end

-- tally(st, log) -- count one slice's log
local function tally(st, log)
  local open, what, last, f
  for line in log:gmatch("[^\n]+") do
    local tag, rest = line:match("^(%u+) ?(.*)$")
    if tag == "BEGIN" then
      open, what = rest:match("^(%d+) (.*)$")
      open = tonumber(open)
      st.kind(what)[1] = st.kind(what)[1] + 1
    elseif tag == "END" then
      local res = rest:match(" ([or])$")
      st.tried = st.tried + 1
      st[res == "o" and "opened" or "refused"] = st[res == "o" and "opened" or "refused"] + 1
      if res == "o" then st.kind(what)[2] = st.kind(what)[2] + 1 end
      open, last = nil, tonumber(rest:match("^%d+"))
    elseif tag == "DIED" and open then
      st.tried = st.tried + 1
      st.kind(what)[3] = st.kind(what)[3] + 1
      f, open = failure(st, open, what, tonumber(rest)), nil
    elseif tag == "DIED" then
      f = failure(st, last or 0, last and "after its END, at the worker's exit"
                                  or "a worker died before its first mutant", tonumber(rest))
    elseif tag == "ERR" and f then
      f.text = f.text .. "\n  " .. rest
    end
  end
end

-- run(dir) -- every mutant, in parallel slices; the tallies
local function run(dir)
  local kinds = {}
  local st = { tried = 0, opened = 0, refused = 0, signals = 0, hangs = 0,
               failures = {}, kinds = kinds }
  function st.kind(what)
    local k = what:match("^%S+")
    kinds[k] = kinds[k] or { 0, 0, 0 }          -- tried, opened, failed
    return kinds[k]
  end
  local cmd = {}
  for k, s in ipairs(slices()) do
    cmd[k] = ("sh -c %s sh %s %s %s %d %d %d %d %d %s 2>/dev/null &"):format(
      q(SLICE), q(helper.PMLUA), q(SELF), q(dir), MASTER, BATCH, BATCH + HANG,
      s[1], s[2], q(("%s/w%d"):format(dir, k)))
  end
  os.execute(table.concat(cmd, "\n") .. "\nwait")
  for k in ipairs(cmd) do tally(st, read_file(("%s/w%d.log"):format(dir, k))) end
  table.sort(st.failures, function(a, b) return a.i < b.i end)
  return st
end

-- keep(dir) -- copy the seeds to KEEP for replays
local function keep(dir)
  os.execute("mkdir -p " .. q(KEEP))
  for _, name in ipairs(SEEDS) do
    for _, ext in ipairs { ".pmem", ".layout", ".image" } do
      os.execute(("cp %s %s/"):format(q(dir .. "/" .. name .. ext), q(KEEP)))
    end
  end
end

-- report(st, seconds) -- the counts, per kind, and one line per failure
local function report(st, seconds)
  if helper.SANITIZED and not os.getenv("PMLUA_MUTANTS") and not ONLY then
    print(("mutants: %d under the sanitizer, not %d (PMLUA_MUTANTS sets the count)"):format(
      COUNT, 200))
  end
  print(("mutants: %d tried, %d opened, %d refused, %d signals, %d hangs (seed %d)"):format(
    st.tried, st.opened, st.refused, st.signals, st.hangs, MASTER))
  local kinds = {}
  for _, k in ipairs(KINDS) do
    local c = st.kinds[k[1]] or { 0, 0, 0 }
    kinds[#kinds + 1] = ("%s %d/%d/%d"):format(k[1], c[1], c[2], c[3])
  end
  print(("mutants by kind (tried/opened/failed): %s; %d workers, %d s"):format(
    table.concat(kinds, ", "), JOBS, seconds))
  for _, f in ipairs(st.failures) do
    print(f.text)
    if KEEP then
      print(("  replay: %s %s worker %s %d %d %d 0 /tmp/mutant.pmem"):format(
        helper.PMLUA, SELF, KEEP, MASTER, f.i, f.i))
    end
  end
  if #st.failures > 0 and not KEEP then
    print(("replay: PMLUA_MUTANT_SEED=%d PMLUA_MUTANT_ONLY=i [PMLUA_MUTANT_KEEP=DIR]"):format(MASTER))
  end
end

TestMutants = {}

function TestMutants.test_no_mutant_crashes_or_hangs()
  local dir = helper.fast_pool_path():match("^(.*)/")
  local t0 = os.time()
  build_seeds(dir)
  if KEEP then keep(dir) end
  local st = run(dir)
  report(st, os.time() - t0)
  local failures = {}
  for i, f in ipairs(st.failures) do failures[i] = f.text end
  failures = table.concat(failures, "\n")
  lu.assertEquals(st.tried, ONLY and 1 or COUNT, failures)
  if not ONLY then
    lu.assertTrue(st.opened > 0, "no mutant opened: the run proves nothing")
    lu.assertTrue(st.refused > 0, "no mutant was refused: the mutations do nothing")
  end
  lu.assertEquals(st.signals, 0, failures)
  lu.assertEquals(st.hangs, 0, failures)
end

os.exit(lu.LuaUnit.run())
