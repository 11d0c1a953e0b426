/* SPDX-License-Identifier: ISC */
/*
 * testhook.h - pause points for the fault tests, in test builds only.
 *
 * TESTHOOK(point, id, text) does nothing unless the program was compiled
 * with -DBOX_TEST_HOOKS (the sanitizer build of `make san`, which tests/run
 * uses; a release build has no hook at all) and the environment variable
 * BOX_TEST_HOOK_DIR names a directory.  Then it looks for the file
 * DIR/<point>, which holds "MS [MATCH]": if MATCH is absent or occurs in
 * text (the ticket JSON), the one process that renames the file to
 * DIR/<point>.<pid> owns the pause: it writes id into that file and sleeps
 * MS milliseconds (at most 600000), so that a fault test can kill -9
 * exactly that process at exactly that point of a request
 * (tests/faults/test_processes.py).  Every other request goes on.
 *
 * Points of fcgi/ticket/main.c: "reserved" (the seat is taken in Redis, nothing
 * is published yet), "confirmed" (the broker confirmed the ticket, the
 * pending entry is still there, no answer sent), "refused" (the script
 * refused the request, no answer sent; its text is the request's
 * bo:idem key).
 */
#ifndef BOX_TESTHOOK_H
#define BOX_TESTHOOK_H

#ifdef BOX_TEST_HOOKS
void	testhook(const char *point, const char *id, const char *text);
#define TESTHOOK(point, id, text)	testhook((point), (id), (text))
#else
#define TESTHOOK(point, id, text)	((void)0)
#endif

#endif
