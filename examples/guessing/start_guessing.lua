#!/usr/bin/env pmlua
-- start_guessing.lua -- start a game of the persistent guessing game.
--
-- What it shows: creating a pool (pmem.create fails if the file exists)
-- and storing a new persistent object at its root in one transaction, so
-- that a start killed half-way leaves no half-made game.
--
-- Run (from any directory; the game lives in ./guessing_game.pmem):
--   pmlua path/to/examples/guessing/start_guessing.lua
-- or, with pmlua installed on PATH: path/to/start_guessing.lua
-- Then play with guess.lua N and look with guess_status.lua.

-- script_dir -- the directory of this script with links followed, so that a
-- link to it (say, in ~/bin) still finds guess_lib.lua next to the script
local function script_dir()
  local p = io.popen("readlink -f -- '" .. arg[0]:gsub("'", "'\\''") .. "' 2>/dev/null")
  local path = p and p:read("a"):match("^(.*)\n$")
  if p then p:close() end
  return (path or arg[0]):match("^(.*/)") or "./"
end
package.path = script_dir() .. "?.lua;" .. package.path
local pmem = require "pmem"
local game = require "guess_lib"

local function refuse()
  io.stderr:write("There is already a game file.  Use the guess_status command"
                  .. " to see details of the current game.\n")
  os.exit(1)
end

if io.open(game.pool_fn, "rb") then refuse() end

io.write("Hello, what is your name?  ")
io.flush()
local name = io.read("l")
if not name or name:match("^%s*$") then
  io.stderr:write("\nNo name given; no game started.\n")
  os.exit(1)
end

local pool, err = pmem.create(game.pool_fn)
if not pool then
  if io.open(game.pool_fn, "rb") then refuse() end   -- started meanwhile
  io.stderr:write("Could not create the game file: ", err, "\n")
  os.exit(1)
end

local guesser = pool:transaction(function()
  pool.root = pool:new(game.Guesser, name)
  return pool.root
end)
print(guesser:message("START"))
print("Type 'guess' followed by your guess at the prompt.")
pool:close()
