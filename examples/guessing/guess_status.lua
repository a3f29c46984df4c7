#!/usr/bin/env pmlua
-- guess_status.lua -- show the guesses so far in the persistent guessing
-- game, and the answer to the last one.
--
-- What it shows: reading a persistent object and iterating over a
-- persistent list it holds, in a later run than the one that stored them.
--
-- Run (in the directory where start_guessing was run):
--   pmlua path/to/examples/guessing/guess_status.lua
-- or, with pmlua installed on PATH: path/to/guess_status.lua

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

local pool, err = game.reopen_game()
if not pool then
  io.stderr:write(err, "\n")
  os.exit(1)
end

local guesser = pool.root
if #guesser.guesses == 0 then
  print("No guesses yet, use 'guess <integer>' to make a guess")
else
  print("guesses so far:")
  for _, guess in ipairs(guesser.guesses) do print("  " .. guess) end
  print("my response to your last guess:")
  print("  " .. guesser:message(guesser.current_outcome))
end
pool:close()
