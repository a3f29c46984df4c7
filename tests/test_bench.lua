-- test_bench.lua -- `make bench` cannot rot: its quick mode (QUICK=1, what
-- `make bench QUICK=1` runs) is run once here, and every row it must print is
-- checked: part 1's tables, and part 2's comparison of pmlua with SQLite, a
-- rewritten file, plain Lua and the C baseline, on both media, each with a
-- positive rate for every workload it has and the durability it gives, and
-- the chart. About 20-40 s.
--
-- Figures are not judged (the machine is noisy and QUICK's counts are tiny);
-- only that each is there and positive. A store whose dependency is missing
-- (LuaSQL, gnuplot) must say so in its row, and only if this very pmlua
-- cannot load it.
local lu = require "luaunit"
local helper = require "helper"

local q = helper.q
local PMLUA = helper.PMLUA
if not PMLUA:find("^/") then PMLUA = os.getenv("PWD") .. "/" .. PMLUA end
local BUILD = PMLUA:match("^(.*)/[^/]*$")
local OUT = helper.tmpdir()

local WORKLOADS = { "insert", "update", "append", "tx of 100", "reads", "start+read" }
local C_HAS = { update = true, append = true, ["tx of 100"] = true }
local ROWS = { "pmlua", "pmlua, forced", "C libpmemobj", "C libpmemobj, forced",
               "SQLite FULL", "SQLite NORMAL", "file+rename", "plain Lua" }

-- the run, once for every test
local output, status, errout
local function run()
  if not output then
    output, status, errout = helper.run_cmd("BENCH_QUICK=1 BENCH_OUT=" .. q(OUT) ..
      " sh bench/run.sh " .. q(BUILD))
  end
  return output
end

-- rate("1.5k/s") -> 1500; nil when the cell is not a rate
local function rate(cell)
  local n, unit = cell:match("^([%d.]+)([kM]?)/s$")
  if not n then return nil end
  return tonumber(n) * (unit == "k" and 1e3 or unit == "M" and 1e6 or 1)
end

-- the comparison block of one medium: its lines, from its "-- " header to
-- the next blank line
local function block(medium_pattern)
  local out = run()
  local lines, inside = {}, false
  for line in out:gmatch("[^\n]*") do
    if line:find("^  %-%- ") then inside = line:find(medium_pattern) ~= nil
    elseif inside and line == "" then inside = false
    elseif inside then lines[#lines + 1] = line end
  end
  return lines
end

-- the row of LABEL in a block: its cells after the label, and the rest of
-- the line (the durability, or the reason it was skipped)
local function row(lines, label)
  for _, line in ipairs(lines) do
    local rest = line:sub(3)
    if rest:sub(1, #label) == label and rest:sub(#label + 1, #label + 2) == "  " and
       not line:find("^    ") then
      local cells = {}
      local tail = rest:sub(#label + 1)
      for _ = 1, #WORKLOADS do
        local cell, after = tail:match("^%s+(%S+)(.*)$")
        if not cell then break end
        cells[#cells + 1] = cell
        tail = after
      end
      return cells, rest:sub(#label + 1):match("^%s*(.-)%s*$"), tail:match("^%s*(.-)%s*$")
    end
  end
end

local function luasql_loads()
  local _, code = helper.run_cmd(q(PMLUA) .. " -e 'require \"luasql.sqlite3\"'")
  return code == 0
end

TestBench = {}

function TestBench.test_runs_to_the_end()
  local out = run()
  lu.assertEquals(status, 0, "bench/run.sh failed:\n" .. out .. (errout or ""))
  lu.assertStrContains(out, "QUICK=1")
  lu.assertNotNil(out:find("\nbench: done in %d+ s\n"), out)
  lu.assertNil(out:find("failed"), "a part failed:\n" .. out)
end

function TestBench.test_part1_tables()
  local out = run()
  for _, title in ipairs({ "== /dev/shm, PMEM_IS_PMEM_FORCE=1", "== /dev/shm, PMEM_IS_PMEM_FORCE=0",
                           "== ordinary file (" }) do
    local at = out:find(title, 1, true)
    lu.assertNotNil(at, "no table " .. title .. ":\n" .. out)
    local tbl = out:sub(at, (out:find("\n\n", at, true) or #out))
    for _, measure in ipairs({ "t.k read", "l[i] read", "t.k = v (atomic)", "l:append(v)" }) do
      local line = tbl:match("\n  " .. measure:gsub("%p", "%%%0") .. "%s[^\n]*")
      lu.assertNotNil(line, title .. ": no row " .. measure)
      local pm = line:match("^\n  " .. measure:gsub("%p", "%%%0") .. "%s+(%S+)")
      lu.assertTrue(pm ~= nil and rate(pm) ~= nil and rate(pm) > 0, title .. ": " .. line)
    end
    lu.assertNotNil(tbl:find("targets met: %d+ of %d+"), title)
    lu.assertNil(tbl:find("n/a", 1, true), title .. ": a figure is missing:\n" .. tbl)
  end
end

local function check_block(pattern, what)
  local lines = block(pattern)
  lu.assertTrue(#lines > 0, "no comparison block for " .. what .. ":\n" .. run())
  local sqlite_ok = luasql_loads()
  for _, label in ipairs(ROWS) do
    local cells, rest, durability = row(lines, label)
    lu.assertNotNil(cells, what .. ": no row '" .. label .. "':\n" .. table.concat(lines, "\n"))
    if label:find("^SQLite") and not sqlite_ok then
      lu.assertStrContains(rest, "skipped: missing: luasql.sqlite3 (Debian package lua-sql-sqlite3")
    else
      lu.assertEquals(#cells, #WORKLOADS, what .. ": " .. label .. ": " .. rest)
      for i, w in ipairs(WORKLOADS) do
        if label:find("^C ") and not C_HAS[w] then
          lu.assertEquals(cells[i], "-", what .. ": " .. label .. " " .. w)
        else
          local r = rate(cells[i])
          lu.assertTrue(r ~= nil and r > 0, what .. ": " .. label .. " " .. w .. ": '" ..
                        tostring(cells[i]) .. "'")
        end
      end
      lu.assertTrue(#durability > 10, what .. ": " .. label .. ": no durability")
    end
  end
  -- a mode of pmlua this build lacks (pmlua normal before issue 15) is
  -- skipped with its reason, or measured like the others
  local cells, rest = row(lines, "pmlua normal")
  if cells and rest:find("^skipped") then
    lu.assertStrContains(rest, "not in this pmlua")
  elseif cells then
    lu.assertEquals(#cells, #WORKLOADS)
  end
  -- the ratio lines, pmlua's rate over each row's
  local ratios = 0
  for _, line in ipairs(lines) do
    if line:find("^    SQLite FULL%s+[%d./]+") then ratios = ratios + 1 end
  end
  lu.assertEquals(ratios, sqlite_ok and 1 or 0, what .. ": the ratio line of SQLite FULL")
  return lines
end

function TestBench.test_compare_disk()
  local lines = check_block("ordinary disk", "ordinary disk")
  local _, _, d = row(lines, "pmlua")
  lu.assertStrContains(d, "power loss")
  _, _, d = row(lines, "pmlua, forced")
  lu.assertStrContains(d, "NOT power loss")
end

function TestBench.test_compare_shm()
  local lines = check_block("/dev/shm", "/dev/shm")
  local _, _, d = row(lines, "file+rename")
  lu.assertStrContains(d, "not power loss")
end

function TestBench.test_chart()
  local out = run()
  if out:find("chart: gnuplot is missing", 1, true) then
    lu.assertEquals(os.execute("command -v gnuplot >/dev/null 2>&1 || command -v gnuplot-nox >/dev/null 2>&1"), nil,
                    "gnuplot is installed, yet the bench says it is missing")
    return
  end
  lu.assertStrContains(out, "chart: " .. OUT .. "/compare.svg and compare.png")
  for _, f in ipairs({ "compare.svg", "compare.png", "compare.dat" }) do
    lu.assertTrue(helper.file_size(OUT .. "/" .. f) > 100, f)
  end
  local svg = assert(io.open(OUT .. "/compare.svg")):read("a")
  lu.assertStrContains(svg, "<svg")
  lu.assertStrContains(svg, "SQLite FULL")
  lu.assertNotNil(svg:find("%d%d%d%d%-%d%d%-%d%d"), "no date on the chart")
end

os.exit(lu.LuaUnit.run())
