/*
** pml_fault.h -- bus errors in open pools' mappings (a pool file truncated
** or replaced by another program while open): a message naming the pool
** instead of a bare SIGBUS. Process-wide; core layer, no Lua.
*/
#ifndef pml_fault_h
#define pml_fault_h

#include <stdint.h>

/* watch [base, base+size), the mapping of the pool at path (the first
   call installs the SIGBUS handler; up to 64 pools are named) */
void pml_fault_watch(const void *base, uint64_t size, const char *path);
/* stop watching the mapping at base (before it is unmapped) */
void pml_fault_unwatch(const void *base);

#endif
