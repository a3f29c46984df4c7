/*
** bench_sys.c -- `bench_sys`, the system calls bench/compare.lua needs and
** plain Lua lacks. Built by bench/run.sh (like bench_clock), never by the
** Makefile, and not part of pmlua.
**
**   bench_sys.fsync(file)      fsync(2) of a Lua file handle (io.open's), after
**                              its buffer was flushed; true, or nil, message
**   bench_sys.fsync_dir(path)  open the directory and fsync it, so that a rename
**                              into it is durable; true, or nil, message
**   bench_sys.spawn(argv)      posix_spawnp argv[1] with arguments argv[2..]
**                              (the environment is the caller's, stdin and
**                              stdout /dev/null), wait for it; its exit status,
**                              or -signal
**
** A Lua programmer gets the first two from luaposix (posix.unistd.fsync); the
** third replaces os.execute, whose /bin/sh would add its own start-up to the
** "start a process, open, read one value, exit" figure.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

extern char **environ;

static int fail(lua_State *L, const char *what)
{
	int e = errno;
	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", what, strerror(e));
	return 2;
}

static int sys_fsync(lua_State *L)
{
	luaL_Stream *s = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
	if (s->closef == NULL || s->f == NULL)
		return luaL_argerror(L, 1, "closed file");
	if (fflush(s->f) != 0)
		return fail(L, "fflush");
	if (fsync(fileno(s->f)) != 0)
		return fail(L, "fsync");
	lua_pushboolean(L, 1);
	return 1;
}

static int sys_fsync_dir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(L, path);
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	if (rc != 0)
		return fail(L, "fsync(dir)");
	lua_pushboolean(L, 1);
	return 1;
}

static int sys_spawn(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer n = luaL_len(L, 1);
	luaL_argcheck(L, n >= 1 && n < 64, 1, "1 to 63 arguments");
	char *argv[64];
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, 1, i);
		argv[i - 1] = (char *)luaL_checkstring(L, -1);
		lua_pop(L, 1);	/* the table keeps the string alive */
	}
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		errno = rc;
		return fail(L, argv[0]);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return fail(L, "waitpid");
	lua_pushinteger(L, WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
	return 1;
}

__attribute__((visibility("default"))) int luaopen_bench_sys(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{"fsync", sys_fsync},
		{"fsync_dir", sys_fsync_dir},
		{"spawn", sys_spawn},
		{NULL, NULL},
	};
	luaL_newlib(L, funcs);
	return 1;
}
