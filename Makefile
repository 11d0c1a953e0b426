# SPDX-License-Identifier: ISC
# boxoffice - build, test, run.  See README.md.
#
#   make              release build of the programs into build/bin
#   make tools        what tests, stack and bench run besides (mqtool, rcltool, loopback.so, hello, pubbench)
#   make check        build and run the unit tests (sanitizer build)
#   make test         install what is missing, build, start a stack, run every test
#   make demo         install, build, start the stack, sell seats, print what happened
#   make up / down    start / stop the local stack (state under var/)
#   make reset        forget every sale (catalog kept)
#   make bench        the performance table of docs/performance.md
#   make fuzz         run every fuzz harness for FUZZ_SECONDS each (make fuzz-build: build only)
#   make SANITIZE=address,undefined BUILD=build/san   sanitizer build
#   make install PREFIX=/usr/local DESTDIR=

CC	?= cc
BUILD	?= build
PREFIX	?= /usr/local
DESTDIR	?=
WERROR	?= 1
SANITIZE ?=
# FUZZ=1: the libFuzzer build of tests/fuzz (make fuzz-build, clang)
FUZZ	?=

CFLAGS	?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wwrite-strings -Wpointer-arith -Wformat=2 \
	   -Ishared -I$(BUILD)/gen -MMD -MP
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif
ifneq ($(FUZZ),)
SANITIZE := address,undefined
override CFLAGS += -fsanitize=fuzzer-no-link
endif
ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

# --- libraries: one pkg-config package each, named where it is missing -----
PKGS	= fcgi hiredis librabbitmq libmariadb libcurl json-c libcrypto cmocka
PKG_DEB_fcgi	    = libfcgi-dev
PKG_DEB_hiredis	    = libhiredis-dev
PKG_DEB_librabbitmq = librabbitmq-dev
PKG_DEB_libmariadb  = libmariadb-dev
PKG_DEB_libcurl	    = libcurl4-openssl-dev
PKG_DEB_json-c	    = libjson-c-dev
PKG_DEB_libcrypto   = libssl-dev
PKG_DEB_cmocka	    = libcmocka-dev
PKG_MISSING := $(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(p) && echo y),,$(p)))
$(foreach p,$(filter-out $(PKG_MISSING),$(PKGS)),\
  $(eval PC_CFLAGS_$(p) := $(shell pkg-config --cflags $(p)))\
  $(eval PC_LIBS_$(p) := $(shell pkg-config --libs $(p))))
# every object sees every header; each program links only its packages
override CFLAGS += $(sort $(foreach p,$(PKGS),$(PC_CFLAGS_$(p))))
libs_of = $(foreach p,$(1),$(PC_LIBS_$(p)))

# stops the build with the name of the missing package and its Debian package
pkgcheck = $(if $(filter $(1),$(PKG_MISSING)),$(error pkg-config package \
	'$(firstword $(filter $(1),$(PKG_MISSING)))' not found (Debian: \
	$(PKG_DEB_$(firstword $(filter $(1),$(PKG_MISSING))))); run scripts/deps))

# --- sources: the common library and one archive per program --------------
# shared/            used by more than one program        -> $(BUILD)/lib.a
# fcgi/ticket/       the purchase responder (ticket.fcgi)  -> $(BUILD)/ticket.a
# fcgi/query/        the query responder (query.fcgi)      -> $(BUILD)/query.a
# consumer/          the persistence program (consumer)    -> $(BUILD)/consumer.a
# ctl/               the operator's command (ticketctl)    -> $(BUILD)/ctl.a
# pubd/              the local publisher (pubd), main.c only
# supervise/         the supervisor (prefork)
# A program's main.c (ticketctl.c for ctl/) stays out of its archive, so
# that the unit tests link the archive.
LUA	     = $(wildcard lua/*.lua)
LIB_OBJ	     = $(patsubst %.c,$(BUILD)/%.o,$(wildcard shared/*.c)) $(BUILD)/gen/scripts.o
TICKET_OBJ   = $(patsubst %.c,$(BUILD)/%.o,$(filter-out %/main.c,$(wildcard fcgi/ticket/*.c)))
QUERY_OBJ    = $(patsubst %.c,$(BUILD)/%.o,$(filter-out %/main.c,$(wildcard fcgi/query/*.c)))
CONSUMER_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(filter-out %/main.c,$(wildcard consumer/*.c)))
CTL_OBJ	     = $(patsubst %.c,$(BUILD)/%.o,$(filter-out %/ticketctl.c,$(wildcard ctl/*.c)))

# the packages each program (and each archive's unit tests) links with
TICKET_PKGS   = fcgi hiredis librabbitmq json-c libcrypto
QUERY_PKGS    = fcgi hiredis libmariadb json-c
CONSUMER_PKGS = hiredis librabbitmq libmariadb libcurl json-c
CTL_PKGS      = hiredis librabbitmq libmariadb libcurl json-c
LIB_PKGS      = fcgi hiredis librabbitmq libmariadb libcurl json-c libcrypto

PROGS	= $(BUILD)/bin/ticket.fcgi $(BUILD)/bin/query.fcgi \
	  $(BUILD)/bin/consumer $(BUILD)/bin/ticketctl $(BUILD)/bin/prefork \
	  $(BUILD)/bin/pubd
# what the tests and the local stack run besides the product
# (tests/run: mqtool, rcltool; scripts/stack: loopback.so; scripts/bench: bench/*.c)
TOOLS	= $(BUILD)/bin/mqtool $(BUILD)/bin/rcltool $(BUILD)/lib/loopback.so \
	  $(patsubst bench/%.c,$(BUILD)/bin/%,$(wildcard bench/*.c))

# unit tests: tests/unit/test_NAME.c tests module NAME of one archive
LIB_TESTS      = awscreds clock conf err fmt http jsonesc keys metrics mq msg pubc pubframe rcluster rds start ticket valid
TICKET_TESTS   = purchase sale token
QUERY_TESTS    = route jout money gtid
CONSUMER_TESTS = tsql osql ddb_item ddb_order sigv4 backoff sink
CTL_TESTS      = catalog_doc
UNIT	= $(foreach t,$(LIB_TESTS) $(TICKET_TESTS) $(QUERY_TESTS) $(CONSUMER_TESTS) $(CTL_TESTS),\
	  $(BUILD)/test/test_$(t))
# fuzz harnesses: tests/fuzz/fuzz_NAME.c with the archive of what it fuzzes
FUZZ_LIB    = ticket awscreds redirect msg pubframe headers conf
FUZZ_TICKET = form json order opath replay
FUZZ_QUERY  = route
FUZZ_CTL    = catalog
FUZZERS	= $(foreach f,$(FUZZ_LIB) $(FUZZ_TICKET) $(FUZZ_QUERY) $(FUZZ_CTL),$(BUILD)/bin/fuzz_$(f))

.PHONY: all tools unit check fuzzers install uninstall clean deps up down \
	reset demo test test-faults test-cluster bench fuzz fuzz-build san

all: $(PROGS)
tools: $(TOOLS)
# (a test binary no longer in the lists, e.g. of a renamed test, is removed:
# tests/run runs every build/san/test/test_*)
unit: $(UNIT)
	@for t in $(wildcard $(BUILD)/test/test_*); do \
		case " $(UNIT) " in *" $$t "*) ;; *) rm -f "$$t" "$$t.d" ;; esac; \
	done

# LD_PRELOAD library confining DynamoDB Local to 127.0.0.1 (tools/loopback.c);
# never sanitized: it is loaded into a JVM
$(BUILD)/lib/loopback.so: tools/loopback.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

$(BUILD)/lib.a: $(LIB_OBJ)
$(BUILD)/ticket.a: $(TICKET_OBJ)
$(BUILD)/query.a: $(QUERY_OBJ)
$(BUILD)/consumer.a: $(CONSUMER_OBJ)
$(BUILD)/ctl.a: $(CTL_OBJ)
$(BUILD)/%.a:
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	$(call pkgcheck,$(LIB_PKGS) $(NEEDS))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INC) -c -o $@ $<

# the Lua scripts become C strings: build/gen/scripts.c
$(BUILD)/gen/scripts.c: $(LUA) $(wildcard lua/lib/*.lua) scripts/lua2c
	@mkdir -p $(@D)
	sh scripts/lua2c $(LUA) > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/scripts.o: $(BUILD)/gen/scripts.c
	$(CC) $(CFLAGS) -c -o $@ $<

# link PACKAGES [EXTRA]: links the prerequisites (objects, then archives)
link = @mkdir -p $(@D); $(CC) $(LDFLAGS) -o $@ $^ $(call libs_of,$(1)) $(2)

$(BUILD)/bin/ticket.fcgi: $(BUILD)/fcgi/ticket/main.o $(BUILD)/ticket.a $(BUILD)/lib.a
	$(call link,$(TICKET_PKGS))
$(BUILD)/bin/query.fcgi: $(BUILD)/fcgi/query/main.o $(BUILD)/query.a $(BUILD)/lib.a
	$(call link,$(QUERY_PKGS))
$(BUILD)/bin/consumer: $(BUILD)/consumer/main.o $(BUILD)/consumer.a $(BUILD)/lib.a
	$(call link,$(CONSUMER_PKGS),-lpthread)
$(BUILD)/bin/ticketctl: $(BUILD)/ctl/ticketctl.o $(BUILD)/ctl.a $(BUILD)/lib.a
	$(call link,$(CTL_PKGS))
$(BUILD)/bin/prefork: $(BUILD)/supervise/prefork.o $(BUILD)/lib.a
	$(call link,)
$(BUILD)/bin/pubd: $(BUILD)/pubd/main.o $(BUILD)/lib.a
	$(call link,librabbitmq,-lpthread)
# tests/run: mqtool (tests/tools); scripts/bench: hello, pubbench (bench/)
$(BUILD)/bin/mqtool: $(BUILD)/tests/tools/mqtool.o $(BUILD)/lib.a
	$(call link,librabbitmq)
# tests/cluster: rcltool drives one Redis Cluster client (shared/rcluster.c)
$(BUILD)/bin/rcltool: $(BUILD)/tests/tools/rcltool.o $(BUILD)/lib.a
	$(call link,hiredis)
$(BUILD)/bin/hello: $(BUILD)/bench/hello.o
	$(call link,fcgi)
$(BUILD)/bin/pubbench: $(BUILD)/bench/pubbench.o $(BUILD)/lib.a
	$(call link,librabbitmq json-c)

# unit_group NAMES ARCHIVE DIR PACKAGES: test_NAME links ARCHIVE, sees DIR
define unit_group
$(patsubst %,$(BUILD)/tests/unit/test_%.o,$(1)): INC = $(3:%=-I%)
$(patsubst %,$(BUILD)/tests/unit/test_%.o,$(1)): NEEDS = cmocka
$(patsubst %,$(BUILD)/test/test_%,$(1)): $(BUILD)/test/test_%: \
		$(BUILD)/tests/unit/test_%.o $(BUILD)/tests/unit/unit.o $(2) $(BUILD)/lib.a
	$$(call pkgcheck,cmocka)
	$$(call link,$(4) cmocka)
endef
$(eval $(call unit_group,$(LIB_TESTS),,,$(LIB_PKGS)))
$(eval $(call unit_group,$(TICKET_TESTS),$(BUILD)/ticket.a,fcgi/ticket,$(TICKET_PKGS)))
$(eval $(call unit_group,$(QUERY_TESTS),$(BUILD)/query.a,fcgi/query,$(QUERY_PKGS)))
$(eval $(call unit_group,$(CONSUMER_TESTS),$(BUILD)/consumer.a,consumer,$(CONSUMER_PKGS)))
$(eval $(call unit_group,$(CTL_TESTS),$(BUILD)/ctl.a,ctl,$(CTL_PKGS)))
# test_metrics observes from threads while it renders
$(BUILD)/test/test_metrics: override LDFLAGS += -pthread

# fuzz_group NAMES ARCHIVE DIR: libFuzzer harnesses (FUZZ=1 builds only)
define fuzz_group
$(patsubst %,$(BUILD)/tests/fuzz/fuzz_%.o,$(1)): INC = $(3:%=-I%)
$(patsubst %,$(BUILD)/bin/fuzz_%,$(1)): $(BUILD)/bin/fuzz_%: \
		$(BUILD)/tests/fuzz/fuzz_%.o $(2) $(BUILD)/lib.a
	$$(call link,$(LIB_PKGS),-fsanitize=fuzzer)
endef
$(eval $(call fuzz_group,$(FUZZ_LIB),,))
$(eval $(call fuzz_group,$(FUZZ_TICKET),$(BUILD)/ticket.a,fcgi/ticket))
$(eval $(call fuzz_group,$(FUZZ_QUERY),$(BUILD)/query.a,fcgi/query))
$(eval $(call fuzz_group,$(FUZZ_CTL),$(BUILD)/ctl.a,ctl))

# the unit tests, built with the sanitizers, run as tests/run runs them
check:
	$(MAKE) BUILD=build/san SANITIZE=address,undefined CFLAGS="-O1 -g -DBOX_TEST_HOOKS" unit
	tests/run unit

# the libFuzzer harnesses, clang with ASan and UBSan, into build/fuzz/bin
fuzz-build:
	$(MAKE) BUILD=build/fuzz CC=$${FUZZ_CC:-clang} FUZZ=1 CFLAGS="-O1 -g" fuzzers
fuzzers: $(FUZZERS)

# --- the sanitizer build the tests run -------------------------------------
# BOX_TEST_HOOKS: the pause points of fcgi/ticket/testhook.h (fault tests only)
san:
	$(MAKE) BUILD=build/san SANITIZE=address,undefined CFLAGS="-O1 -g -DBOX_TEST_HOOKS" all tools unit

# --- local stack and the commands of the README ----------------------------
deps:
	scripts/deps
up: deps all tools
	scripts/stack up
down:
	scripts/stack down
reset:
	scripts/stack reset
demo: deps all tools
	scripts/stack up
	scripts/demo
test: deps
	$(MAKE) all tools
	$(MAKE) san
	tests/run
test-faults: deps
	$(MAKE) all tools san
	FAULTS_FULL=1 tests/run faults
test-cluster: deps
	$(MAKE) all tools san
	TOPOLOGY_FULL=1 FAULTS_FULL=1 tests/run topology
bench: deps all tools
	scripts/stack up
	scripts/bench
fuzz:
	tests/fuzz/run $${FUZZ_SECONDS:-60}

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/boxoffice \
		$(DESTDIR)$(PREFIX)/share/boxoffice/sql $(DESTDIR)$(PREFIX)/share/boxoffice/conf
	install -m 755 $(BUILD)/bin/ticketctl $(BUILD)/bin/consumer $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BUILD)/bin/ticket.fcgi $(BUILD)/bin/query.fcgi \
		$(BUILD)/bin/prefork $(BUILD)/bin/pubd \
		$(DESTDIR)$(PREFIX)/libexec/boxoffice/
	install -m 644 sql/schema.sql sql/zone_sales_repair.sql $(DESTDIR)$(PREFIX)/share/boxoffice/sql/
	install -d $(DESTDIR)$(PREFIX)/share/boxoffice/sql/migrations
	install -m 644 sql/migrations/*.sql \
		$(DESTDIR)$(PREFIX)/share/boxoffice/sql/migrations/
	install -m 644 conf/boxoffice.conf conf/catalog.json conf/nginx-fcgi.conf \
		conf/fastcgi-boxoffice.conf conf/lighttpd.conf conf/apache-fcgi.conf \
		$(DESTDIR)$(PREFIX)/share/boxoffice/conf/
	install -d $(DESTDIR)$(PREFIX)/share/boxoffice/web
	install -m 644 web/index.html web/app.css web/app.js $(DESTDIR)$(PREFIX)/share/boxoffice/web/
	install -d $(DESTDIR)$(PREFIX)/share/boxoffice/conf/lighttpd-errors
	install -m 644 conf/lighttpd-errors/* \
		$(DESTDIR)$(PREFIX)/share/boxoffice/conf/lighttpd-errors/
	install -d $(DESTDIR)$(PREFIX)/share/boxoffice/systemd
	install -m 644 conf/systemd/* $(DESTDIR)$(PREFIX)/share/boxoffice/systemd/
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/ticketctl $(DESTDIR)$(PREFIX)/bin/consumer
	rm -rf $(DESTDIR)$(PREFIX)/libexec/boxoffice $(DESTDIR)$(PREFIX)/share/boxoffice

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
