-- timing.lua -- what bench.lua and compare.lua share to time their work:
-- the two clocks (bench_clock, built from bench/clock.c by bench/run.sh;
-- os.clock for both when it did not build), a point in time and the time
-- since it, and the medians a figure reports.
local M = {}

local ok, clock = pcall(require, "bench_clock")
if not ok then
  -- the scripts print this as a comment line of their output
  M.note = "# bench_clock not loaded (" .. tostring(clock):match("[^\n]*")
           .. "): wall column is os.clock CPU time"
  clock = { wall = os.clock, cpu = os.clock }
end
local wall, cpu = clock.wall, clock.cpu

-- mark / since: a point in time on both clocks, and the time elapsed from it
function M.mark() return { wall(), cpu() } end
function M.since(m) return { wall() - m[1], cpu() - m[2] } end

local function median(v)
  local c = table.move(v, 1, #v, 1, {})
  table.sort(c)
  local n = #c
  if n % 2 == 1 then return c[(n + 1) // 2] end
  return (c[n // 2] + c[n // 2 + 1]) / 2
end
M.median = median

-- medians(samples) -> the median wall and CPU seconds of {wall, cpu} samples
function M.medians(samples)
  local w, c = {}, {}
  for i, s in ipairs(samples) do w[i], c[i] = s[1], s[2] end
  return median(w), median(c)
end

return M
