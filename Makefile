# pmlua -- build, test, run, install.
#
#   make            build/pmlua, build/pmem.so, build/pmtool
#   make run        install deps, build, play the examples
#   make test       install deps, build, run every test; last line "N passed, M failed"
#   make check      the same tests under AddressSanitizer + UBSan, with the debug
#                   audits on (build/asan/)
#   make debug      the tests on a debug build (build/debug/): reference counts
#                   audited at every clean close, the change window watched
#                   for Lua allocations and raises, read-cache hits re-checked
#   make bench      speed ratios, and pmlua against SQLite, a rewritten file and
#                   plain Lua with a chart (docs/performance.md); QUICK=1: a smoke
#                   run in under a minute
#   make torture    the long proofs: power failures at every sync point, 1,000
#                   kill -9, 10,000 mutated pools, 2,000 damaged logs, the fuzzer
#                   under ASan+UBSan, memcheck, the heavy resource tests; one
#                   line of counts per suite (about 35 minutes on 2 cores)
#   make install    pmlua, pmtool, pmem.so, src/lpmem.h, the manual pages and the
#                   documents under DESTDIR and PREFIX (default /usr/local), each
#                   file listed in PREFIX/share/pmlua/manifest; CMODDIR: where
#                   pmem.so goes (default PREFIX/lib/lua/5.4; PREFIX=/usr:
#                   /usr/lib/<multiarch>/lua/5.4, as Debian's Lua modules)
#   make uninstall  the files that manifest lists (same DESTDIR and PREFIX), and
#                   the directories the installs made, once empty
#   make rock       what `luarocks make` runs (pmem-0.1.0-1.rockspec): pmem.so
#                   alone, in build/rock/, with the directories LuaRocks found
#   make vendor-check   build against vendor/ alone, check it, run a few tests (CI)
#
# VENDOR=1 (on the command line or in the environment), with any target: use only
# the Debian packages unpacked into vendor/root by scripts/deps.sh -- fetched even
# as root and even when the system has them -- and build in build/vendor/. It is
# the path taken without root, kept working by `make vendor-check` in .ci/run.

ifeq ($(VENDOR),1)
B        ?= build/vendor
endif
B        ?= build
PREFIX   ?= /usr/local
VROOT    := $(CURDIR)/vendor/root
MULTI    := $(or $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null),$(shell $(CC) -print-multiarch 2>/dev/null),x86_64-linux-gnu)
DEPSTAMP := $(B)/.deps
# Where Lua's and libpmemobj's headers and libraries are when the compiler's
# default paths and vendor/root do not have them: LuaRocks' names, which
# `luarocks make` passes (make takes them too).
LUA_INCDIR ?= /usr/include/lua5.4
EXTINCS  = $(if $(PMEMOBJ_INCDIR),-I$(PMEMOBJ_INCDIR))
EXTLIBS  = $(if $(PMEMOBJ_LIBDIR),-L$(PMEMOBJ_LIBDIR))

# vendor/root's paths. Its headers include lua5.4-deb-multiarch.h from
# usr/include/$(MULTI); Debian 12's libreadline8 still ships in lib/$(MULTI).
VLIBS    := $(VROOT)/usr/lib/$(MULTI):$(VROOT)/lib/$(MULTI)
VINCS    := -I$(VROOT)/usr/include -I$(VROOT)/usr/include/$(MULTI) -I$(VROOT)/usr/include/lua5.4
VLIBDIRS := -L$(VROOT)/usr/lib/$(MULTI) -L$(VROOT)/lib/$(MULTI) -Wl,-rpath-link,$(VLIBS)
# DT_RPATH rather than RUNPATH: it also serves libpmemobj's own dependencies
VRPATH   := -Wl,--disable-new-dtags -Wl,-rpath,$(VLIBS)

ifeq ($(VENDOR),1)
USE_VROOT   := 1
INCS        := $(VINCS)
LIBLUA_A    := $(VROOT)/usr/lib/$(MULTI)/liblua5.4.a
LUA         := $(VROOT)/usr/bin/lua5.4
LUAUNIT_DIR := $(VROOT)/usr/share/lua/5.4
else
# Resolved when used, after scripts/deps.sh ran: it writes "vendor" to $(DEPSTAMP)
# when, not root, it had to unpack missing packages into vendor/root.
USE_VROOT    = $(shell grep -qx vendor $(DEPSTAMP) 2>/dev/null && echo 1)
INCS         = -I$(LUA_INCDIR) $(EXTINCS) $(if $(USE_VROOT),$(VINCS))
LIBLUA_A     = $(firstword $(wildcard /usr/lib/$(MULTI)/liblua5.4.a $(if $(USE_VROOT),$(VROOT)/usr/lib/$(MULTI)/liblua5.4.a)) \
               /usr/lib/$(MULTI)/liblua5.4.a)
LUA          = $(shell command -v lua5.4 2>/dev/null || echo $(VROOT)/usr/bin/lua5.4)
LUAUNIT_DIR  =
endif
# Only a build that uses vendor/root gets an rpath (into it); `make install`
# relinks without one.
LIBDIRS  = $(EXTLIBS) $(if $(USE_VROOT),$(VLIBDIRS))
RPATH    = $(if $(USE_VROOT),$(VRPATH))
# the tests' lua5.4 and the examples find vendor/root's libraries too
RUNENV   = $(if $(USE_VROOT),LD_LIBRARY_PATH=$(VLIBS)$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH})
TESTENV  = $(RUNENV) PMLUA=$(CURDIR)/$(B)/pmlua LUA54=$(LUA) LUAUNIT_DIR=$(LUAUNIT_DIR) \
           PMLUA_POWERFAIL=$(CURDIR)/$(B)/powerfail.so

CC       ?= cc
OPT      ?= -O2
LIBFLAG  ?= -shared
# override: LuaRocks gives its CFLAGS on the command line, which would replace
# these otherwise. -ffile-prefix-map: the debug information names the sources
# relative to the checkout, so that no installed file holds the checkout's path.
override CFLAGS += $(OPT) $(if $(DEBUG),-DPML_DEBUG) -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
            -fPIC -fvisibility=hidden -ffile-prefix-map=$(CURDIR)=. -Isrc -I$(B) $(INCS)

CORE     := pml_map pml_heap pml_fault pml_room pml_wal pml_pool pml_tx pml_valid pml_ref pml_cell pml_table pml_list pml_gc
TOOL     := pt_graph pt_read pt_text pt_json pt_build pt_check pt_info pt_dot pt_progress
BIND     := lb_error lb_change lb_proxy lb_value lb_pool lb_module lb_types lb_peek lb_audit
LUAMODS  := $(wildcard lua/*.lua)
MODOBJS  := $(addprefix $(B)/,$(addsuffix .o,$(CORE) $(BIND))) $(B)/pml_embed.o

.PHONY: all run test check check-run debug bench torture torture-asan install uninstall rock \
        clean deps vendor-check vendor-verify FORCE
all: $(B)/pmlua $(B)/pmem.so $(B)/pmtool

deps: $(DEPSTAMP)
# ROCK=1 (make rock): the dependencies are LuaRocks' to find, deps.sh is not run
$(DEPSTAMP): scripts/deps.sh $(if $(filter 1,$(VENDOR)),$(VROOT)/.complete)
	@mkdir -p $(B)
	@$(if $(filter 1,$(ROCK)),echo system >$@,VENDOR=$(VENDOR) sh scripts/deps.sh $(abspath $@))
	@touch $@
# VENDOR=1: unpack again when vendor/root was removed
$(VROOT)/.complete:
	@VENDOR=1 sh scripts/deps.sh

# the compiler and flags of $(B)'s objects: when they change (OPT, an include
# path, an edit here), every object is rebuilt, never some of them
$(B)/.cflags: $(DEPSTAMP) FORCE
	@f='$(CC) $(CFLAGS)'; [ "$$(cat $@ 2>/dev/null)" = "$$f" ] || echo "$$f" >$@
FORCE:

$(B)/%.o: src/%.c $(wildcard src/*.h) $(B)/.cflags
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/pml_embed.c: scripts/embed.sh $(LUAMODS) $(DEPSTAMP)
	sh scripts/embed.sh $@ $(foreach f,$(LUAMODS),@$(f)=$(f))

$(B)/pml_embed.o: $(B)/pml_embed.c src/pml_embed.h $(B)/.cflags
	$(CC) $(CFLAGS) -c $< -o $@

# The interpreter links Lua statically and exports its API (-Wl,-E), as lua5.4 does,
# so that C modules (pmem.so included) load into it.
LINK_PMLUA = $(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(LIBLUA_A) -Wl,-E $(LIBDIRS) $(LDFLAGS) \
             -lpmemobj -lreadline -lm -ldl
LINK_SO    = $(CC) $(CFLAGS) $(LIBFLAG) -o $@ $(filter %.o,$^) $(LIBDIRS) $(LDFLAGS) -lpmemobj

$(B)/pmlua: $(B)/pmlua.o $(MODOBJS)
	$(LINK_PMLUA) $(RPATH)

$(B)/pmem.so: $(MODOBJS)
	$(LINK_SO) $(RPATH)

# pmtool: the core and pt_*, no Lua and no binding (docs/pmtool.md)
TOOLOBJS := $(addprefix $(B)/,$(addsuffix .o,pmtool $(TOOL) $(CORE)))
LINK_TOOL = $(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(LIBDIRS) $(LDFLAGS) -lpmemobj -lm
$(B)/pmtool: $(TOOLOBJS)
	$(LINK_TOOL) $(RPATH)

# the power-failure shim of tests/test_powerfail.lua (an LD_PRELOAD library)
$(B)/powerfail.so: tests/powerfail.c $(DEPSTAMP)
	$(CC) -O2 -g -Wall -Wno-format-truncation -shared -fPIC -o $@ tests/powerfail.c -ldl

test: all $(B)/powerfail.so
	@$(TESTENV) PMEM_SO_DIR=$(CURDIR)/$(B) sh tests/run.sh

run: all
	@$(RUNENV) sh scripts/run-examples.sh $(CURDIR)/$(B)/pmlua

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
check:
	@$(MAKE) --no-print-directory B=$(B)/asan OPT="-O1 $(SAN)" LDFLAGS="$(SAN)" DEBUG=1 check-run
check-run: all $(B)/powerfail.so
	@ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 PMLUA_SANITIZED=1 \
	 $(TESTENV) PMEM_SO_DIR= sh tests/run.sh

debug:
	@$(MAKE) --no-print-directory B=$(B)/debug OPT="-O1" DEBUG=1 test

bench: all
	@$(RUNENV) BENCH_QUICK=$(QUICK) sh bench/run.sh $(CURDIR)/$(B)

# The long proofs (make test runs each with smaller counts): power failures
# at every sync point of 60 mixed steps (tests/test_powerfail.lua), 1,000
# kill -9 of the mixed workload and a share of the others (test_crash.lua),
# 10,000 mutated pools (test_mutants.lua), 2,000 damaged logs (test_wal.lua),
# the fuzzer (test_fuzz.lua) here and under ASan+UBSan (build/asan, as make
# check), the heavy resource tests (test_resources.lua: a 256 MiB string,
# 3,000 pools), then memcheck of twelve suites, the checkers of their trial
# opens and their kill tests included (tests/memcheck.sh, about 10 minutes;
# needs valgrind, an optional dependency of scripts/deps.sh).
TORTURE_MUTANTS ?= 10000
TORTURE_WAL_MUTANTS ?= 2000
TORTURE_KILLS ?= 1000
TORTURE_TESTS := tests/test_powerfail.lua tests/test_crash.lua tests/test_mutants.lua \
                 tests/test_wal.lua tests/test_fuzz.lua tests/test_resources.lua
torture: all $(B)/powerfail.so
	@$(TESTENV) PMEM_SO_DIR=$(CURDIR)/$(B) PMLUA_MUTANTS=$(TORTURE_MUTANTS) \
	 PMLUA_WAL_MUTANTS=$(TORTURE_WAL_MUTANTS) PMLUA_KILLS=$(TORTURE_KILLS) \
	 PMLUA_PF_STRIDE=1 PMLUA_PF_STEPS=60 PMLUA_FUZZ_OPS=20000 PMLUA_RES_POOLS=3000 \
	 PMLUA_RES_HUGE=1 PMLUA_RES_RACES=100 TESTS="$(TORTURE_TESTS)" sh tests/run.sh
	@$(MAKE) --no-print-directory torture-asan
	@$(TESTENV) sh tests/memcheck.sh

# the fuzzer under ASan+UBSan; its count of sanitizer reports
torture-asan:
	@$(MAKE) --no-print-directory B=$(B)/asan OPT="-O1 $(SAN)" LDFLAGS="$(SAN)" DEBUG=1 \
	 PMLUA_FUZZ_OPS=10000 TESTS=tests/test_fuzz.lua check-run >$(B)/torture-asan.log 2>&1; \
	 rc=$$?; grep -E '^(ok|FAIL)|passed|  fuzz:' $(B)/torture-asan.log; \
	 echo "sanitizer: fuzz under ASan+UBSan, $$(grep -cE 'ERROR: [A-Za-z]+Sanitizer|runtime error' $(B)/torture-asan.log) errors"; \
	 exit $$rc

# The build against vendor/ alone (see VENDOR=1 above), checked, then a smoke subset
# of the tests; the last line is theirs, "N passed, M failed".
VENDOR_TESTS ?= tests/test_cli.lua tests/test_interop.lua tests/test_types.lua
vendor-check:
	@$(MAKE) --no-print-directory VENDOR=1 vendor-verify
	@$(MAKE) --no-print-directory VENDOR=1 test TESTS="$(VENDOR_TESTS)"

# no header of the packages from outside vendor/root (the system's are on the
# compiler's default path, so only this notices a missing -I), and every library
# of the packages resolved into vendor/root by the rpath
vendor-verify: all
	@[ "$(VENDOR)" = 1 ] || { echo "vendor-verify: run make vendor-check" >&2; exit 1; }
	@bad=$$(for f in src/*.c; do $(CC) $(CFLAGS) -M "$$f" || echo "/FAILED-$$f"; done | \
	  tr ' \\' '\n\n' | grep -E '^/.*(lua|pmem|readline|FAILED)' | grep -v '^$(VROOT)/' | sort -u); \
	 [ -z "$$bad" ] || { printf 'vendor-verify: headers from outside vendor/root:\n%s\n' "$$bad" >&2; exit 1; }
	@bad=$$(env -u LD_LIBRARY_PATH ldd $(B)/pmlua $(B)/pmem.so | \
	  grep -E '(pmem|ndctl|daxctl|readline|history|lua)[^ ]* =>' | grep -v '=> $(VROOT)/'); \
	 [ -z "$$bad" ] || { printf 'vendor-verify: libraries from outside vendor/root:\n%s\n' "$$bad" >&2; exit 1; }
	@echo "vendor-verify: headers, liblua5.4.a and libraries of $(B)/ all from vendor/root"

# `luarocks make` (pmem-0.1.0-1.rockspec) runs `make rock` with LuaRocks' CFLAGS,
# LIBFLAG, LUA_INCDIR, PMEMOBJ_INCDIR and PMEMOBJ_LIBDIR, then copies
# build/rock/pmem.so into its tree itself. Never against vendor/root (VENDOR
# set by a calling make): the libraries are the ones LuaRocks found.
rock:
	@$(MAKE) --no-print-directory B=build/rock ROCK=1 VENDOR= build/rock/pmem.so

# Installed files are relinked without any rpath: none may point into the build tree.
$(B)/install/pmlua: $(B)/pmlua.o $(MODOBJS)
	@mkdir -p $(@D)
	$(LINK_PMLUA)
$(B)/install/pmem.so: $(MODOBJS)
	@mkdir -p $(@D)
	$(LINK_SO)
$(B)/install/pmtool: $(TOOLOBJS)
	@mkdir -p $(@D)
	$(LINK_TOOL)

# make install: the files of INSTALLS under $(DESTDIR), by scripts/install.sh,
# which lists each in $(MANIFEST) for make uninstall. pmem.so goes where the
# stock lua5.4 looks for C modules under PREFIX: PREFIX/lib/lua/5.4, or, for
# PREFIX=/usr, Debian's place for them, /usr/lib/<multiarch>/lua/5.4 (lua5.4
# searches both); CMODDIR=... puts it elsewhere. A shared library is not
# executable (Debian policy). The documents keep the checkout's layout under
# share/doc/pmlua, so that the links between them hold.
CMODDIR  ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/$(MULTI)/lua/5.4,$(PREFIX)/lib/lua/5.4)
MANIFEST  = $(PREFIX)/share/pmlua/manifest
DOCFILES := README.md $(wildcard docs/*.md docs/*.svg docs/*.png examples/*.md examples/*.lua \
            examples/*/*.md examples/*/*.lua examples/*/*.c)
INSTALLS  = 755:$(B)/install/pmlua:$(PREFIX)/bin/pmlua 755:$(B)/install/pmtool:$(PREFIX)/bin/pmtool \
            644:$(B)/install/pmem.so:$(CMODDIR)/pmem.so 644:src/lpmem.h:$(PREFIX)/include/pmlua/lpmem.h \
            $(foreach f,$(wildcard docs/*.1),644:$(f):$(PREFIX)/share/man/man1/$(notdir $(f))) \
            $(foreach f,$(DOCFILES),644:$(f):$(PREFIX)/share/doc/pmlua/$(f))

install: $(B)/install/pmlua $(B)/install/pmem.so $(B)/install/pmtool
	@for f in $^; do ! readelf -d $$f | grep -qiE 'rpath|runpath' || \
	  { echo "install: $$f has an rpath" >&2; exit 1; }; \
	  ! grep -qF '$(CURDIR)' $$f || { echo "install: $$f holds the path $(CURDIR)" >&2; exit 1; }; done
	@sh scripts/install.sh install "$(DESTDIR)" $(MANIFEST) $(INSTALLS)

uninstall:
	@sh scripts/install.sh uninstall "$(DESTDIR)" $(MANIFEST)

clean:
	rm -rf build
