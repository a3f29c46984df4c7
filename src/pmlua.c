/*
** pmlua.c -- the pmlua host program (top layer).
**
** A standalone Lua 5.4 interpreter with the command line of lua5.4 (see the
** Lua 5.4 manual, section 7): 'pmlua [options] [script [args]]', the global
** 'arg', LUA_INIT, the same messages on stderr and the same exit statuses.
** What it adds: the pmem module is preloaded (package.preload["pmem"]) and
** required into the global 'pmem' before anything else runs.
**
** This file owns the command line, the protected calls with their tracebacks,
** SIGINT handling and the interactive loop (GNU readline). It knows nothing of
** pools: the module is reached only through luaopen_pmem (lpmem.h).
*/

#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L	/* sigaction, isatty */
#endif

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/readline.h>
#include <readline/history.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "lpmem.h"

#define PMLUA_NAME	"pmlua"	/* program name when argv[0] is missing */
#define PMLUA_PROMPT	"> "	/* default prompts, as lua5.4 */
#define PMLUA_PROMPT2	">> "

/* name put before messages on stderr; NULL inside the interactive loop */
static const char *progname = PMLUA_NAME;


/*
** {======================================================================
** Messages
** =======================================================================
*/

/* msg_error -- write "name: msg" (or just "msg" without a name) to stderr */
static void msg_error (const char *name, const char *msg) {
  if (name != NULL)
    fprintf(stderr, "%s: ", name);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

/* msg_report -- if status is an error, print and pop the message on top */
static int msg_report (lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) {  /* not from run_handler: raised by host_main itself */
      msg = lua_pushfstring(L, "(error object is a %s value)",
                            luaL_typename(L, -1));
      lua_remove(L, -2);
    }
    msg_error(progname, msg);
    lua_pop(L, 1);
  }
  return status;
}

/* msg_version -- print the Lua copyright line and the pmlua line */
static void msg_version (void) {
  fputs(LUA_COPYRIGHT "\n", stdout);
  fputs(PMLUA_NAME " " PML_VERSION " (pmem module)\n", stdout);
  fflush(stdout);
}

/* msg_usage -- complain about argument 'bad' and list the options */
static void msg_usage (const char *bad) {
  if (bad[1] == 'e' || bad[1] == 'l')  /* only these two can be incomplete */
    fprintf(stderr, "%s: '%s' needs argument\n", progname, bad);
  else
    fprintf(stderr, "%s: unrecognized option '%s'\n", progname, bad);
  fprintf(stderr,
    "usage: %s [options] [script [args]]\n"
    "Available options are:\n"
    "  -e stat   execute string 'stat'\n"
    "  -i        enter interactive mode after executing 'script'\n"
    "  -l mod    require library 'mod' into global 'mod'\n"
    "  -l g=mod  require library 'mod' into global 'g'\n"
    "  -v        show version information\n"
    "  -E        ignore environment variables\n"
    "  -W        turn warnings on\n"
    "  --        stop handling options\n"
    "  -         stop handling options and execute stdin\n",
    progname);
  fflush(stderr);
}

/* }====================================================================== */


/*
** {======================================================================
** Protected calls
** A first SIGINT during a call makes the running code raise "interrupted!"
** at its next instruction; a second one kills the process as usual.
** =======================================================================
*/

static lua_State *sig_state = NULL;	/* the state a SIGINT interrupts */

/* sig_set -- install handler 'h' for signal 'sig' */
static void sig_set (int sig, void (*h) (int)) {
  struct sigaction sa;
  sa.sa_handler = h;
  sa.sa_flags = 0;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

/* sig_hook -- debug hook set by sig_catch: raise the interruption error */
static void sig_hook (lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* sig_catch -- SIGINT handler: lua_sethook is the one async-signal-safe call */
static void sig_catch (int sig) {
  sig_set(sig, SIG_DFL);  /* a second SIGINT terminates the process */
  lua_sethook(sig_state, sig_hook,
              LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

#ifdef PML_DEBUG
/* the allocator luaL_newstate gave, and the one debug builds put before it:
   an allocation inside a change window aborts (lpmem_in_window) */
static lua_Alloc base_alloc;
static void *base_ud;

static void *window_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  if (nsize > 0 && lpmem_in_window()) {
    fprintf(stderr, "pmlua (debug): a Lua allocation inside a change window\n");
    abort();
  }
  return base_alloc(ud, ptr, osize, nsize);
}

static void watch_window(lua_State *L) {
  base_alloc = lua_getallocf(L, &base_ud);
  lua_setallocf(L, window_alloc, base_ud);
}
#endif

/*
** run_handler -- message handler: the error text plus a traceback. An error
** object that is not a string is shown through its __tostring (then without
** traceback), or by its type.
*/
static int run_handler (lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)",
                          luaL_typename(L, 1));
  }
  if (lpmem_pushtraceback(L, 1))          /* raised inside a pool:transaction */
    lua_pushfstring(L, "%s\n%s", msg, lua_tostring(L, -1));
  else
    luaL_traceback(L, L, msg, 1);
  return 1;
}

/* run_call -- call the function below 'narg' arguments under run_handler */
static int run_call (lua_State *L, int narg, int nres) {
  int status;
  int func = lua_gettop(L) - narg;
  lua_pushcfunction(L, run_handler);
  lua_insert(L, func);  /* handler goes below the function */
  sig_state = L;
  sig_set(SIGINT, sig_catch);
  status = lua_pcall(L, narg, nres, func);
  sig_set(SIGINT, SIG_DFL);
  lua_remove(L, func);
  return status;
}

/* run_loaded -- call a chunk whose load gave 'status'; report any error */
static int run_loaded (lua_State *L, int status) {
  if (status == LUA_OK)
    status = run_call(L, 0, 0);
  return msg_report(L, status);
}

/* run_file -- run file 'name' (stdin when NULL) without arguments */
static int run_file (lua_State *L, const char *name) {
  return run_loaded(L, luaL_loadfile(L, name));
}

/* run_string -- run the code 's' as a chunk called 'chunkname' */
static int run_string (lua_State *L, const char *s, const char *chunkname) {
  return run_loaded(L, luaL_loadbuffer(L, s, strlen(s), chunkname));
}

/* run_require -- option -l: 'mod' into global mod, 'g=mod' into global g */
static int run_require (lua_State *L, const char *spec) {
  int status;
  const char *eq = strchr(spec, '=');
  const char *mod = (eq != NULL) ? eq + 1 : spec;
  size_t glen = (eq != NULL) ? (size_t)(eq - spec) : strlen(spec);
  const char *global = lua_pushlstring(L, spec, glen);
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  status = run_call(L, 1, 1);
  if (status == LUA_OK)
    lua_setglobal(L, global);
  msg_report(L, status);
  lua_pop(L, 1);  /* the global's name */
  return status;
}

/* }====================================================================== */


/*
** {======================================================================
** Command line
** =======================================================================
*/

#define CL_EXEC		1	/* -e seen */
#define CL_INTER	2	/* -i seen */
#define CL_VERSION	4	/* -v seen (or implied by -i) */
#define CL_NOENV	8	/* -E seen */

typedef struct CmdLine {
  int flags;	/* CL_* */
  int script;	/* argv index of the script; argc when there is none */
  int bad;	/* argv index of a malformed option, 0 if none */
} CmdLine;

/* cl_plain -- does option 'a' (one letter) stand alone, without extra text? */
static int cl_plain (const char *a) {
  return a[2] == '\0';
}

/*
** cl_scan -- classify the arguments. Options end at the first argument not
** starting with '-', at "-" (the script is stdin) or after "--". On a
** malformed option, 'bad' is its index (for -e and -l: of the option itself).
*/
static void cl_scan (int argc, char **argv, CmdLine *cl) {
  int i;
  cl->flags = 0;
  cl->bad = 0;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    int ok;
    if (a[0] != '-' || a[1] == '\0')
      break;  /* the script, or "-" */
    switch (a[1]) {
      case '-': ok = cl_plain(a); break;
      case 'E': ok = cl_plain(a); cl->flags |= CL_NOENV; break;
      case 'W': ok = cl_plain(a); break;
      case 'i': ok = cl_plain(a); cl->flags |= CL_INTER | CL_VERSION; break;
      case 'v': ok = cl_plain(a); cl->flags |= CL_VERSION; break;
      case 'e': case 'l':
        if (a[1] == 'e')
          cl->flags |= CL_EXEC;
        ok = !cl_plain(a) ||  /* "-estat", or "-e stat" */
             (i + 1 < argc && argv[i + 1][0] != '-');
        if (ok && cl_plain(a))
          i++;
        break;
      default: ok = 0; break;
    }
    if (!ok) {
      cl->bad = i;
      return;
    }
    if (a[1] == '-') {  /* "--": the script, if any, follows */
      i++;
      break;
    }
  }
  cl->script = (i < argc) ? i : argc;  /* argc may be 0 */
}

/*
** cl_argtable -- the global 'arg': the script at index 0, its arguments at
** 1.., the interpreter and its options at negative indices. Without a script
** the interpreter's name is at 0 and everything else follows it.
*/
static void cl_argtable (lua_State *L, int argc, char **argv, int script) {
  int i;
  if (script == argc)
    script = 0;
  lua_createtable(L, argc - script - 1, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* cl_options -- run -e, -l and -W in command-line order, up to argv[n] */
static int cl_options (lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    char opt = argv[i][1];
    if (opt == 'e' || opt == 'l') {
      const char *val = (argv[i][2] != '\0') ? argv[i] + 2 : argv[++i];
      int status = (opt == 'e') ? run_string(L, val, "=(command line)")
                                : run_require(L, val);
      if (status != LUA_OK)
        return 0;
    }
    else if (opt == 'W')
      lua_warning(L, "@on", 0);
  }
  return 1;
}

/* cl_pushargs -- push arg[1..#arg] (read back from the global) for the script */
static int cl_pushargs (lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++)
    lua_rawgeti(L, -i, i);
  lua_remove(L, -i);  /* the table */
  return n;
}

/* cl_script -- run the script at argv[0]; "-" means stdin unless after "--" */
static int cl_script (lua_State *L, char **argv) {
  const char *name = argv[0];
  int status;
  if (strcmp(name, "-") == 0 && strcmp(argv[-1], "--") != 0)
    name = NULL;
  status = luaL_loadfile(L, name);
  if (status == LUA_OK)
    status = run_call(L, cl_pushargs(L), LUA_MULTRET);
  return msg_report(L, status);
}

/* cl_luainit -- run LUA_INIT_5_4, else LUA_INIT: "@file" or Lua code */
static int cl_luainit (lua_State *L) {
  const char *name = "LUA_INIT" LUA_VERSUFFIX;
  const char *code = getenv(name);
  int status;
  if (code == NULL) {
    name = "LUA_INIT";
    code = getenv(name);
  }
  if (code == NULL)
    return LUA_OK;
  if (code[0] == '@')
    return run_file(L, code + 1);
  lua_pushfstring(L, "=%s", name);  /* chunk name: errors say "LUA_INIT:1:" */
  status = run_string(L, code, lua_tostring(L, -1));
  lua_pop(L, 1);
  return status;
}

/* }====================================================================== */


/*
** {======================================================================
** Interactive loop
** A line is first tried as an expression ("return line;") whose values are
** printed; otherwise as a statement, reading continuation lines while the
** only complaint of the parser is the end of the input.
** =======================================================================
*/

/* repl_prompt -- push the prompt: tostring(_PROMPT or _PROMPT2), or default */
static const char *repl_prompt (lua_State *L, int first) {
  if (lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
    lua_pop(L, 1);
    return lua_pushstring(L, first ? PMLUA_PROMPT : PMLUA_PROMPT2);
  }
  luaL_tolstring(L, -1, NULL);
  lua_remove(L, -2);
  return lua_tostring(L, -1);
}

/*
** repl_readline -- read one line with readline and push it; 0 at end of
** input. A first line "=expr" is read as "return expr" (Lua 5.2 habit).
*/
static int repl_readline (lua_State *L, int first) {
  char *line = readline(repl_prompt(L, first));
  lua_pop(L, 1);  /* the prompt */
  if (line == NULL)
    return 0;
  if (first && line[0] == '=')
    lua_pushfstring(L, "return %s", line + 1);
  else
    lua_pushstring(L, line);
  free(line);
  return 1;
}

/* repl_incomplete -- is 'status' a syntax error at <eof> (more to read)? */
static int repl_incomplete (lua_State *L, int status) {
  static const char eof[] = "<eof>";
  size_t len, elen = sizeof(eof) - 1;
  const char *msg;
  if (status != LUA_ERRSYNTAX)
    return 0;
  msg = lua_tolstring(L, -1, &len);
  return len >= elen && strcmp(msg + len - elen, eof) == 0;
}

/* repl_expression -- compile the line on top as "return line;" */
static int repl_expression (lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *code = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, code, strlen(code), "=stdin");
  if (status != LUA_OK) {
    lua_pop(L, 2);  /* the message and the code; the line stays */
    return status;
  }
  lua_remove(L, -2);  /* the code */
  if (line[0] != '\0')
    add_history(line);
  return LUA_OK;
}

/*
** repl_statement -- compile the text on top, reading more lines as needed.
** At end of input inside an unfinished statement the syntax error is kept
** and reported (lua5.4 5.4.4 prints "(null)" there instead).
*/
static int repl_statement (lua_State *L) {
  for (;;) {
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    int status = luaL_loadbuffer(L, text, len, "=stdin");
    if (!repl_incomplete(L, status) || !repl_readline(L, 0)) {
      add_history(text);
      return status;
    }
    lua_remove(L, -2);  /* the message */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);  /* text .. "\n" .. new line */
  }
}

/*
** repl_load -- read and compile one input; leaves exactly the function (or
** the error message) on an empty stack. -1 at end of input.
*/
static int repl_load (lua_State *L) {
  int status;
  lua_settop(L, 0);
  if (!repl_readline(L, 1))
    return -1;
  status = repl_expression(L);
  if (status != LUA_OK)
    status = repl_statement(L);
  lua_remove(L, 1);  /* the input text */
  return status;
}

/* repl_print -- print every value on the stack with the global 'print' */
static void repl_print (lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0)
    return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  lua_getglobal(L, "print");
  lua_insert(L, 1);
  if (lua_pcall(L, n, 0, 0) != LUA_OK)
    msg_error(progname, lua_pushfstring(L, "error calling 'print' (%s)",
                                        lua_tostring(L, -1)));
}

/* repl_run -- the read-eval-print loop; errors are shown without a name */
static void repl_run (lua_State *L) {
  int status;
  const char *saved = progname;
  progname = NULL;
  rl_readline_name = "lua";  /* inputrc sections written for lua apply */
  while ((status = repl_load(L)) != -1) {
    if (status == LUA_OK)
      status = run_call(L, 0, LUA_MULTRET);
    if (status == LUA_OK)
      repl_print(L);
    else
      msg_report(L, status);
  }
  lua_settop(L, 0);
  fputs("\n", stdout);
  fflush(stdout);
  progname = saved;
}

/* }====================================================================== */


/*
** {======================================================================
** Startup
** =======================================================================
*/

/*
** host_pmem -- preload the pmem module and require it into global 'pmem'.
** Lua is linked in statically, so the module may read its arguments
** straight from Lua's stack once proved (lpmem_peek_enable); PMLUA_API_READS
** set in the environment keeps every read on the C API.
*/
static int host_pmem (lua_State *L) {
  int status;
  if (getenv("PMLUA_API_READS") == NULL)
    lpmem_peek_enable(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_pmem);
  lua_setfield(L, -2, "pmem");
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "pmem");
  status = run_call(L, 1, 1);
  if (status == LUA_OK)
    lua_setglobal(L, "pmem");
  return msg_report(L, status);
}

/*
** host_main -- everything the interpreter does, in protected mode; returns
** true when all went well. Order as lua5.4: options checked, version, -E,
** libraries (and pmem), 'arg', LUA_INIT, -e/-l/-W, script, REPL or stdin.
*/
static int host_main (lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  CmdLine cl = { 0 };
  luaL_checkversion(L);
  if (argc > 0 && argv[0][0] != '\0')
    progname = argv[0];
  if (argc < 1)  /* no program name at all: act as with no arguments */
    argc = 0;
  cl_scan(argc, argv, &cl);
  lua_settop(L, 0);
  if (cl.bad) {
    msg_usage(argv[cl.bad]);
    return 0;
  }
  if (cl.flags & CL_VERSION)
    msg_version();
  if (cl.flags & CL_NOENV) {  /* the package library reads this flag */
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  if (host_pmem(L) != LUA_OK)
    return 0;
  if (argc > 0)
    cl_argtable(L, argc, argv, cl.script);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);  /* lua5.4 5.4.4 runs in generational mode */
  if (!(cl.flags & CL_NOENV) && cl_luainit(L) != LUA_OK)
    return 0;
  if (!cl_options(L, argv, cl.script))
    return 0;
  if (cl.script < argc && cl_script(L, argv + cl.script) != LUA_OK)
    return 0;
  if (cl.flags & CL_INTER)
    repl_run(L);
  else if (cl.script == argc && !(cl.flags & (CL_EXEC | CL_VERSION))) {
    if (isatty(STDIN_FILENO)) {
      msg_version();
      repl_run(L);
    }
    else
      run_file(L, NULL);  /* as lua5.4: an error here still exits with 0 */
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* main -- create the state and run host_main under lua_pcall */
int main (int argc, char **argv) {
  int status, ok;
  lpmem_trial_host(argc, argv, "/proc/self/exe");  /* see pml_pool.c's trial */
  lua_State *L = luaL_newstate();
#ifdef PML_DEBUG
  if (L != NULL) watch_window(L);
#endif
  if (L == NULL) {
    msg_error(argc > 0 ? argv[0] : PMLUA_NAME,
              "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_gc(L, LUA_GCSTOP);  /* no collection while the state is being built */
  lua_pushcfunction(L, host_main);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  ok = lua_toboolean(L, -1);
  msg_report(L, status);
  lua_close(L);
  return (ok && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* }====================================================================== */
