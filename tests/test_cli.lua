-- test_cli.lua -- the pmlua command line behaves as Debian's lua5.4 (5.4.4).
--
-- Each test runs the stock lua5.4 and pmlua as child processes with the same
-- arguments, environment and stdin, and asserts the same stdout, the same exit
-- status and the same stderr once the program names are replaced by "PROG".
-- pmlua's second version line ("pmlua X.Y.Z (pmem module)") is checked by the
-- -v tests and removed before comparing. Each test also checks what lua5.4
-- itself printed, so that two identical failures cannot pass.
local lu = require "luaunit"
local helper = require "helper"

local q = helper.q

-- the two programs, as argv[0] will show them (children run in another directory)
local LUA54 = helper.LUA54
local PMLUA = helper.PMLUA
if PMLUA:find("/") and not PMLUA:find("^/") then
  PMLUA = os.getenv("PWD") .. "/" .. PMLUA
end

-- files the children use, in a directory of their own
local DIR = helper.tmpdir()
local function write(name, text)
  local f = assert(io.open(DIR .. "/" .. name, "w"))
  f:write(text)
  f:close()
  return DIR .. "/" .. name
end
local MODDIR = DIR .. "/mods"
os.execute("mkdir -p " .. q(MODDIR))

write("args.lua", [[
for i = -4, 4 do print(i, arg[i]) end
print("n", select("#", ...), ...)
print("#arg", #arg)
]])
write("mods/mm.lua", 'return { name = "mm" }\n')
write("init.lua", 'print("init file", select("#", ...))\nINITED = true\n')
write("nested.lua", [[
local function inner() error("deep") end
local function outer() inner() end
outer()
]])
write("syntax.lua", "x =\n")
write("exit7.lua", "io.write('before')\nos.exit(7)\n")

-- a pattern for program name 'prog' standing alone (not a prefix of a path)
local function progpat(prog)
  return prog:gsub("%p", "%%%0") .. "%f[%s:\0]"
end

-- run(prog, args, opts) -> { out, code, err } with program names replaced.
-- args is a shell fragment; opts.stdin, opts.env (name -> value, false to
-- unset), opts.dir (working directory, default DIR).
local function run(prog, args, opts)
  opts = opts or {}
  local env = { "env -u LUA_INIT -u LUA_INIT_5_4 -u LUA_PATH_5_4 -u LUA_CPATH_5_4" }
  for k, v in pairs(opts.env or {}) do
    env[#env + 1] = v and (k .. "=" .. q(v)) or ("-u " .. k)
  end
  local cmd = "cd " .. q(opts.dir or DIR) .. " && " .. table.concat(env, " ")
              .. " " .. q(prog) .. " " .. args
  local out, code, err = helper.run_cmd(cmd, opts.stdin)
  out = out:gsub(progpat(prog), "PROG")
  err = err:gsub(progpat(prog), "PROG")
  return { out = out, code = code, err = err }
end

-- the second version line, which only pmlua prints
local BANNER = "pmlua %d+%.%d+%.%d+ %(pmem module%)\n"

-- both(args, opts) -> lua5.4's result, pmlua's result; asserts they agree.
-- opts.banner: pmlua printed its version line, which is checked and removed.
-- opts.same_err == false: stderr is not compared.
local function both(args, opts)
  opts = opts or {}
  local ref = run(LUA54, args, opts)
  local got = run(PMLUA, args, opts)
  if opts.banner then
    local n
    got.out, n = got.out:gsub("\n" .. BANNER, "\n", 1)
    lu.assertEquals(n, 1, "pmlua's version line is missing:\n" .. got.out)
  end
  lu.assertEquals(got.out, ref.out, "stdout differs for: " .. args)
  lu.assertEquals(got.code, ref.code, "exit status differs for: " .. args)
  if opts.same_err ~= false then
    lu.assertEquals(got.err, ref.err, "stderr differs for: " .. args)
  end
  return ref, got
end

local function lines(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

---------------------------------------------------------------------------
TestScript = {}

function TestScript:test_args_and_varargs()
  local ref = both("args.lua a 'b c'")
  lu.assertStrContains(ref.out, "-1\tPROG\n0\targs.lua\n1\ta\n2\tb c\n3\tnil\n")
  lu.assertStrContains(ref.out, "n\t2\ta\tb c\n#arg\t2\n")
end

function TestScript:test_options_get_negative_indices()
  local ref = both("-W -e 'x=1' args.lua p")
  lu.assertStrContains(ref.out, "-4\tPROG\n-3\t-W\n-2\t-e\n-1\tx=1\n0\targs.lua\n1\tp\n")
end

function TestScript:test_arg_without_script()
  local ref = both("-e 'for i = -1, 3 do print(i, arg[i]) end'")
  lu.assertEquals(ref.out, "-1\tnil\n0\tPROG\n1\t-e\n"
    .. "2\tfor i = -1, 3 do print(i, arg[i]) end\n3\tnil\n")
end

function TestScript:test_script_args_come_from_global_arg()
  local ref = both("-e 'arg[1] = \"X\"; arg[3] = \"Z\"' args.lua p q")
  lu.assertStrContains(ref.out, "n\t3\tX\tq\tZ\n")
end

function TestScript:test_arg_not_a_table()
  local ref = both("-e 'arg = nil' args.lua")
  lu.assertEquals(ref.code, 1)
  lu.assertEquals(ref.err, "PROG: 'arg' is not a table\n")
end

function TestScript:test_missing_script()
  local ref = both("nosuchfile.lua")
  lu.assertEquals(ref.code, 1)
  lu.assertStrContains(ref.err, "PROG: cannot open nosuchfile.lua")
end

function TestScript:test_syntax_error_in_script()
  local ref = both("syntax.lua")
  lu.assertEquals(ref.code, 1)
  lu.assertStrContains(ref.err, "PROG: syntax.lua:2: unexpected symbol near <eof>")
end

function TestScript:test_collector_mode()
  local ref = both("-e 'print(collectgarbage(\"incremental\"))'")
  lu.assertEquals(ref.out, "generational\n")
end

---------------------------------------------------------------------------
TestOptionE = {}

function TestOptionE:test_in_order_and_concatenated()
  local ref = both("-e 'x = 20' -e'print(x + 1)' '-eprint(x * 2)'")
  lu.assertEquals(ref.out, "21\n40\n")
  lu.assertEquals(ref.code, 0)
end

function TestOptionE:test_no_stdin_after_e()
  local ref = both("-e 'print(1)'", { stdin = "print(2)\n" })
  lu.assertEquals(ref.out, "1\n")
end

function TestOptionE:test_stops_at_first_error()
  local ref = both("-e 'print(1)' -e 'error(\"two\")' -e 'print(3)'")
  lu.assertEquals(ref.out, "1\n")
  lu.assertEquals(ref.code, 1)
  lu.assertStrContains(ref.err, "PROG: (command line):1: two\nstack traceback:\n")
end

function TestOptionE:test_syntax_error()
  local ref = both("-e 'x ='")
  lu.assertEquals(ref.code, 1)
  lu.assertEquals(ref.err, "PROG: (command line):1: unexpected symbol near <eof>\n")
end

---------------------------------------------------------------------------
TestOptionL = {}

local MODPATH = { LUA_PATH = MODDIR .. "/?.lua;;" }

function TestOptionL:test_into_global_of_same_name()
  local ref = both("-l mm -e 'print(mm.name)'", { env = MODPATH })
  lu.assertEquals(ref.out, "mm\n")
  both("-lmm -e 'print(mm.name)'", { env = MODPATH })
end

function TestOptionL:test_into_named_global()
  local ref = both("-l g=mm -e 'print(g.name, mm)'", { env = MODPATH })
  lu.assertEquals(ref.out, "mm\tnil\n")
end

function TestOptionL:test_order_with_e()
  local ref = both("-e 'mm = 1' -e 'print(mm)' -l mm -e 'print(type(mm))'",
                   { env = MODPATH })
  lu.assertEquals(ref.out, "1\ntable\n")
end

function TestOptionL:test_missing_module()
  local ref = both("-l nosuchmod -e 'print(1)'", { env = MODPATH })
  lu.assertEquals(ref.code, 1)
  lu.assertEquals(ref.out, "")
  lu.assertStrContains(ref.err, "PROG: module 'nosuchmod' not found:")
  lu.assertStrContains(ref.err, "stack traceback:\n\t[C]: in function 'require'")
end

function TestOptionL:test_standard_library()
  local ref = both("-l s=string -e 'print(s == string)'")
  lu.assertEquals(ref.out, "true\n")
end

---------------------------------------------------------------------------
-- -i reads stdin with readline, which echoes prompt and line when stdin is
-- not a terminal: the transcript is the whole stdout.
TestInteractive = {}

function TestInteractive:test_expressions_and_statements()
  local input = table.concat({
    "1+1", "print(2)", "return 1, nil, 3", "=10*2", "", "local a = 1",
    "function f(x)", "  return x * 2", "end", "f(21)", "for i = 1, 2 do",
    "print(i)", "end", "",
  }, "\n")
  local ref = both("-i", { stdin = input, banner = true })
  lu.assertStrContains(ref.out, "> 1+1\n2\n> print(2)\n2\n")
  lu.assertStrContains(ref.out, "> return 1, nil, 3\n1\tnil\t3\n> =10*2\n20\n")
  lu.assertStrContains(ref.out, "> function f(x)\n>>   return x * 2\n>> end\n> f(21)\n42\n")
  lu.assertStrContains(ref.out, ">> end\n1\n2\n> \n")
  lu.assertEquals(ref.code, 0)
end

function TestInteractive:test_errors_do_not_stop_the_loop()
  local input = table.concat({
    'error("x")', "x = = 1", "error({})",
    'error(setmetatable({}, {__tostring = function() return "TS" end}))',
    'setmetatable({}, {__tostring = function() error("bad") end})',
    "print('still here')", "",
  }, "\n")
  local ref = both("-i", { stdin = input, banner = true })
  lu.assertStrContains(ref.out, "still here\n")
  lu.assertEquals(ref.code, 0)
  -- no program name before messages in interactive mode
  lu.assertStrContains(ref.err, "stdin:1: x\nstack traceback:\n")
  lu.assertStrContains(ref.err, "stdin:1: unexpected symbol near '='\n")
  lu.assertStrContains(ref.err, "(error object is a table value)\n")
  lu.assertStrContains(ref.err, "TS\n")
  lu.assertStrContains(ref.err, "error calling 'print' (stdin:1: bad)\n")
  lu.assertNotStrContains(ref.err, "PROG")
end

function TestInteractive:test_prompts()
  local input = table.concat({
    '_PROMPT = "P "', "1", "_PROMPT2 = 7", "if true then", "end",
    '_PROMPT = setmetatable({}, {__tostring = function() return "T>" end})',
    "2", "",
  }, "\n")
  local ref = both("-i", { stdin = input, banner = true })
  lu.assertStrContains(ref.out, "P 1\n1\nP _PROMPT2 = 7\nP if true then\n7end\n")
  lu.assertStrContains(ref.out, "T>2\n2\nT>\n")
end

function TestInteractive:test_after_e_and_script()
  local ref = both("-e 'y = 5' -i args.lua z", { stdin = "y\narg[1]\n", banner = true })
  lu.assertStrContains(ref.out, "n\t1\tz\n#arg\t1\n> y\n5\n> arg[1]\nz\n> \n")
end

function TestInteractive:test_os_exit_status()
  local ref = both("-i", { stdin = "os.exit(4)\nprint(9)\n", banner = true })
  lu.assertEquals(ref.code, 4)
  lu.assertNotStrContains(ref.out, "\n9\n")
end

function TestInteractive:test_error_before_repl_exits()
  local ref = both("-e 'error(\"early\")' -i", { stdin = "print(9)\n", banner = true })
  lu.assertEquals(ref.code, 1)
  lu.assertNotStrContains(ref.out, "\n9\n")
  lu.assertStrContains(ref.err, "PROG: (command line):1: early\n")
end

-- deviation: at end of input inside an unfinished statement lua5.4 5.4.4
-- prints "(null)"; pmlua prints the syntax error instead
function TestInteractive:test_eof_inside_statement()
  local ref, got = both("-i", { stdin = "if true then\n", banner = true, same_err = false })
  lu.assertStrContains(ref.out, "> if true then\n>> > \n")
  lu.assertEquals(got.err, "stdin:1: 'end' expected near <eof>\n")
end

-- with no arguments and a terminal on stdin, both enter the loop with a banner
function TestInteractive:test_terminal_without_arguments()
  local ok = os.execute("command -v script >/dev/null 2>&1")
  if not ok then lu.skip("script(1) is not installed: no pseudo-terminal test") end
  local function on_tty(prog)
    local out = helper.run_cmd("sh -c " .. q("(printf '6*7\\n'; sleep 1) | "
                               .. "timeout 20 script -qec " .. q(prog) .. " /dev/null"))
    return out
  end
  local ref, got = on_tty(LUA54), on_tty(PMLUA)
  lu.assertStrContains(ref, "Copyright (C) 1994")
  lu.assertStrContains(ref, "42\r\n")
  lu.assertStrContains(got, ref:match("Lua 5%.4[^\r\n]*"))
  lu.assertStrContains(got, "42\r\n")
  lu.assertStrMatches(got, ".*\n" .. BANNER:gsub("\n", "\r\n") .. ".*")
end

---------------------------------------------------------------------------
TestVersion = {}

function TestVersion:test_v()
  local ref = run(LUA54, "-v")
  local got = run(PMLUA, "-v")
  local rl, gl = lines(ref.out), lines(got.out)
  lu.assertStrMatches(rl[1], "Lua 5%.4%.%d+  Copyright .*")
  lu.assertEquals(#rl, 1)
  lu.assertEquals(gl[1], rl[1])
  lu.assertStrMatches(gl[2], "pmlua %d+%.%d+%.%d+ %(pmem module%)")
  lu.assertEquals(#gl, 2)
  lu.assertEquals(got.code, 0)
  lu.assertEquals(got.err, "")
end

function TestVersion:test_v_once_and_first()
  local ref = both("-e 'print(1)' -v -v", { banner = true })
  lu.assertStrMatches(ref.out, "Lua 5%.4[^\n]*\n1\n")
end

function TestVersion:test_v_does_not_read_stdin()
  local ref = both("-v", { stdin = "print('stdin')\n", banner = true })
  lu.assertNotStrContains(ref.out, "stdin")
end

---------------------------------------------------------------------------
TestEnvironment = {}

function TestEnvironment:test_E_ignores_LUA_INIT()
  local ref = both("-E -e 'print(2)'", { env = { LUA_INIT = "print(1)" } })
  lu.assertEquals(ref.out, "2\n")
end

function TestEnvironment:test_E_ignores_LUA_PATH_and_LUA_CPATH()
  local env = { LUA_PATH = MODDIR .. "/?.lua", LUA_CPATH = MODDIR .. "/?.so" }
  local ref = both("-e 'print(package.path, package.cpath)'", { env = env })
  lu.assertEquals(ref.out, env.LUA_PATH .. "\t" .. env.LUA_CPATH .. "\n")
  ref = both("-E -e 'print(package.path, package.cpath)'", { env = env })
  lu.assertNotStrContains(ref.out, MODDIR)
  ref = both("-E -l mm", { env = env })
  lu.assertEquals(ref.code, 1)
  lu.assertStrContains(ref.err, "module 'mm' not found")
end

function TestEnvironment:test_LUA_INIT_code()
  local ref = both("-e 'print(2, X)'", { env = { LUA_INIT = "X = 'x' print(1)" } })
  lu.assertEquals(ref.out, "1\n2\tx\n")
end

function TestEnvironment:test_LUA_INIT_file()
  local ref = both("-e 'print(INITED)'", { env = { LUA_INIT = "@init.lua" } })
  lu.assertEquals(ref.out, "init file\t0\ntrue\n")
  ref = both("-e 'print(2)'", { env = { LUA_INIT = "@nosuchfile" } })
  lu.assertEquals(ref.code, 1)
  lu.assertEquals(ref.out, "")
  lu.assertStrContains(ref.err, "PROG: cannot open nosuchfile")
end

function TestEnvironment:test_LUA_INIT_5_4_first()
  local ref = both("-e 'print(2)'",
                   { env = { LUA_INIT_5_4 = "print('five four')", LUA_INIT = "print('plain')" } })
  lu.assertEquals(ref.out, "five four\n2\n")
  ref = both("-e 'print(2)'", { env = { LUA_INIT_5_4 = "", LUA_INIT = "print('plain')" } })
  lu.assertEquals(ref.out, "2\n")
end

function TestEnvironment:test_LUA_INIT_error()
  local ref = both("-e 'print(2)'", { env = { LUA_INIT = "error('ie')" } })
  lu.assertEquals(ref.code, 1)
  lu.assertEquals(ref.out, "")
  lu.assertStrContains(ref.err, "PROG: LUA_INIT:1: ie\nstack traceback:\n")
  ref = both("-e 'print(2)'", { env = { LUA_INIT_5_4 = "x =" } })
  lu.assertEquals(ref.err, "PROG: LUA_INIT_5_4:1: unexpected symbol near <eof>\n")
end

function TestEnvironment:test_LUA_INIT_sees_arg()
  local ref = both("args.lua Q", { env = { LUA_INIT = "print('init', arg[1])" } })
  lu.assertStrContains(ref.out, "init\tQ\n")
end

---------------------------------------------------------------------------
TestWarnings = {}

function TestWarnings:test_W()
  local ref = both("-W -e 'warn(\"hi\")' -e 'warn(\"a\", \"b\")'")
  lu.assertEquals(ref.err, "Lua warning: hi\nLua warning: ab\n")
end

function TestWarnings:test_off_by_default()
  local ref = both("-e 'warn(\"hi\")' -e 'print(1)'")
  lu.assertEquals(ref.err, "")
  lu.assertEquals(ref.out, "1\n")
end

function TestWarnings:test_on_from_code()
  local ref = both("-e 'warn(\"@on\") warn(\"x\") warn(\"@off\") warn(\"y\")'")
  lu.assertEquals(ref.err, "Lua warning: x\n")
end

---------------------------------------------------------------------------
TestStdin = {}

local STDIN_SCRIPT = "print('from stdin', select('#', ...), ...)\nprint(arg[0], arg[-1])\n"

function TestStdin:test_dash_with_args()
  local ref = both("- a b", { stdin = STDIN_SCRIPT })
  lu.assertEquals(ref.out, "from stdin\t2\ta\tb\n-\tPROG\n")
end

function TestStdin:test_no_arguments_and_no_tty()
  local ref = both("", { stdin = STDIN_SCRIPT })
  lu.assertEquals(ref.out, "from stdin\t0\nPROG\tnil\n")
end

function TestStdin:test_options_that_still_read_stdin()
  both("-W", { stdin = STDIN_SCRIPT })
  local ref = both("-l string", { stdin = STDIN_SCRIPT })
  lu.assertStrContains(ref.out, "from stdin\t0\n")
end

function TestStdin:test_error_statuses()
  -- lua5.4 5.4.4 ignores an error in stdin read without any argument
  local ref = both("", { stdin = "error('e')\n" })
  lu.assertEquals(ref.code, 0)
  lu.assertStrContains(ref.err, "PROG: stdin:1: e\n")
  ref = both("-", { stdin = "error('e')\n" })
  lu.assertEquals(ref.code, 1)
end

function TestStdin:test_double_dash()
  local ref = both("-- args.lua -e")
  lu.assertStrContains(ref.out, "-1\t--\n0\targs.lua\n1\t-e\n")
  ref = both("-- -", { stdin = STDIN_SCRIPT })
  lu.assertEquals(ref.code, 1)
  lu.assertStrContains(ref.err, "PROG: cannot open -")
  ref = both("--", { stdin = STDIN_SCRIPT })
  lu.assertStrContains(ref.out, "from stdin\t0\n")
end

---------------------------------------------------------------------------
TestExit = {}

function TestExit:test_statuses()
  local cases = {
    { "-e 'print(1)'", 0 }, { "-e 'error(1)'", 1 }, { "-e 'os.exit(3)'", 3 },
    { "-e 'os.exit(true)'", 0 }, { "-e 'os.exit(false)'", 1 },
    { "-e 'os.exit(5, true)'", 5 }, { "exit7.lua", 7 },
  }
  for _, c in ipairs(cases) do
    local ref = both(c[1])
    lu.assertEquals(ref.code, c[2], c[1])
  end
end

function TestExit:test_os_exit_flushes_output()
  local ref = both("exit7.lua")
  lu.assertEquals(ref.out, "before")
end

function TestExit:test_sigint_interrupts()
  -- a background job of sh starts with SIGINT ignored: the interpreter must
  -- install its own handler; kill is repeated until the process is gone
  local function interrupted(prog)
    local out, _, err = helper.run_cmd("sh -c " .. q(q(prog) .. " -e 'while true do end' & pid=$!; "
      .. "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.3; kill -INT $pid 2>/dev/null || break; done; "
      .. "wait $pid; echo status=$?"))
    return { out = out, err = (err:gsub(progpat(prog), "PROG")) }
  end
  local ref, got = interrupted(LUA54), interrupted(PMLUA)
  lu.assertEquals(ref.out, "status=1\n")
  lu.assertEquals(got.out, ref.out)
  lu.assertStrContains(ref.err, "PROG: interrupted!\nstack traceback:\n")
  lu.assertEquals(got.err, ref.err)
end

---------------------------------------------------------------------------
TestErrors = {}

function TestErrors:test_traceback()
  local ref = both("nested.lua")
  lu.assertEquals(ref.code, 1)
  lu.assertStrContains(ref.err, "PROG: nested.lua:1: deep\nstack traceback:\n"
    .. "\t[C]: in function 'error'\n\tnested.lua:1: in upvalue 'inner'\n")
  lu.assertStrContains(ref.err, "\tnested.lua:3: in main chunk\n\t[C]: in ?\n")
end

function TestErrors:test_error_objects()
  local ref = both("-e 'error({})'")
  lu.assertStrContains(ref.err, "PROG: (error object is a table value)\nstack traceback:\n")
  ref = both("-e 'error()'")
  lu.assertStrContains(ref.err, "PROG: (error object is a nil value)\n")
  ref = both("-e 'error(42)'")
  lu.assertStrContains(ref.err, "PROG: 42\nstack traceback:\n")
  ref = both("-e 'error(setmetatable({}, {__tostring = function() return \"TS\" end}))'")
  lu.assertEquals(ref.err, "PROG: TS\n")
  lu.assertEquals(ref.code, 1)
end

---------------------------------------------------------------------------
TestUsage = {}

function TestUsage:test_bad_options()
  local cases = {
    { "-h", "unrecognized option '-h'" }, { "-x foo.lua", "unrecognized option '-x'" },
    { "-ix", "unrecognized option '-ix'" }, { "-vx", "unrecognized option '-vx'" },
    { "--x", "unrecognized option '--x'" }, { "-Ex", "unrecognized option '-Ex'" },
    { "-e", "'-e' needs argument" }, { "-l", "'-l' needs argument" },
    { "-e -v", "'-e' needs argument" }, { "-v -l -", "'-l' needs argument" },
  }
  for _, c in ipairs(cases) do
    local ref = both(c[1] .. " -e 'print(1)'")
    lu.assertEquals(ref.code, 1, c[1])
    lu.assertEquals(ref.out, "", c[1])
    lu.assertStrContains(ref.err, "PROG: " .. c[2] .. "\nusage: PROG [options] [script [args]]\n")
    lu.assertStrContains(ref.err, "  -         stop handling options and execute stdin\n")
  end
end

function TestUsage:test_options_after_script_are_arguments()
  local ref = both("args.lua -x -e")
  lu.assertEquals(ref.code, 0)
  lu.assertStrContains(ref.out, "1\t-x\n2\t-e\n")
end

---------------------------------------------------------------------------
TestPmem = {}

function TestPmem:test_global_is_required_module()
  local r = run(PMLUA, "-e "
    .. q("print(type(pmem), require('pmem') == pmem, package.loaded.pmem == pmem)"))
  lu.assertEquals(r.err, "")
  lu.assertEquals(r.code, 0)
  lu.assertEquals(r.out, "table\ttrue\ttrue\n")
end

function TestPmem:test_preloaded_with_E_and_in_LUA_INIT()
  local r = run(PMLUA, "-e " .. q("print(type(package.preload.pmem), type(pmem))"),
                { env = { LUA_INIT = "print(type(pmem))" } })
  lu.assertEquals(r.out, "table\nfunction\ttable\n")
  lu.assertEquals(r.code, 0)
  r = run(PMLUA, "-E -l p=pmem -e " .. q("print(p == pmem, type(pmem))"),
          { env = { LUA_PATH = "/nonexistent/?.lua", LUA_CPATH = "/nonexistent/?.so" } })
  lu.assertEquals(r.out, "true\ttable\n")
  lu.assertEquals(r.code, 0)
end

function TestPmem:test_stock_lua_loads_module()
  local dir = helper.PMEM_SO_DIR
  if dir == nil or dir == "" then
    lu.skip("PMEM_SO_DIR is empty (sanitizer build has no pmem.so): stock lua5.4 load not tested")
  end
  local out, code, err = helper.run_cmd("env LUA_CPATH=" .. q(dir .. "/?.so") .. " "
    .. q(LUA54) .. " -e " .. q('local p = require "pmem"; print(type(p.open))'))
  lu.assertEquals(err, "")
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "function\n")
end

os.exit(lu.LuaUnit.run())
