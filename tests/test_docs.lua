-- test_docs.lua -- documents that run: every lua and session block of the
-- documents below is run, in order, in a scratch directory of its document,
-- and what it prints is compared where the text shows it (the syntax of
-- blocks and directives: tests/docblocks.lua).
--
-- A lua block is a chunk run by pmlua, with a fresh pool of its own as the
-- local `pool` (a block that opens its own shadows it); it must exit with
-- status 0 and write nothing on stderr. A session runs its commands in one
-- sh, from the scratch directory, with pmlua first on PATH and $PMLUA (the
-- binary) and $EX (the repository's examples/) set. One test per block,
-- named after its document and line.
local lu = require "luaunit"
local helper = require "helper"
local docblocks = require "docblocks"

local q = helper.q
-- absolute paths: the blocks run in other directories (tests/run.sh runs
-- the suites from the repository's top)
local function absolute(p)
  return p:sub(1, 1) == "/" and p or os.getenv("PWD") .. "/" .. p
end
local ROOT = os.getenv("PWD")
local PMLUA = helper.PMLUA:find("/") and absolute(helper.PMLUA) or helper.PMLUA
local DOCS = { "README.md", "docs/tutorial.md", "docs/reference.md", "examples/README.md" }
local TIMEOUT = 120        -- seconds for one block: a bound, never reached by a sound one

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a"); f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s); f:close()
end

-- env(dir, dirs) -- the environment every block runs in: pmlua on PATH,
-- no inherited LUA_INIT or LUA_PATH, TMPDIR inside the scratch directory
-- (so that `cd $(mktemp -d)` in a transcript stays there)
local function env(dir, dirs)
  local init = dirs.seed and ("LUA_INIT=" .. q("math.randomseed(" .. tonumber(dirs.seed) .. ")")) or "-u LUA_INIT"
  return ("env -u LUA_PATH -u LUA_CPATH -u LUA_INIT_5_4 %s PATH=%s PMLUA=%s EX=%s TMPDIR=%s HOME=%s ")
    :format(init, q(dir .. "/.bin:" .. os.getenv("PATH")), q(PMLUA), q(ROOT .. "/examples"),
            q(dir .. "/.tmp"), q(dir .. "/.home"))
end

-- run_lua(dir, n, b) -- the chunk, with a fresh pool as `pool` on its first
-- line (line numbers stay the document's); checks status, stderr, output
local function run_lua(dir, n, b)
  local name = (".block%03d.lua"):format(n)
  write(dir .. "/" .. name, ("local pool <close> = assert(pmem.open('.block%03d.pmem', 'c')); "):format(n) .. b.text)
  local out, code, err = helper.run_cmd("cd " .. q(dir) .. " && " .. env(dir, b.dirs)
    .. "timeout -s KILL " .. TIMEOUT .. " " .. q(PMLUA) .. " " .. name)
  lu.assertEquals(err, "", "the block wrote on stderr")
  lu.assertEquals(code, 0, "the block failed")
  if b.output then lu.assertEquals(out, b.output, "what the block printed") end
end

-- run_session(dir, b) -- the commands in one sh; each prints a separator
-- first, so that its output can be told from the others'
local function run_session(dir, b)
  local cmds = docblocks.session(b.text)
  local script = {}
  for i, c in ipairs(cmds) do
    local stdin = "/dev/null"
    if c.input then
      stdin = ("%s/.input%d"):format(dir, i)
      write(stdin, table.concat(c.input, "\n") .. "\n")
    end
    script[#script + 1] = ("printf '\\001%d\\001'\n{ %s\n} <%s 2>&1"):format(i, c.cmd, q(stdin))
  end
  write(dir .. "/.session.sh", table.concat(script, "\n") .. "\n")
  local out = helper.run_cmd("cd " .. q(dir) .. " && " .. env(dir, b.dirs)
    .. "timeout -s KILL " .. TIMEOUT .. " sh .session.sh")
  local got = {}
  for i, text in out:gmatch("\1(%d+)\1([^\1]*)") do got[tonumber(i)] = text end
  for i, c in ipairs(cmds) do
    lu.assertEquals(got[i], c.expect, ("what '$ %s' printed"):format(c.cmd))
  end
end

-- the block as a test: files and excerpts are checked, the rest run
local function block_test(doc, dir, n, b)
  return function()
    if b.dirs.excerpt then
      local missing = docblocks.excerpt_missing(b.text, read(ROOT .. "/" .. b.dirs.excerpt))
      lu.assertNil(missing, "this part of the block is not in " .. b.dirs.excerpt)
    end
    if b.dirs.file then
      write(dir .. "/" .. b.dirs.file, b.text)
    elseif b.dirs.excerpt then
      return                              -- its file runs elsewhere
    elseif b.kind == "lua" then
      run_lua(dir, n, b)
    elseif b.kind == "session" then
      run_session(dir, b)
    end
  end
end

local counts = { run = 0, norun = 0, files = 0, excerpts = 0 }
for _, doc in ipairs(DOCS) do
  local dir = helper.tmpdir()
  os.execute("mkdir -p " .. q(dir .. "/.bin") .. " " .. q(dir .. "/.tmp") .. " " .. q(dir .. "/.home")
             .. " && ln -s " .. q(PMLUA) .. " " .. q(dir .. "/.bin/pmlua"))
  local suite = {}
  _G["TestDoc_" .. doc:gsub("%W", "_")] = suite
  for n, b in ipairs(docblocks.parse(read(ROOT .. "/" .. doc))) do
    local runs = b.kind == "lua" or b.kind == "session"
    if b.dirs.norun then
      assert(b.dirs.norun ~= "", doc .. ":" .. b.line .. ": norun without a reason")
      counts.norun = counts.norun + 1
    elseif runs or b.dirs.file or b.dirs.excerpt then
      local kind = b.dirs.file and "files" or b.dirs.excerpt and "excerpts" or "run"
      counts[kind] = counts[kind] + 1
      suite[("test_%03d_line_%d"):format(n, b.line)] = block_test(doc, dir, n, b)
    end
  end
end

-- the extractor itself: what a document cannot get wrong unnoticed
TestDocblocks = {}
function TestDocblocks.test_output_attaches_to_its_lua_block()
  local bs = docblocks.parse("```lua\nprint(1)\n```\n\n```output\n1\n```\ntext\n```lua\nx()\n```\n")
  lu.assertEquals(#bs, 2)
  lu.assertEquals(bs[1].output, "1\n")
  lu.assertNil(bs[2].output)
  lu.assertErrorMsgContains("must follow a lua block",
    docblocks.parse, "```lua\nx()\n```\nprose\n```output\n1\n```\n")
end
function TestDocblocks.test_directives()
  local bs = docblocks.parse("<!-- doc: file a.lua; seed 3 -->\n```lua\nx()\n```\n<!-- doc: norun why -->\n```session\n$ ls\n```\n")
  lu.assertEquals(bs[1].dirs, { file = "a.lua", seed = "3" })
  lu.assertEquals(bs[2].dirs, { norun = "why" })
  lu.assertErrorMsgContains("unknown doc directive", docblocks.parse, "<!-- doc: nosuch -->\n```lua\n```\n")
end
function TestDocblocks.test_session_typed_input()
  local cmds = docblocks.session("$ pmlua hello.lua   # type: David\nWhat is your name? David\nHello, David\n$ ls\n")
  lu.assertEquals(cmds[1].input, { "David" })
  lu.assertEquals(cmds[1].expect, "What is your name? Hello, David\n")
  lu.assertEquals(cmds[2].expect, "")
  cmds = docblocks.session("$ pmlua game.lua # type: Ann | 25\nName? Ann\n> 25\nlow\n")
  lu.assertEquals(cmds[1].input, { "Ann", "25" })
  lu.assertEquals(cmds[1].expect, "Name? > low\n")
end
function TestDocblocks.test_excerpt()
  local file = "a\nb\nc\nd\n"
  lu.assertNil(docblocks.excerpt_missing("a\nb\n-- ...\nd\n", file))
  lu.assertEquals(docblocks.excerpt_missing("b\n-- ...\na\n", file), "a")
end
-- the documents hold blocks that run, and few that do not
function TestDocblocks.test_counts()
  print(("\n  docs: %d blocks run, %d files written, %d excerpts of the repository's files, %d not run")
        :format(counts.run, counts.files, counts.excerpts, counts.norun))
  lu.assertTrue(counts.run >= 10)
  lu.assertTrue(counts.norun * 5 <= counts.run, "more than one block in five is not run")
end

os.exit(lu.LuaUnit.run())
