#!/usr/bin/env pmlua
-- hello_world.lua -- the tutorial's "Hello <your_name_here>": a program
-- that remembers your name from one run to the next.
--
-- What it shows: pmem.open with flag "c" (create the pool if missing,
-- open it otherwise), pool.root (nil on a new pool; assigning it stores
-- the value), and a pool closed by <close> at the end of the scope.
--
-- Run (the pool is ./hello_world.pmem):
--   pmlua examples/hello_world.lua      asks your name the first time
--   pmlua examples/hello_world.lua      remembers it
-- Delete hello_world.pmem to start again.
local pmem = require "pmem"

local pool <close> = assert(pmem.open("hello_world.pmem", "c"))
if pool.root == nil then
  io.write("What is your name? ")
  io.flush()
  local name = io.read("l")
  if not name or name == "" then
    io.stderr:write("\nNo name given.\n")
    pool:close()
    os.exit(1)
  end
  pool.root = name
end
print(("Hello, %s"):format(pool.root))
