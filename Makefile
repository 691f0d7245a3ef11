# csod — build, test, demo, install. Plain make; pkg-config for every library.
#
#   make            build build/bin/{csodd,csodctl,csod-sign}
#   make check      install missing Debian packages, build, run every test
#                   (unit tests and the integration suite under ASan/UBSan,
#                   the core daemon tests under valgrind)
#   make valgrind   the whole integration suite under valgrind (slow)
#   make demo       run the daemon on its embedded default, sign a sample
#   make bench      benchmarks against the peers (bench/README.md)
#   make fuzz       libFuzzer targets (clang), see fuzz/
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=
CC ?= cc
PKGS := libcrypto libssl libconfig sqlite3 libzip zlib libdeflate libcurl libp11 libesmtp-1.0 jansson libacl

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is loaded at run time, only for timestamps (signers/common/curl_runtime.c):
# its headers are used, its library is not linked.
PKG_LIBS = $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)

# snprintf into fixed buffers truncates on purpose (names are bounded before use).
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
LDLIBS = $(PKG_LIBS) -lpthread -ldl

# The sanitizer build used by `make check` lives in its own tree.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

B ?= build
OBJ = $(B)/obj

LIB_SRC := $(wildcard lib/*.c)
SIGN_SRC := $(wildcard signers/*.c signers/*/*.c)
WATCH_SRC := $(wildcard watchers/*.c)
CORE_SRC := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CSODD_SRC := daemon/main.c
CSODCTL_SRC := $(wildcard tools/csodctl/*.c)
SIGNTOOL_SRC := $(wildcard tools/csod-sign/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

LIBCSOD := $(B)/libcsod.a
BINS := $(B)/bin/csodd $(B)/bin/csodctl $(B)/bin/csod-sign
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

.PHONY: all deps check unit integration demo bench fuzz install clean format format-check valgrind valgrind-core
all: $(BINS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBCSOD): $(call obj,$(LIB_SRC) $(SIGN_SRC) $(WATCH_SRC) $(CORE_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/bin/csodd: $(call obj,$(CSODD_SRC)) $(LIBCSOD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bin/csodctl: $(call obj,$(CSODCTL_SRC)) $(LIBCSOD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bin/csod-sign: $(call obj,$(SIGNTOOL_SRC)) $(LIBCSOD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(OBJ)/tests/unit/%.o $(LIBCSOD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

deps:
	@sh scripts/deps.sh test

# Everything in `make check` runs against the sanitizer build.
SAN_MAKE = $(MAKE) --no-print-directory B=build/san CFLAGS="-O1 -g $(SAN_FLAGS)"

check: deps
	$(MAKE) --no-print-directory all
	$(SAN_MAKE) all unit-bins
	$(SAN_MAKE) unit
	$(SAN_MAKE) integration
	$(MAKE) --no-print-directory valgrind-core
	FUZZ_SECONDS=15 sh fuzz/build.sh
	sh scripts/format-check.sh

.PHONY: unit-bins
unit-bins: $(UNIT_BINS)

unit: $(UNIT_BINS)
	@sh scripts/run-unit.sh $(UNIT_BINS)

integration: $(BINS)
	CSOD_SAN=$(if $(findstring sanitize,$(CFLAGS)),1,0) CSOD_BIN=$(abspath $(B)/bin) CSOD_TOP=$(CURDIR) prove -v --timer tests/integration/

# Valgrind runs on the plain build (it cannot run ASan binaries). `make check`
# runs the core daemon tests this way (under two minutes); `make valgrind` runs
# the whole suite (about half an hour).
VALGRIND_CORE := tests/integration/40-daemon-hash.t tests/integration/42-daemon-approval.t
VALGRIND_ENV = CSOD_VALGRIND=1 CSOD_BIN=$(abspath build/bin) CSOD_TOP=$(CURDIR)

valgrind:
	$(MAKE) --no-print-directory all
	$(VALGRIND_ENV) prove --timer tests/integration/

valgrind-core:
	$(MAKE) --no-print-directory all
	$(VALGRIND_ENV) prove -v --timer $(VALGRIND_CORE)

demo:
	@sh scripts/deps.sh build
	$(MAKE) --no-print-directory all
	sh scripts/demo.sh

bench:
	@sh scripts/deps.sh bench
	$(MAKE) --no-print-directory all
	sh bench/run.sh

fuzz:
	sh fuzz/build.sh

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	sh scripts/format-check.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(B)/bin/csodd $(DESTDIR)$(PREFIX)/sbin/csodd
	install -m 0755 $(B)/bin/csodctl $(DESTDIR)$(PREFIX)/bin/csodctl
	install -m 0755 $(B)/bin/csod-sign $(DESTDIR)$(PREFIX)/bin/csod-sign
	install -d $(DESTDIR)$(SYSCONFDIR)/csod $(DESTDIR)$(SYSCONFDIR)/csod/templates
	install -m 0640 etc/csod.conf $(DESTDIR)$(SYSCONFDIR)/csod/csod.conf
	for t in etc/templates/*; do [ -f "$$t" ] && install -m 0644 "$$t" $(DESTDIR)$(SYSCONFDIR)/csod/templates/ || true; done
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(PREFIX)/lib/sysusers.d
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' systemd/csodd.service.in > $(DESTDIR)$(PREFIX)/lib/systemd/system/csodd.service
	install -m 0644 systemd/csod.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/csod.conf
	install -m 0644 systemd/csod.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/csod.conf
	install -d $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 docs/csod-sign.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 docs/csodd.8 docs/csodctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 docs/csod.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
