#!/usr/bin/env pmlua
-- guess.lua -- make one guess in the persistent guessing game.
--
-- What it shows: reopening a pool, taking the application object from its
-- root and calling its methods; the game file is removed once the game is
-- over (won or lost).
--
-- Run (in the directory where start_guessing was run):
--   pmlua path/to/examples/guessing/guess.lua 25
-- or, with pmlua installed on PATH: path/to/guess.lua 25

-- script_dir -- the directory of this script with links followed, so that a
-- link to it (say, in ~/bin) still finds guess_lib.lua next to the script
local function script_dir()
  local p = io.popen("readlink -f -- '" .. arg[0]:gsub("'", "'\\''") .. "' 2>/dev/null")
  local path = p and p:read("a"):match("^(.*)\n$")
  if p then p:close() end
  return (path or arg[0]):match("^(.*/)") or "./"
end
package.path = script_dir() .. "?.lua;" .. package.path
local game = require "guess_lib"

local function fail(msg)
  io.stderr:write(msg, "\n")
  os.exit(1)
end

if #arg ~= 1 then fail("Please specify a single integer as your guess.") end

local pool, err = game.reopen_game()
if not pool then fail(err) end

local guesser = pool.root
local outcome, why = guesser:check_guess(arg[1])
if not outcome then
  pool:close()
  fail(why)
end
print(guesser:message(outcome))
if guesser.lost then print(guesser:message("LOST")) end
local done = guesser.done
pool:close()
if done then os.remove(game.pool_fn) end
