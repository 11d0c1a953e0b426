/* SPDX-License-Identifier: ISC */
/*
 * testhook.c - pause points for the fault tests (see testhook.h).  Only
 * compiled with -DBOX_TEST_HOOKS.
 */
#ifdef BOX_TEST_HOOKS
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "testhook.h"
#include "valid.h"

#define TESTHOOK_MAX_MS	600000L

/* Reads "MS [MATCH]" from path into ms and match; returns 0 or -1. */
static int
read_hook(const char *path, long *ms, char *match, size_t size)
{
	char	 buf[256], *sp;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	match[0] = '\0';
	if ((sp = strchr(buf, ' ')) != NULL) {
		*sp++ = '\0';
		snprintf(match, size, "%s", sp);
	}
	if (valid_long(buf, 0, TESTHOOK_MAX_MS, ms) != 0)
		*ms = 0;
	return 0;
}

void
testhook(const char *point, const char *id, const char *text)
{
	const char	*dir = getenv("BOX_TEST_HOOK_DIR");
	char		 path[512], mine[540], match[256];
	struct timespec	 ts;
	long		 ms;
	int		 fd;

	if (dir == NULL || *dir == '\0')
		return;
	if (snprintf(path, sizeof(path), "%s/%s", dir, point) >=
	    (int)sizeof(path) || snprintf(mine, sizeof(mine), "%s.%ld", path,
	    (long)getpid()) >= (int)sizeof(mine))
		return;
	if (read_hook(path, &ms, match, sizeof(match)) != 0 ||
	    (match[0] != '\0' && strstr(text, match) == NULL))
		return;
	/* one process wins the rename; the others find nothing */
	if (rename(path, mine) != 0)
		return;
	/* the id tells the test which request is held */
	if ((fd = open(mine, O_WRONLY | O_TRUNC)) < 0 ||
	    write(fd, id, strlen(id)) < 0)
		log_warn("test hook %s", mine);
	if (fd >= 0)
		close(fd);
	log_warnx("test hook %s: holding %s for %ld ms", point, id, ms);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
#else
/* ISO C wants something in a translation unit */
typedef int testhook_unused;
#endif
