-- test_examples.lua -- the tutorial's programs (examples/) played through
-- the real scripts in child pmlua processes, each test in a fresh
-- directory: hello world remembering a name; whole guessing games won (by
-- binary search on the HIGH/LOW answers) and lost; bad guesses that do not
-- count; status; a second start refused; starts killed with kill -9 at
-- three points; a game file in use, damaged, or holding something else;
-- the shebang lines; the commands run through links; and
-- scripts/run-examples.sh (what 'make run' runs).
local lu = require "luaunit"
local helper = require "helper"

local q = helper.q

-- absolute paths: the children run in other directories
local function absolute(p)
  if p:sub(1, 1) == "/" then return p end
  return os.getenv("PWD") .. "/" .. p
end
local PMLUA = helper.PMLUA:find("/") and absolute(helper.PMLUA) or helper.PMLUA
local ROOT = absolute((arg and arg[0] or "tests/test_examples.lua"):match("^(.*)/tests/[^/]*$") or ".")
local EX = ROOT .. "/examples"
local GAME = EX .. "/guessing"
local POOL = "guessing_game.pmem"

local NO_GAME = "No game in progress.  Use 'start_guessing' to start one."
local PROMPT = "Hello, what is your name?  "
local LOW, HIGH = "Your guess is too low.\n", "Your guess is too high.\n"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- sh(dir, cmd [, stdin]) -> stdout, exit code, stderr of cmd run in dir
-- (in braces, so that the shell's "Killed" for a kill -9 goes to stderr)
local function sh(dir, cmd, stdin)
  return helper.run_cmd("{ cd " .. q(dir) .. " && " .. cmd .. "\n}", stdin)
end

-- cmd(name, ...) -- the shell command running examples/guessing/NAME.lua
-- with arguments, LUA_PATH pointing at examples/guessing
local function cmd(name, ...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = q(select(i, ...)) end
  return "env -u LUA_INIT -u LUA_INIT_5_4 LUA_PATH=" .. q(GAME .. "/?.lua;;") .. " "
    .. q(PMLUA) .. " " .. q(GAME .. "/" .. name .. ".lua") .. " " .. table.concat(args, " ")
end

-- shebang_env([bindir]) -- "env ... " for commands run by their shebang
-- line: bindir (default a fresh one) first on PATH, with "pmlua" in it
-- (whatever the binary under test is called); no LUA_PATH
local function shebang_env(bindir)
  bindir = bindir or helper.tmpdir()
  os.execute("ln -s " .. q(PMLUA) .. " " .. q(bindir .. "/pmlua"))
  return "env -u LUA_PATH -u LUA_INIT -u LUA_INIT_5_4 PATH="
    .. q(bindir .. ":" .. os.getenv("PATH")) .. " "
end

local function start(dir, name)
  return sh(dir, cmd("start_guessing"), name and (name .. "\n"))
end

local function guess(dir, g)
  return sh(dir, cmd("guess", tostring(g)))
end

local function status(dir)
  return sh(dir, cmd("guess_status"))
end

local function start_ok(dir, name)
  local out, code, err = start(dir, name)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, PROMPT .. name .. ", I've picked a number between 1 and 50.\n"
                  .. "Type 'guess' followed by your guess at the prompt.\n")
  lu.assertEquals(err, "")
  lu.assertTrue(exists(dir .. "/" .. POOL))
end

-- a valid guess: its output, which must be one of the game's answers
local function guess_ok(dir, g)
  local out, code, err = guess(dir, g)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(err, "")
  return out
end

-- play_binary(dir, name [, made]) -- win by binary search over 1..50;
-- made = valid guesses already counted. Returns the guesses made.
local function play_binary(dir, name, made)
  made = made or 0
  local lo, hi, guesses = 1, 50, {}
  while true do
    lu.assertTrue(lo <= hi, "the answers contradict each other")
    local g = (lo + hi) // 2
    local out = guess_ok(dir, g)
    guesses[#guesses + 1] = g
    if out == LOW then
      lo = g + 1
    elseif out == HIGH then
      hi = g - 1
    else
      lu.assertEquals(out, ("You guessed my number in %d tries, %s.\n")
                           :format(made + #guesses, name))
      break
    end
    lu.assertTrue(#guesses < 6, "binary search over 1..50 needs at most 6 guesses")
    lu.assertTrue(exists(dir .. "/" .. POOL), "the game file stays while the game runs")
  end
  lu.assertFalse(exists(dir .. "/" .. POOL), "the game file is removed after a win")
  return guesses
end

local function assert_no_game(dir)
  for _, run in ipairs({ function() return guess(dir, 25) end,
                         function() return status(dir) end }) do
    local out, code, err = run()
    lu.assertNotEquals(code, 0)
    lu.assertEquals(out, "")
    lu.assertEquals(err, NO_GAME .. "\n")
  end
  lu.assertFalse(exists(dir .. "/" .. POOL), "asking about no game creates no file")
end

-- a Lua expression for the pid of the pmlua process evaluating it
local function pidof_self_kill()
  return "(function() local f = io.open('/proc/self/stat'); local p = f:read('n'); "
    .. "f:close(); return p end)()"
end

-- {============================================ hello world

function test_hello_world_remembers_the_name()
  local dir = helper.tmpdir()
  local hello = "env -u LUA_INIT " .. q(PMLUA) .. " " .. q(EX .. "/hello_world.lua")
  local out, code, err = sh(dir, hello, "David\n")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "What is your name? Hello, David\n")
  lu.assertTrue(exists(dir .. "/hello_world.pmem"))
  for _ = 1, 2 do
    out, code, err = sh(dir, hello)                 -- no input at all
    lu.assertEquals(code, 0, err)
    lu.assertEquals(out, "Hello, David\n")
  end
  out = sh(dir, hello, "Somebody Else\n")
  lu.assertEquals(out, "Hello, David\n", "the name is not asked again")
end

function test_hello_world_without_a_name_stores_nothing()
  local dir = helper.tmpdir()
  local hello = q(PMLUA) .. " " .. q(EX .. "/hello_world.lua")
  local out, code = sh(dir, hello)                  -- end of input at the prompt
  lu.assertNotEquals(code, 0)
  lu.assertNil(out:find("Hello,"))
  out, code = sh(dir, hello, "Ana Lu\n")
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "What is your name? Hello, Ana Lu\n")
  lu.assertEquals(sh(dir, hello), "Hello, Ana Lu\n")
end

-- }============================================

-- {============================================ whole games

function test_won_game_by_binary_search()
  local dir = helper.tmpdir()
  start_ok(dir, "David")
  local guesses = play_binary(dir, "David")
  lu.assertTrue(#guesses >= 1 and #guesses <= 6)
  assert_no_game(dir)
end

function test_lost_game()
  -- Only the first guess can be right by chance (1 in 50): then the game is
  -- won, and another game is started. After a wrong first guess g the
  -- answer says which side the number is on, so every number on the other
  -- side is known to be wrong: guess those, all different, until the 7th
  -- counted guess loses. A repeated guess is answered but does not count.
  local dir = helper.tmpdir()
  local first, out
  for attempt = 0, 3 do
    first = 25 + attempt
    start_ok(dir, "Loser")
    out = guess_ok(dir, first)
    if out ~= "You guessed my number in 1 tries, Loser.\n" then break end
    lu.assertFalse(exists(dir .. "/" .. POOL))
  end
  lu.assertTrue(out == LOW or out == HIGH, out)
  local wrong = {}                                  -- known-wrong numbers
  if out == LOW then
    for n = 1, 6 do wrong[n] = n end                -- the number is > first
  else
    for n = 1, 6 do wrong[n] = 51 - n end           -- the number is < first
  end
  local answer = out
  for i = 1, 5 do
    lu.assertEquals(guess_ok(dir, wrong[i]), answer)
    if i == 2 then
      lu.assertEquals(guess_ok(dir, first), ("You already tried %d\n"):format(first))
      lu.assertEquals(guess_ok(dir, wrong[1]), ("You already tried %d\n"):format(wrong[1]))
    end
  end
  lu.assertTrue(exists(dir .. "/" .. POOL), "six wrong guesses do not lose yet")
  local st = status(dir)
  lu.assertStrContains(st, "guesses so far:\n  " .. first .. "\n  " .. wrong[1] .. "\n")
  local _, nlines = st:gsub("\n  %d+", "")
  lu.assertEquals(nlines, 6, "repeated guesses are not listed again: " .. st)
  out = guess_ok(dir, wrong[6])                     -- the 7th counted guess
  local number = out:match("^" .. answer:gsub("%.", "%%.")
    .. "Too many guesses, Loser!  The number I was thinking of was (%d+)\n$")
  lu.assertNotNil(number, out)
  number = tonumber(number)
  if answer == LOW then lu.assertTrue(number > first) else lu.assertTrue(number < first) end
  lu.assertFalse(exists(dir .. "/" .. POOL), "the game file is removed after a loss")
  assert_no_game(dir)
end

function test_bad_guesses_give_messages_and_do_not_count()
  local dir = helper.tmpdir()
  start_ok(dir, "David")
  local out, code, err = guess(dir, "abc")
  lu.assertNotEquals(code, 0)
  lu.assertEquals(out, "")
  lu.assertEquals(err, "Please specify an integer; abc is not valid\n")
  for _, bad in ipairs({ "2.5", "", "0x10", "12abc" }) do
    out, code, err = guess(dir, bad)
    lu.assertNotEquals(code, 0, bad)
    lu.assertStrContains(err, "Please specify an integer; " .. bad .. " is not valid")
  end
  for _, bad in ipairs({ 99, 51, 0, -5 }) do
    out, code, err = guess(dir, bad)
    lu.assertNotEquals(code, 0, bad)
    lu.assertEquals(out, "")
    lu.assertEquals(err, "Come now, David, a guess outside of the range I told you"
                    .. " won't get you anywhere\n")
  end
  out, code, err = sh(dir, cmd("guess"))
  lu.assertNotEquals(code, 0)
  lu.assertEquals(err, "Please specify a single integer as your guess.\n")
  out, code, err = sh(dir, cmd("guess", "1", "2"))
  lu.assertNotEquals(code, 0)
  lu.assertEquals(err, "Please specify a single integer as your guess.\n")
  out, code = status(dir)
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "No guesses yet, use 'guess <integer>' to make a guess\n")
  -- one valid guess, then more bad ones: the list holds only the valid one
  local first = guess_ok(dir, 25)
  if first:match("^You guessed") then
    lu.assertEquals(first, "You guessed my number in 1 tries, David.\n")
    return
  end
  guess(dir, "abc"); guess(dir, 99)
  out = status(dir)
  lu.assertEquals(out, "guesses so far:\n  25\nmy response to your last guess:\n  " .. first)
  -- and the win counts only the valid guesses
  local lo, hi = 1, 50
  if first == LOW then lo = 26 else hi = 24 end
  local made = 1
  while true do
    local g = (lo + hi) // 2
    out = guess_ok(dir, g)
    made = made + 1
    if out == LOW then lo = g + 1 elseif out == HIGH then hi = g - 1 else break end
    guess(dir, "nope")
  end
  lu.assertEquals(out, ("You guessed my number in %d tries, David.\n"):format(made))
  lu.assertFalse(exists(dir .. "/" .. POOL))
end

function test_status_in_the_middle_of_a_game()
  local dir = helper.tmpdir()
  start_ok(dir, "Mia")
  local out, code = status(dir)
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "No guesses yet, use 'guess <integer>' to make a guess\n")
  local a = guess_ok(dir, 25)
  if a:match("^You guessed") then return end        -- 1 in 50: nothing left to show
  local g2 = a == LOW and 38 or 12
  local b = guess_ok(dir, g2)
  if b:match("^You guessed") then return end
  out, code = status(dir)
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "guesses so far:\n  25\n  " .. g2
                  .. "\nmy response to your last guess:\n  " .. b)
  -- status changes nothing
  lu.assertEquals(status(dir), out)
  lu.assertEquals(guess_ok(dir, 25), "You already tried 25\n")
  lu.assertEquals(status(dir), "guesses so far:\n  25\n  " .. g2
                  .. "\nmy response to your last guess:\n  You already tried 25\n")
end

function test_second_start_is_refused_while_a_game_runs()
  local dir = helper.tmpdir()
  start_ok(dir, "David")
  local first = guess_ok(dir, 25)
  if first:match("^You guessed") then start_ok(dir, "David"); first = nil end
  local out, code, err = start(dir, "Eve")
  lu.assertNotEquals(code, 0)
  lu.assertEquals(err, "There is already a game file.  Use the guess_status command"
                  .. " to see details of the current game.\n")
  lu.assertNil(out:find("picked a number"))
  -- the running game is untouched: same player, same guesses
  _, _, err = guess(dir, 99)
  lu.assertStrContains(err, "Come now, David,")
  out = status(dir)
  if first then
    lu.assertStrContains(out, "guesses so far:\n  25\n")
  else
    lu.assertEquals(out, "No guesses yet, use 'guess <integer>' to make a guess\n")
  end
end

function test_no_game_running()
  local dir = helper.tmpdir()
  assert_no_game(dir)
end

function test_game_read_by_a_program_that_does_not_require_guess_lib()
  -- pmlua requires "guess_lib" on meeting a "guess_lib.Guesser"
  local dir = helper.tmpdir()
  start_ok(dir, "Zoe")
  local out, code, err = sh(dir, "env LUA_PATH=" .. q(GAME .. "/?.lua;;") .. " " .. q(PMLUA)
    .. " -e " .. q([[
      assert(package.loaded.guess_lib == nil)
      local pool = assert(pmem.open("guessing_game.pmem"))
      local g = pool.root
      print(g.name, g.maximum, #g.guesses, g:message("START"))
      pool:close()
    ]]))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "Zoe\t50\t0\tZoe, I've picked a number between 1 and 50.\n")
end

-- }============================================

-- {============================================ starts killed with kill -9

-- after a killed start: the next command says there is no game or that the
-- start was aborted, leaves no game file, and a new game can be started
local function assert_recovers(dir, run)
  local out, code, err = run(dir)
  lu.assertNotEquals(code, 0)
  lu.assertEquals(out, "")
  lu.assertTrue(err == NO_GAME .. "\n" or err:match("start was aborted") ~= nil, err)
  lu.assertFalse(exists(dir .. "/" .. POOL), "the aborted start's file is removed")
  assert_no_game(dir)
  start_ok(dir, "Again")
  lu.assertEquals(status(dir), "No guesses yet, use 'guess <integer>' to make a guess\n")
  play_binary(dir, "Again")
end

function test_start_killed_while_waiting_for_the_name()
  local dir = helper.tmpdir()
  -- start_guessing reads its name from a fifo that is held open but never
  -- written; once the prompt is out, kill -9 it
  local out, code, err = sh(dir, ([[
    mkfifo name.fifo
    %s <name.fifo >start.out 2>&1 &
    pid=$!
    exec 3>name.fifo
    i=0
    while ! grep -q "name?" start.out && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    kill -9 $pid
    wait $pid
    echo "status $?"
    exec 3>&-
    cat start.out
    rm -f name.fifo start.out
  ]]):format(cmd("start_guessing")))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "status 137\n" .. PROMPT)
  assert_recovers(dir, function(d) return guess(d, 25) end)
end

function test_start_killed_after_creating_the_pool()
  -- kill -9 right after pmem.create returns, before the game is stored
  local dir = helper.tmpdir()
  local hook = ("local create = pmem.create; pmem.create = function(...) "
    .. "local p, e = create(...); os.execute('kill -9 ' .. %s); return p, e end")
    :format(pidof_self_kill())
  local out, code = sh(dir, "env LUA_PATH=" .. q(GAME .. "/?.lua;;") .. " " .. q(PMLUA)
    .. " -e " .. q(hook) .. " " .. q(GAME .. "/start_guessing.lua"), "Killed\n")
  lu.assertNotEquals(code, 0)
  lu.assertEquals(out, PROMPT)
  lu.assertTrue(exists(dir .. "/" .. POOL), "the kill came after the pool was created")
  assert_recovers(dir, function(d) return guess(d, 25) end)
end

function test_start_killed_inside_the_transaction()
  -- kill -9 after Guesser.init ran, before the transaction storing the
  -- game committed: the pool reopens with nothing at its root
  local dir = helper.tmpdir()
  local hook = ("local g = require 'guess_lib'; local init = g.Guesser.init; "
    .. "g.Guesser.init = function(...) init(...); os.execute('kill -9 ' .. %s) end")
    :format(pidof_self_kill())
  local out, code = sh(dir, "env LUA_PATH=" .. q(GAME .. "/?.lua;;") .. " " .. q(PMLUA)
    .. " -e " .. q(hook) .. " " .. q(GAME .. "/start_guessing.lua"), "Killed\n")
  lu.assertNotEquals(code, 0)
  lu.assertEquals(out, PROMPT)
  lu.assertTrue(exists(dir .. "/" .. POOL))
  assert_recovers(dir, status)
end

-- }============================================

-- {============================================ game file in use or damaged

function test_game_file_in_use_is_left_alone()
  local dir = helper.tmpdir()
  start_ok(dir, "Kim")
  -- another process holds the pool open (until its stdin fifo closes)
  local out, code, err = sh(dir, ([[
    mkfifo hold.fifo
    %s -e 'local p = assert(pmem.open("guessing_game.pmem")); print("open"); io.stdout:flush(); io.read("a"); p:close()' <hold.fifo >hold.out 2>&1 &
    pid=$!
    exec 3>hold.fifo
    i=0
    while ! grep -q open hold.out && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    %s; echo "guess $?"
    %s; echo "status $?"
    exec 3>&-
    wait $pid; echo "holder $?"
    rm -f hold.fifo hold.out
  ]]):format("env LUA_PATH=" .. q(GAME .. "/?.lua;;") .. " " .. q(PMLUA),
             cmd("guess", "25"), cmd("guess_status")))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "guess 1\nstatus 1\nholder 0\n")
  lu.assertStrContains(err, "in use")
  lu.assertTrue(exists(dir .. "/" .. POOL), "a game in use is not removed")
  lu.assertEquals(status(dir), "No guesses yet, use 'guess <integer>' to make a guess\n")
end

function test_damaged_game_file_is_removed()
  local dir = helper.tmpdir()
  local f = assert(io.open(dir .. "/" .. POOL, "wb"))
  f:write(("not a pool\n"):rep(1000))
  f:close()
  local out, code, err = guess(dir, 25)
  lu.assertNotEquals(code, 0)
  lu.assertEquals(out, "")
  lu.assertStrContains(err, "Could not open game file")
  lu.assertStrContains(err, "start_guessing")
  lu.assertFalse(exists(dir .. "/" .. POOL))
  start_ok(dir, "Fresh")
end

-- assert_holds(dir, what) -- guess and guess_status refuse the game file,
-- which holds what, and leave it where it is, the same size
local function assert_holds(dir, what)
  local size = helper.file_size(dir .. "/" .. POOL)
  for _, run in ipairs({ function() return guess(dir, 25) end,
                         function() return status(dir) end }) do
    local out, code, err = run()
    lu.assertEquals(code, 1, err)
    lu.assertEquals(out, "")
    lu.assertEquals(err, POOL .. " holds something else (" .. what .. "), not a guessing"
                    .. " game; move it away or start the game in another directory.\n")
    lu.assertTrue(exists(dir .. "/" .. POOL), "someone else's file is not removed")
    lu.assertEquals(helper.file_size(dir .. "/" .. POOL), size)
  end
end

function test_game_file_holding_hello_worlds_pool_is_left_alone()
  local dir = helper.tmpdir()
  local hello = "env -u LUA_INIT " .. q(PMLUA) .. " " .. q(EX .. "/hello_world.lua")
  local _, code, err = sh(dir, hello, "David\n")
  lu.assertEquals(code, 0, err)
  lu.assertTrue(os.rename(dir .. "/hello_world.pmem", dir .. "/" .. POOL))
  assert_holds(dir, "a string")
  -- the name is still there: hello world reads it back
  lu.assertTrue(os.rename(dir .. "/" .. POOL, dir .. "/hello_world.pmem"))
  local out
  out, code, err = sh(dir, hello)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "Hello, David\n")
end

function test_game_file_holding_other_values_is_left_alone()
  -- other.lua (found through LUA_PATH's ./?.lua) defines a class
  -- other.Thing whose method has the game's name; nowhere.Thing has no module
  local cases = {
    { "p:table({ name = 'Ann' })", "a pmem.table" },
    { "p:list({ 1, 2 })", "a pmem.list" },
    { "42", "a number" },
    { "true", "a boolean" },
    { "p:new(require('other').Thing)", "a pmem.object of class other.Thing" },
    { "p:new(pmem.class('nowhere.Thing'))", "a pmem.object of class nowhere.Thing" },
  }
  for _, case in ipairs(cases) do
    local dir = helper.tmpdir()
    local f = assert(io.open(dir .. "/other.lua", "w"))
    f:write("local T = pmem.class('other.Thing')\n"
            .. "function T:check_guess() return 'EQUAL' end\n"
            .. "return { Thing = T }\n")
    f:close()
    local make = "local p = assert(pmem.create('" .. POOL .. "')); p.root = "
      .. case[1] .. "; p:close()"
    local _, code, err = sh(dir, "env -u LUA_INIT LUA_PATH='./?.lua;;' " .. q(PMLUA)
      .. " -e " .. q(make))
    lu.assertEquals(code, 0, err)
    assert_holds(dir, case[2])
  end
end

-- }============================================

-- {============================================ shebang lines, links, run-examples.sh

function test_scripts_run_by_their_shebang_line()
  local dir = helper.tmpdir()
  local env = shebang_env()
  local out, code, err = sh(dir, env .. q(EX .. "/hello_world.lua"), "Shebang\n")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "What is your name? Hello, Shebang\n")
  out, code, err = sh(dir, env .. q(GAME .. "/start_guessing.lua"), "Sheb\n")
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "Sheb, I've picked a number between 1 and 50.\n")
  out, code, err = sh(dir, env .. q(GAME .. "/guess.lua") .. " 99")
  lu.assertNotEquals(code, 0)
  lu.assertStrContains(err, "Come now, Sheb,")
  out, code, err = sh(dir, env .. q(GAME .. "/guess_status.lua"))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "No guesses yet, use 'guess <integer>' to make a guess\n")
  -- and from the scripts' own directory, by a relative path
  out, code, err = sh(GAME, "cd " .. q(dir) .. " && " .. env
    .. q(GAME .. "/guess.lua") .. " 25")
  lu.assertEquals(code, 0, err)
end

-- play_through(dir, command) -- start, status, a bad and a valid guess and
-- status again in dir, through the shell commands command(name) gives
local function play_through(dir, command)
  local out, code, err = sh(dir, command("start_guessing"), "Lin\n")
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "Lin, I've picked a number between 1 and 50.\n")
  out, code, err = sh(dir, command("guess_status"))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "No guesses yet, use 'guess <integer>' to make a guess\n")
  out, code, err = sh(dir, command("guess") .. " 99")
  lu.assertEquals(code, 1)
  lu.assertEquals(err, "Come now, Lin, a guess outside of the range I told you"
                  .. " won't get you anywhere\n")
  out, code, err = sh(dir, command("guess") .. " 25")
  lu.assertEquals(code, 0, err)
  if out == "You guessed my number in 1 tries, Lin.\n" then return end
  lu.assertTrue(out == LOW or out == HIGH, out)
  lu.assertEquals(sh(dir, command("guess_status")),
                  "guesses so far:\n  25\nmy response to your last guess:\n  " .. out)
end

local NAMES = { "start_guessing", "guess", "guess_status" }

function test_commands_linked_into_a_bin_directory()
  -- ~/bin/guess -> examples/guessing/guess.lua, run by name from elsewhere
  local dir, bin = helper.tmpdir(), helper.tmpdir()
  for _, name in ipairs(NAMES) do
    os.execute("ln -s " .. q(GAME .. "/" .. name .. ".lua") .. " "
               .. q(bin .. "/" .. name))
  end
  local env = shebang_env(bin)
  play_through(dir, function(name) return env .. name end)
end

function test_commands_through_a_chain_of_relative_links()
  -- bin/guess -> ../links/guess.lua -> ../game/guess.lua, game -> examples/guessing:
  -- relative targets are relative to the link's directory, not to the
  -- current one; run as bin/guess (a relative arg[0]) from the top
  local top = helper.tmpdir()
  os.execute("ln -s " .. q(GAME) .. " " .. q(top .. "/game") .. " && mkdir "
             .. q(top .. "/links") .. " " .. q(top .. "/bin"))
  for _, name in ipairs(NAMES) do
    local file = name .. ".lua"
    os.execute("ln -s " .. q("../game/" .. file) .. " " .. q(top .. "/links/" .. file))
    os.execute("ln -s " .. q("../links/" .. file) .. " " .. q(top .. "/bin/" .. name))
  end
  local env = shebang_env()
  play_through(top, function(name) return env .. "bin/" .. name end)
end

function test_run_examples_script()
  local tmp = helper.tmpdir()
  local out, code, err = helper.run_cmd("TMPDIR=" .. q(tmp) .. " sh "
    .. q(ROOT .. "/scripts/run-examples.sh") .. " " .. q(PMLUA))
  lu.assertEquals(code, 0, err .. out)
  lu.assertStrContains(out, "What is your name? David\nHello, David\n> hello_world\nHello, David\n")
  lu.assertStrContains(out, "Hello, what is your name?  David\n"
                       .. "David, I've picked a number between 1 and 50.\n")
  lu.assertStrContains(out, "> guess 25\n")
  local tries = tonumber(out:match("You guessed my number in (%d) tries, David%.\n"))
  lu.assertNotNil(tries)
  -- the script shows the status after the second guess, when the game
  -- still runs then (a win in 1 or 2 guesses happens 1 time in 25)
  if tries > 2 then
    lu.assertStrContains(out, "guesses so far:\n  25\n")
  else
    lu.assertNil(out:find("guesses so far:", 1, true))
  end
  local p = io.popen("ls -A " .. q(tmp))
  lu.assertEquals(p:read("a"), "", "run-examples.sh cleans up its directory")
  p:close()
  -- a broken interpreter makes it fail
  out, code = helper.run_cmd("TMPDIR=" .. q(tmp) .. " sh "
    .. q(ROOT .. "/scripts/run-examples.sh") .. " /bin/false")
  lu.assertNotEquals(code, 0)
end

-- }============================================

os.exit(lu.LuaUnit.run())
