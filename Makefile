# pmlua -- build, test, run, install.
#
#   make            build/pmlua, build/pmem.so (and build/pmtool once it exists)
#   make run        install deps, build, play the examples
#   make test       install deps, build, run every test; last line "N passed, M failed"
#   make check      the same tests under AddressSanitizer + UBSan (build/asan/)
#   make bench      speed ratios (docs/performance.md)
#   make install PREFIX=/usr/local

B        ?= build
PREFIX   ?= /usr/local
VROOT    := $(CURDIR)/vendor/root
MULTI    := x86_64-linux-gnu
# resolved when used (after scripts/deps.sh ran), not when the Makefile is read
LUA       = $(shell command -v lua5.4 2>/dev/null || echo $(VROOT)/usr/bin/lua5.4)

CC       ?= cc
OPT      ?= -O2
CFLAGS   += $(OPT) -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
            -fPIC -fvisibility=hidden -Isrc -I$(B) \
            -I/usr/include/lua5.4 -I$(VROOT)/usr/include -I$(VROOT)/usr/include/lua5.4
LDFLAGS  += -L$(VROOT)/usr/lib/$(MULTI) -Wl,-rpath,$(VROOT)/usr/lib/$(MULTI)
LIBLUA_A  = $(firstword $(wildcard /usr/lib/$(MULTI)/liblua5.4.a $(VROOT)/usr/lib/$(MULTI)/liblua5.4.a) \
            /usr/lib/$(MULTI)/liblua5.4.a)

CORE     := pml_map pml_heap pml_fault pml_pool pml_tx pml_cell pml_table pml_list pml_gc
BIND     := lpmem lpmem_types lpmem_peek lpmem_audit
LUAMODS  := $(wildcard lua/*.lua)
MODOBJS  := $(addprefix $(B)/,$(addsuffix .o,$(CORE) $(BIND))) $(B)/pml_embed.o
DEPSTAMP := $(B)/.deps

.PHONY: all run test check bench install clean deps
all: $(B)/pmlua $(B)/pmem.so

deps: $(DEPSTAMP)
$(DEPSTAMP): scripts/deps.sh
	@mkdir -p $(B)
	@sh scripts/deps.sh
	@touch $@

$(B)/%.o: src/%.c $(wildcard src/*.h) $(DEPSTAMP)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/pml_embed.c: scripts/embed.sh $(LUAMODS) $(DEPSTAMP)
	sh scripts/embed.sh $@ $(foreach f,$(LUAMODS),@$(f)=$(f))

$(B)/pml_embed.o: $(B)/pml_embed.c src/pml_embed.h
	$(CC) $(CFLAGS) -c $< -o $@

# The interpreter links Lua statically and exports its API (-Wl,-E), as lua5.4 does,
# so that C modules (pmem.so included) load into it.
$(B)/pmlua: $(B)/pmlua.o $(MODOBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBLUA_A) -Wl,-E $(LDFLAGS) -lpmemobj -lreadline -lm -ldl

$(B)/pmem.so: $(MODOBJS)
	$(CC) $(CFLAGS) -shared -o $@ $^ $(LDFLAGS) -lpmemobj

# vendored packages (non-root install): their lua5.4 finds its libraries here
export LD_LIBRARY_PATH := $(VROOT)/usr/lib/$(MULTI):$(VROOT)/lib/$(MULTI)$(if $(LD_LIBRARY_PATH),:$(LD_LIBRARY_PATH))

test: all
	@PMLUA=$(CURDIR)/$(B)/pmlua PMEM_SO_DIR=$(CURDIR)/$(B) LUA54=$(LUA) sh tests/run.sh

run: all
	@sh scripts/run-examples.sh $(CURDIR)/$(B)/pmlua

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
check:
	$(MAKE) B=build/asan OPT="-O1 $(SAN)" LDFLAGS="$(SAN)" all
	@ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 PMLUA_SANITIZED=1 \
	 PMLUA=$(CURDIR)/build/asan/pmlua PMEM_SO_DIR= LUA54=$(LUA) sh tests/run.sh

bench: all
	@sh bench/run.sh $(CURDIR)/$(B)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/lua/5.4 $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/pmlua $(DESTDIR)$(PREFIX)/bin/pmlua
	install -m 755 $(B)/pmem.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/pmem.so
	for m in docs/*.1; do [ -f "$$m" ] && install -m 644 "$$m" $(DESTDIR)$(PREFIX)/share/man/man1/ || true; done

clean:
	rm -rf build
