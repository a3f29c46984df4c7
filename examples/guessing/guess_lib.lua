-- guess_lib.lua -- the guessing game's logic, shared by start_guessing,
-- guess and guess_status: the tutorial's second version, where the game
-- is one persistent object (class "guess_lib.Guesser") at the pool's root.
--
-- What it shows: a persistent class with init and methods; a persistent
-- list made through self._p_pool; a load hook (__load) that gives each
-- game a volatile attribute (_v_tried, memory only); several changes
-- made all-or-nothing with self._p_pool:transaction; reopening a pool
-- with clear errors.
--
-- Not run on its own: the commands require it (see README.md). Because
-- the class is named "guess_lib.Guesser", a program that opens the game
-- file without requiring this module still finds the class: pmlua
-- requires "guess_lib" when it first meets a Guesser.
local pmem = require "pmem"

local M = {}

M.pool_fn = "guessing_game.pmem"   -- in the current directory
M.MAX_GUESSES = 7                  -- the 7th wrong guess loses (the tutorial's
                                   -- len(guesses) > 6); binary search over
                                   -- 1..50 never needs more than 6 guesses

-- {============================================ opening the game

-- holds -- what a root that is not a game is, for a message ("a string",
-- "a pmem.table", "a pmem.object of class NAME", ...)
local function holds(root)
  local kind = pmem.type(root)
  if kind == "object" then return "a pmem.object of class " .. pmem.classname(root) end
  return "a " .. (kind and "pmem." .. kind or type(root))
end

-- reopen_game -- the open game pool, or nil and a message for the player.
-- A file that does not open, and a pool whose start was cut short (root
-- still nil), are removed so that start_guessing can run again; a game
-- that another command has open right now, and a pool holding something
-- other than a game (someone else's data), are left alone.
function M.reopen_game()
  local f = io.open(M.pool_fn, "rb")
  if not f then
    return nil, "No game in progress.  Use 'start_guessing' to start one."
  end
  f:close()
  local pool, err, errno = pmem.open(M.pool_fn)
  if not pool then
    if errno == 11 then                -- EAGAIN: locked by another process
      return nil, "The game is in use by another command; try again."
    end
    local ok, rmerr = os.remove(M.pool_fn)
    if not ok then
      return nil, ("Could not open game file: %s; and can't remove it: %s")
                  :format(err, rmerr)
    end
    return nil, ("Could not open game file: %s.  Start again with"
                 .. " 'start_guessing'."):format(err)
  end
  local root = pool.root
  if root == nil then
    -- start_guessing was killed after creating the file, before the game
    -- was stored: nothing in it is worth keeping
    pool:close()
    os.remove(M.pool_fn)
    return nil, "Looks like a start was aborted; start again with 'start_guessing'."
  end
  local is_game = pmem.type(root) == "object"
                  and pmem.classname(root) == "guess_lib.Guesser"
  if not is_game then
    local what = holds(root)
    pool:close()
    return nil, ("%s holds something else (%s), not a guessing game; move it away"
                 .. " or start the game in another directory."):format(M.pool_fn, what)
  end
  return pool
end

-- }============================================

-- {============================================ the game

local Guesser = pmem.class("guess_lib.Guesser")
M.Guesser = Guesser

-- init -- runs inside pool:new's transaction: all of it is stored, or none
function Guesser:init(name, maximum)
  self.name = name
  self.maximum = maximum or 50
  self.number = math.random(1, self.maximum)
  self.guesses = self._p_pool:list()
  self.lost = false
  self.done = false
end

-- __load -- runs once per run for each game: when a program first reads
-- it from the pool, and at its creation (before init, when there are no
-- guesses yet). It keeps the guesses made so far in a plain Lua set, a
-- volatile attribute: memory only, never stored, rebuilt every run.
function Guesser:__load()
  local tried = {}
  for _, g in ipairs(self.guesses or {}) do tried[g] = true end
  self._v_tried = tried
end

-- guess_to_int -- the guess as an integer in 1..maximum, or nil, message
function Guesser:guess_to_int(s)
  local guess = type(s) == "string" and s:match("^%s*([+-]?%d+)%s*$")
  guess = guess and math.tointeger(tonumber(guess))
  if not guess then
    return nil, ("Please specify an integer; %s is not valid"):format(tostring(s))
  end
  if guess < 1 or guess > self.maximum then
    return nil, ("Come now, %s, a guess outside of the range I told you"
                 .. " won't get you anywhere"):format(self.name)
  end
  return guess
end

-- check_guess -- judge a guess (a string, as typed): returns the outcome
-- "SEEN", "EQUAL", "LOW" or "HIGH", or nil and a message for a guess that
-- is not valid (which does not count). A guess already made does not
-- count either. The guess, its outcome and the end of the game are
-- recorded in one transaction.
function Guesser:check_guess(s)
  local guess, err = self:guess_to_int(s)
  if not guess then return nil, err end
  local outcome = self._p_pool:transaction(function()
    self.current_guess = guess
    if self._v_tried[guess] then
      self.current_outcome = "SEEN"
      return "SEEN"
    end
    self.guesses:append(guess)
    if guess == self.number then
      self.current_outcome = "EQUAL"
      self.done = true
      return "EQUAL"
    end
    self.current_outcome = guess < self.number and "LOW" or "HIGH"
    if #self.guesses >= M.MAX_GUESSES then
      self.lost = true
      self.done = true
    end
    return self.current_outcome
  end)
  -- only now that the transaction committed: a rollback does not undo a
  -- volatile attribute, so it must not learn of a guess that may not stay
  self._v_tried[guess] = true
  return outcome
end

function Guesser:message(key)
  return self["msg_" .. key](self)
end

function Guesser:msg_START()
  return ("%s, I've picked a number between 1 and %d."):format(self.name, self.maximum)
end

function Guesser:msg_SEEN()
  return ("You already tried %d"):format(self.current_guess)
end

function Guesser:msg_EQUAL()
  return ("You guessed my number in %d tries, %s."):format(#self.guesses, self.name)
end

function Guesser:msg_LOW() return "Your guess is too low." end

function Guesser:msg_HIGH() return "Your guess is too high." end

function Guesser:msg_LOST()
  return ("Too many guesses, %s!  The number I was thinking of was %d")
         :format(self.name, self.number)
end

-- }============================================

return M
