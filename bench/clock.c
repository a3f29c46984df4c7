/*
** clock.c -- `bench_clock`, a tiny Lua module giving bench.lua the same two
** clocks c_baseline.c reads: wall() is CLOCK_MONOTONIC and cpu() is
** CLOCK_PROCESS_CPUTIME_ID, both in seconds as floats.
**
** Lua has only os.clock (CPU time, the same as cpu() here) and os.time (whole
** seconds). CPU time misses the time a transaction spends blocked in msync on
** an ordinary file, so the ratios are computed from wall time; this module is
** loaded by pmlua (which exports the Lua API) through package.cpath. It is
** built by bench/run.sh, never by the Makefile, and is not part of pmlua.
*/
#define _GNU_SOURCE
#include <time.h>

#include <lua.h>
#include <lauxlib.h>

static int clk_read(lua_State *L, clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
	return 1;
}

static int clk_wall(lua_State *L) { return clk_read(L, CLOCK_MONOTONIC); }
static int clk_cpu(lua_State *L) { return clk_read(L, CLOCK_PROCESS_CPUTIME_ID); }

__attribute__((visibility("default"))) int luaopen_bench_clock(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{"wall", clk_wall},
		{"cpu", clk_cpu},
		{NULL, NULL},
	};
	luaL_newlib(L, funcs);
	return 1;
}
