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

void
testhook(const char *point, const char *id)
{
	const char	*dir = getenv("BOX_TEST_HOOK_DIR");
	char		 path[512], mine[540], buf[32];
	struct timespec	 ts;
	ssize_t		 n;
	long		 ms;
	int		 fd;

	if (dir == NULL || *dir == '\0')
		return;
	if (snprintf(path, sizeof(path), "%s/%s", dir, point) >=
	    (int)sizeof(path) || snprintf(mine, sizeof(mine), "%s.%ld", path,
	    (long)getpid()) >= (int)sizeof(mine))
		return;
	/* one process wins the rename; the others find nothing */
	if (rename(path, mine) != 0)
		return;
	if ((fd = open(mine, O_RDWR)) < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, " \t\r\n")] = '\0';
	if (valid_long(buf, 0, TESTHOOK_MAX_MS, &ms) != 0)
		ms = 0;
	/* the id tells the test which request is held */
	if (ftruncate(fd, 0) != 0 || pwrite(fd, id, strlen(id), 0) < 0)
		log_warn("test hook %s", mine);
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
