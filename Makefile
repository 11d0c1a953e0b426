# boxoffice - build, test, run.  See README.md.
#
#   make              release build into build/
#   make test         install what is missing, build, start a stack, run every test
#   make demo         install, build, start the stack, sell seats, print what happened
#   make up / down    start / stop the local stack (state under var/)
#   make reset        forget every sale (catalog kept)
#   make bench        the performance table of docs/performance.md
#   make fuzz         run every fuzz harness for FUZZ_SECONDS each
#   make SANITIZE=address,undefined BUILD=build/san   sanitizer build
#   make install PREFIX=/usr/local DESTDIR=

CC	?= cc
BUILD	?= build
PREFIX	?= /usr/local
DESTDIR	?=
WERROR	?= 1
SANITIZE ?=
PKGS	 = fcgi hiredis librabbitmq libmariadb libcurl json-c

CFLAGS	?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wwrite-strings -Wpointer-arith -Wformat=2 -Wno-format-truncation \
	   -Ishared -I$(BUILD)/gen -MMD -MP
override CFLAGS += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
override LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif
ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

SHARED_SRC = $(wildcard shared/*.c)
SHARED_OBJ = $(SHARED_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/scripts.o
LUA	   = $(wildcard lua/*.lua)
CONSUMER_SRC = $(wildcard consumer/*.c)
CONSUMER_OBJ = $(CONSUMER_SRC:%.c=$(BUILD)/%.o)
CTL_SRC	   = $(wildcard ctl/*.c)
CTL_OBJ	   = $(CTL_SRC:%.c=$(BUILD)/%.o)
TOOLS_SRC  = $(wildcard tests/tools/*.c)
TOOLS	   = $(TOOLS_SRC:tests/tools/%.c=$(BUILD)/bin/%)
BENCH_SRC  = $(wildcard bench/*.c)
BENCH	   = $(BENCH_SRC:bench/%.c=$(BUILD)/bin/%)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT	   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/test/%)

PROGS	= $(BUILD)/bin/ticket.fcgi $(BUILD)/bin/query.fcgi \
	  $(BUILD)/bin/consumer $(BUILD)/bin/ticketctl $(BUILD)/bin/prefork

.PHONY: all tools unit install uninstall clean deps up down reset demo test \
	test-faults bench fuzz san

all: $(PROGS) tools $(BUILD)/lib/loopback.so
tools: $(TOOLS) $(BENCH)
unit: $(UNIT)

# LD_PRELOAD library confining DynamoDB Local to 127.0.0.1 (tools/loopback.c);
# never sanitized: it is loaded into a JVM
$(BUILD)/lib/loopback.so: tools/loopback.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

$(BUILD)/lib.a: $(SHARED_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# the Lua scripts become C strings: build/gen/scripts.c
$(BUILD)/gen/scripts.c: $(LUA) scripts/lua2c
	@mkdir -p $(@D)
	sh scripts/lua2c $(LUA) > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/scripts.o: $(BUILD)/gen/scripts.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/bin/ticket.fcgi: $(BUILD)/fcgi/ticket.o $(BUILD)/lib.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/query.fcgi: $(BUILD)/fcgi/query.o $(BUILD)/lib.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/prefork: $(BUILD)/fcgi/prefork.o $(BUILD)/lib.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/consumer: $(CONSUMER_OBJ) $(BUILD)/lib.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread
$(BUILD)/bin/ticketctl: $(CTL_OBJ) $(BUILD)/lib.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bin/%: $(BUILD)/tests/tools/%.o $(BUILD)/lib.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# bench helpers (scripts/bench): bench/hello.c, bench/pubbench.c
$(BENCH): $(BUILD)/bin/%: $(BUILD)/bench/%.o $(BUILD)/lib.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/test/%: $(BUILD)/tests/unit/%.o $(BUILD)/lib.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# --- the sanitizer build the tests run -------------------------------------
# BOX_TEST_HOOKS: the pause points of shared/testhook.h (fault tests only)
san:
	$(MAKE) BUILD=build/san SANITIZE=address,undefined CFLAGS="-O1 -g -DBOX_TEST_HOOKS" all unit

# --- local stack and commands of CONTRACT §5 -------------------------------
deps:
	scripts/deps
up: deps all
	scripts/stack up
down:
	scripts/stack down
reset:
	scripts/stack reset
demo: deps all
	scripts/stack up
	scripts/demo
test: deps
	$(MAKE) all
	$(MAKE) san
	tests/run
test-faults: deps
	$(MAKE) all san
	FAULTS_FULL=1 tests/run faults
bench: deps all
	scripts/stack up
	scripts/bench
fuzz:
	tests/fuzz/run $${FUZZ_SECONDS:-60}

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/boxoffice \
		$(DESTDIR)$(PREFIX)/share/boxoffice/sql $(DESTDIR)$(PREFIX)/share/boxoffice/conf
	install -m 755 $(BUILD)/bin/ticketctl $(BUILD)/bin/consumer $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BUILD)/bin/ticket.fcgi $(BUILD)/bin/query.fcgi \
		$(BUILD)/bin/prefork $(DESTDIR)$(PREFIX)/libexec/boxoffice/
	install -m 644 sql/schema.sql $(DESTDIR)$(PREFIX)/share/boxoffice/sql/
	install -m 644 conf/boxoffice.conf conf/nginx-fcgi.conf \
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
