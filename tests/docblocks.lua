-- docblocks.lua -- the code blocks of a Markdown document, as test_docs.lua
-- runs them. Owns the syntax the documents use to say how a block runs.
--
-- A fenced block is "```INFO" ... "```". The blocks that run:
--   ```lua      a chunk, run by pmlua in the document's scratch directory
--   ```session  a shell transcript: lines "$ CMD" are commands, the lines
--               after each are what it prints (stdout and stderr)
--   ```output   right after a lua block: what that chunk prints
-- Any other info string (sh, c, text, none) is prose and is not run.
--
-- Directives: an HTML comment on the line right before a fence,
-- "<!-- doc: D; D; ... -->", each D one of
--   norun REASON     the block is shown, not run (few of them, each with why)
--   file NAME        the block is not run but written to NAME in the
--                    scratch directory, for later blocks to run or require
--   excerpt PATH     the block is part of the repository file PATH: its
--                    pieces between lines "-- ..." appear there, in order
--   seed N           the processes of the block start with math.randomseed(N)
--                    (LUA_INIT), so that a transcript of a game is the same
--                    on every run
-- In a session, a command that reads lines ends with "# type: A | B ...":
-- the transcript shows each typed line after its prompt, as a terminal
-- echoes it; the command gets the lines as its input, and the comparison
-- removes the echoes, in order.
local M = {}

-- directives(line) -> {name = arg} of an HTML comment line, or nil
local function directives(line)
  local body = line and line:match("^%s*<!%-%-%s*doc:%s*(.-)%s*%-%->%s*$")
  if not body then return nil end
  local d = {}
  for item in (body .. ";"):gmatch("%s*(.-)%s*;") do
    local name, rest = item:match("^(%a+)%s*(.-)$")
    assert(name, "bad doc directive: " .. item)
    assert(({ norun = 1, file = 1, excerpt = 1, seed = 1 })[name], "unknown doc directive: " .. name)
    d[name] = rest
  end
  return d
end

-- parse(text) -> blocks: {kind =, line =, text =, dirs =, output =}; an
-- output block is attached to the lua block before it (blank lines between)
function M.parse(text)
  local blocks, lines = {}, {}
  for l in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
  local i, last = 1, nil
  while i <= #lines do
    local info = lines[i]:match("^```(%S*)%s*$")
    if info then
      local start, body = i, {}
      i = i + 1
      while i <= #lines and not lines[i]:match("^```%s*$") do
        body[#body + 1] = lines[i]; i = i + 1
      end
      assert(i <= #lines, "unclosed code block at line " .. start)
      local b = { kind = info, line = start, text = table.concat(body, "\n") .. "\n",
                  dirs = directives(lines[start - 1]) or {} }
      if info == "output" then
        assert(last and last.kind == "lua" and not last.output,
               "an output block must follow a lua block (line " .. start .. ")")
        last.output = b.text
      else
        blocks[#blocks + 1] = b
      end
      last = b
    elseif lines[i]:match("%S") and not directives(lines[i]) then
      last = nil                          -- prose between: output belongs to no block
    end
    i = i + 1
  end
  return blocks
end

-- session(text) -> {{cmd =, input =, expect =}}: the commands of a
-- transcript, each with its typed lines (or nil) and expected output, the
-- typed lines' echoes removed
function M.session(text)
  local cmds = {}
  for l in text:gmatch("(.-)\n") do
    local cmd = l:match("^%$ (.*)$")
    if cmd then
      local typed = cmd:match("%s#%s*type:%s*(.-)%s*$")
      local input = {}
      for t in (typed or ""):gmatch("[^|]+") do input[#input + 1] = t:match("^%s*(.-)%s*$") end
      cmds[#cmds + 1] = { cmd = cmd, input = typed and input, expect = {} }
    else
      assert(#cmds > 0, "a session must start with a command: " .. l)
      local e = cmds[#cmds].expect
      e[#e + 1] = l
    end
  end
  for _, c in ipairs(cmds) do
    local out = table.concat(c.expect, "\n") .. (#c.expect > 0 and "\n" or "")
    local pos = 1
    for _, t in ipairs(c.input or {}) do
      local s, e = out:find(" " .. t .. "\n", pos, true)
      assert(s, "the typed line '" .. t .. "' is not echoed in: " .. out)
      out = out:sub(1, s) .. out:sub(e + 1)   -- the prompt keeps its space
      pos = s + 1
    end
    c.expect = out
  end
  return cmds
end

-- excerpt_missing(block, file) -> nil if every piece of block (split at
-- lines "-- ...") appears in file's text in order, else the first missing one
function M.excerpt_missing(block, file)
  local pos = 1
  for piece in (block .. "-- ...\n"):gmatch("(.-)%s*%-%- %.%.%.%s*\n") do
    if piece:match("%S") then
      local s, e = file:find(piece, pos, true)
      if not s then return piece end
      pos = e + 1
    end
  end
  return nil
end

return M
