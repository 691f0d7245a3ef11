# csod — build, test, demo, install. Plain make; pkg-config for every library.
#
#   make            build build/bin/{csodd,csodctl,csod-sign}
#   make check      install missing Debian packages, build, run every test
#                   (unit tests and the integration suite under ASan/UBSan,
#                   the core daemon tests again on PostgreSQL, and under
#                   valgrind)
#   make valgrind   the whole integration suite under valgrind (slow)
#   make demo       run the daemon on its embedded default, sign a sample
#   make bench      benchmarks against the peers (bench/README.md)
#   make fuzz       libFuzzer targets (clang), see fuzz/
#   make install    PREFIX=/usr/local DESTDIR= (an existing csod.conf is kept;
#                   the new one goes beside it as csod.conf.dist)
#   make deb        the Debian package, into build/deb/ (debian/, README.md)

# The one version of csod: binaries print it (--version), debian/changelog's
# top entry carries it (tests/integration/47-install.t checks they agree).
VERSION := $(shell cat VERSION)

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
# Debian 12 ships units in /lib/systemd/system (debian/rules sets it).
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=
CC ?= cc
PKGS := libcrypto libssl libconfig sqlite3 libzip zlib libdeflate libcurl libp11 p11-kit-1 libesmtp-1.0 jansson libacl libsystemd libpq

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is loaded at run time, only for timestamps (signers/common/curl_runtime.c):
# its headers are used, its library is not linked.
PKG_LIBS = $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)

# snprintf into fixed buffers truncates on purpose (names are bounded before use).
# The project's own builds and `make check` fail on any warning; a packager's
# newer compiler may warn about more, so debian/rules builds with WERROR=.
WERROR ?= -Werror
WARN = -Wall -Wextra $(WERROR) -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
CFLAGS ?= -O2 -g
# CPPFLAGS and LDFLAGS come from the caller (dpkg-buildflags: fortify, relro, now).
# Without module-path a pkcs11: URI loads p11-kit's proxy (lib/pkcs11_uri.c).
P11_PROXY := $(shell pkg-config --variable proxy_module p11-kit-1 2>/dev/null)
P11_PROXY_DEF = $(if $(P11_PROXY),-DCSOD_P11_PROXY='"$(P11_PROXY)"')
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DCSOD_VERSION='"$(VERSION)"' $(P11_PROXY_DEF) $(WARN) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
LINK = $(CC) $(CFLAGS) $(LDFLAGS)
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

.PHONY: all deps check unit integration integration-postgresql demo bench fuzz install deb clean format format-check valgrind valgrind-core
all: $(BINS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The version is compiled into each program's main file.
$(call obj,$(CSODD_SRC) tools/csodctl/main.c tools/csod-sign/main.c): VERSION

$(LIBCSOD): $(call obj,$(LIB_SRC) $(SIGN_SRC) $(WATCH_SRC) $(CORE_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/bin/csodd: $(call obj,$(CSODD_SRC)) $(LIBCSOD)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(LDLIBS)

$(B)/bin/csodctl: $(call obj,$(CSODCTL_SRC)) $(LIBCSOD)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(LDLIBS)

$(B)/bin/csod-sign: $(call obj,$(SIGNTOOL_SRC)) $(LIBCSOD)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(OBJ)/tests/unit/%.o $(LIBCSOD)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

deps:
	@sh scripts/deps.sh test

# Everything in `make check` runs against the sanitizer build.
SAN_MAKE = $(MAKE) --no-print-directory B=build/san CFLAGS="-O1 -g $(SAN_FLAGS)"

check: deps
	$(MAKE) --no-print-directory all
	$(SAN_MAKE) all unit-bins
	$(SAN_MAKE) unit
	$(SAN_MAKE) integration
	$(SAN_MAKE) integration-postgresql
	$(MAKE) --no-print-directory valgrind-core
	FUZZ_SECONDS=15 sh fuzz/build.sh
	$(MAKE) --no-print-directory clang-check
	sh scripts/format-check.sh

# A second compiler's warnings: clang sees a goto that jumps over a
# variable's initialisation to a use of it (-Wsometimes-uninitialized),
# which gcc does not; such a bug crashed csod-sign only without ASan.
CLANG_WARN = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
.PHONY: clang-check
clang-check:
	$(MAKE) --no-print-directory B=build/clang CC=clang WARN="$(CLANG_WARN)" all

.PHONY: unit-bins
unit-bins: $(UNIT_BINS)

unit: $(UNIT_BINS)
	@sh scripts/run-unit.sh $(UNIT_BINS)

integration: $(BINS)
	CSOD_SAN=$(if $(findstring sanitize,$(CFLAGS)),1,0) CSOD_BIN=$(abspath $(B)/bin) CSOD_TOP=$(CURDIR) prove -v --timer tests/integration/

# The daemon tests once more with the state database on PostgreSQL: each
# test starts a private server on a Unix socket (tests/integration/lib.sh,
# CSOD_TEST_DB); two at a time, as they mostly wait. 89-cluster runs its
# three nodes on one server here, on one shared SQLite file in `integration`.
PG_TESTS := 40-daemon-hash 41-daemon-restart 42-daemon-approval 50-csodctl 51-roles \
            59-control-socket 60-mail 71-keys-certs 74-rotate-master 89-cluster
integration-postgresql: $(BINS)
	CSOD_TEST_DB=postgresql CSOD_SAN=$(if $(findstring sanitize,$(CFLAGS)),1,0) CSOD_BIN=$(abspath $(B)/bin) CSOD_TOP=$(CURDIR) prove -v --timer -j2 $(PG_TESTS:%=tests/integration/%.t)

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

# An administrator's configuration is never overwritten: when the file exists
# the new one goes beside it as FILE.dist (as Debian's tools do).
# $(call install_conf,MODE,SOURCE,TARGET)
install_conf = if [ -e $(3) ]; then \
		install -m $(1) $(2) $(3).dist && echo "kept $(3); the new one is $(3).dist"; \
	else install -m $(1) $(2) $(3); fi

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(B)/bin/csodd $(DESTDIR)$(PREFIX)/sbin/csodd
	install -m 0755 $(B)/bin/csodctl $(DESTDIR)$(PREFIX)/bin/csodctl
	install -m 0755 $(B)/bin/csod-sign $(DESTDIR)$(PREFIX)/bin/csod-sign
	install -d $(DESTDIR)$(SYSCONFDIR)/csod $(DESTDIR)$(SYSCONFDIR)/csod/templates
	$(call install_conf,0640,etc/csod.conf,$(DESTDIR)$(SYSCONFDIR)/csod/csod.conf)
	for t in etc/templates/*; do \
		[ -f "$$t" ] || continue; \
		$(call install_conf,0644,"$$t",$(DESTDIR)$(SYSCONFDIR)/csod/templates/$$(basename "$$t")); \
	done
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(PREFIX)/lib/sysusers.d
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' systemd/csodd.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/csodd.service
	install -m 0644 systemd/csod.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/csod.conf
	install -m 0644 systemd/csod.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/csod.conf
	install -d $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 docs/csod-sign.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 docs/csodd.8 docs/csodctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 docs/csod.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/

# The Debian package, built in a copy of the tree (dpkg-buildpackage writes
# beside the tree it builds: here, not in the parent of the clone), with the
# packager's flags (dpkg-buildflags) and -O2; the .deb is collected into
# build/deb/. DEB_BUILD_OPTIONS may be overridden (e.g. parallel=4).
DEB_BUILD_OPTIONS ?= nocheck parallel=2
deb:
	@sh scripts/deps.sh deb
	@v=$$(dpkg-parsechangelog -S Version); [ "$$v" = "$(VERSION)" ] || { \
		echo "debian/changelog says $$v, VERSION says $(VERSION): add an entry for $(VERSION) to debian/changelog" >&2; \
		exit 1; }
	@set -e; work=$$(mktemp -d /tmp/csod-deb.XXXXXX); trap 'rm -rf "$$work"' EXIT; \
	mkdir "$$work/csod-$(VERSION)"; \
	tar -cf - --exclude=./build --exclude=./.git --exclude=./debian/build \
		--exclude=./debian/.debhelper --exclude=./debian/csod . | \
		tar -xf - -C "$$work/csod-$(VERSION)"; \
	(cd "$$work/csod-$(VERSION)" && \
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u B -u CFLAGS -u CPPFLAGS -u LDFLAGS \
		DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b) \
		>"$$work/build.log" 2>&1 || { tail -40 "$$work/build.log"; exit 1; }; \
	rm -rf build/deb; mkdir -p build/deb; \
	cp "$$work"/*.deb "$$work"/*.buildinfo "$$work"/*.changes "$$work/build.log" build/deb/; \
	ls build/deb/*.deb

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
