/*
** lb_peek.h -- the arguments of the running C function, read straight
** from Lua's stack: the read fast paths of pmlua (binding layer).
**
** Through the C API, t.k and l[i] cost four calls (lua_touserdata, two to
** read the key, one to push the value) on top of the VM's metamethod call,
** which already leaves a plain-table read 3x faster; read here they cost
** none but the push. This uses what every Lua 5.4 release (5.4.0 to 5.4.7)
** keeps on LP64 targets: lua_State.top at byte 16 and lua_State.ci at byte
** 32, CallInfo.func at byte 0, and stack slots of 16 bytes (an 8-byte
** value, then a 1-byte type tag) with argument i of a C function at
** func[i]; a full userdata with n >= 1 user values has its user-value count
** (unsigned short) at byte 10 of its object, its size (size_t) at byte 16,
** and its memory at byte 40 + 16 n.
**
** It is used only where lpmem_peek_enable proved it: the pmlua host calls it
** at startup (Lua is linked into pmlua statically, so the layout it proved
** cannot change under it). pmem.so in another interpreter never turns it
** on and reads through the C API: same results, slower.
**
** Invariant for every use: only slots below top are read, so only live
** arguments; a slot's value is used only as its tag says, and a userdata's
** memory only after its header gave the expected size and user values.
*/
#ifndef lb_peek_h
#define lb_peek_h

#include <stddef.h>
#include <string.h>

#include "lua.h"

#if LUA_VERSION_NUM != 504
#error "lb_peek.h knows Lua 5.4's stack only"
#endif

/* one stack slot (it aliases Lua's own type for it) */
#if defined(__GNUC__)
#define LB_MAY_ALIAS  __attribute__((may_alias))
#else
#define LB_MAY_ALIAS
#endif
typedef struct LB_MAY_ALIAS lb_Slot {
  union { void *p; lua_Integer i; lua_Number n; } v;
  unsigned char tt;         /* type tag with variant bits and collectable bit */
} lb_Slot;

_Static_assert(sizeof(lb_Slot) == 16, "a Lua 5.4 stack slot is 16 bytes on LP64");
_Static_assert(sizeof(void *) == 8, "lb_peek.h knows LP64 targets only");

#define LB_TAG_INT      0x03   /* integer */
#define LB_TAG_FLT      0x13   /* float */
#define LB_TAG_SHRSTR   0x44   /* short string (collectable) */
#define LB_TAG_UDATA    0x47   /* full userdata (collectable) */
#define LB_COLLECTABLE  0x40

/* set by lpmem_peek_enable: the layout above holds in this process */
extern int lb_peek_on;

/* prove the layout on this build and turn the fast paths on; 1 if on */
int lpmem_peek_enable(lua_State *L);

/* the running C function's slot (argument i is [i]) */
static inline const lb_Slot *lb_peek_func(lua_State *L) {
  const char *ci = *(char *const *)((const char *)L + 32);
  return *(const lb_Slot *const *)ci;
}

/* the first free slot */
static inline const lb_Slot *lb_peek_top(lua_State *L) {
  return *(const lb_Slot *const *)((const char *)L + 16);
}

/* lb_peek_udata -- the memory of the full userdata in slot a, if it has
   exactly len bytes and nuv (>= 1) user values; else NULL */
static inline void *lb_peek_udata(const lb_Slot *a, size_t len, unsigned nuv) {
  if (a->tt != LB_TAG_UDATA) return NULL;
  char *u = a->v.p;
  unsigned short n;
  size_t l;
  memcpy(&n, u + 10, sizeof n);
  memcpy(&l, u + 16, sizeof l);
  return n == nuv && l == len ? u + 40 + 16 * (size_t)nuv : NULL;
}

#endif
