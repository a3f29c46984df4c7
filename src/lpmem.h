/*
** lpmem.h -- the pmem Lua module's public interface, for a host that
** embeds it: luaopen_pmem and the calls for hosts (the binding's own
** names start with lb_, the core's with pml_; see docs/internals.md).
** It needs Lua's headers only; make install puts it in
** PREFIX/include/pmlua/ (docs/reference.md, section 10).
*/
#ifndef lpmem_h
#define lpmem_h

#include "lua.h"

#define PML_VERSION "0.1.0"

/* open the pmem module: returns its table (for require and package.preload).
   Exported from pmem.so although the build hides every other symbol. */
__attribute__((visibility("default"))) int luaopen_pmem(lua_State *L);

/* for a host that links Lua statically (pmlua): prove Lua's stack layout
   and let the read paths take their arguments straight from the stack
   (lb_peek.h); 1 if on. Without it reads go through the C API. Linked
   into pmlua only: pmem.so does not export it. */
int lpmem_peek_enable(lua_State *L);

/* for a host's message handler: if the error value at idx escaped a
   pool:transaction, push the traceback of where it was raised (the stack
   the handler sees ends at the transaction) and return 1; else 0 */
__attribute__((visibility("default"))) int lpmem_pushtraceback(lua_State *L, int idx);

/* for a host that can start itself again (pmlua): at the top of main,
   before anything else, run the trial open of a pool if argv asks for it
   (the call does not return then); and spawn exe for trial opens instead
   of forking the host */
__attribute__((visibility("default"))) void lpmem_trial_host(int argc, char **argv,
                                                             const char *exe);

#ifdef PML_DEBUG
/* debug builds: is a change window open (no Lua allocation allowed)? */
int lpmem_in_window(void);
#endif

#endif
