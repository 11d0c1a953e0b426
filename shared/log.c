/* SPDX-License-Identifier: ISC */
/*
 * log.c - one-line logging for every boxoffice program (see log.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_prog = "boxoffice";
static int		 log_fd = STDERR_FILENO;
static enum log_level	 log_max = LOG_LEVEL_INFO;

static const char *const level_names[LOG_LEVEL__MAX] = {
	"error", "warn", "info", "debug"
};

int
log_open(const char *prog, const char *path, enum log_level level)
{
	int fd;

	if (prog != NULL)
		log_prog = prog;
	log_max = level;
	if (path == NULL || *path == '\0')
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void
log_set_level(enum log_level level)
{
	log_max = level;
}

int
log_level_parse(const char *s)
{
	int i;

	for (i = 0; i < LOG_LEVEL__MAX; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* Formats one line and writes it with a single write(2). */
static void __attribute__((format(printf, 3, 0)))
vlog(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char		 line[2048], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;
	int		 n, m;

	if (level > log_max)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld] %s: ", stamp,
	    ts.tv_nsec / 1000000, log_prog, (long)getpid(), level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)m >= sizeof(line) - n ? (int)sizeof(line) - 1 : n + m;
	if (errnum != 0 && n < (int)sizeof(line) - 1) {
		m = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		if (m > 0)
			n = (size_t)m >= sizeof(line) - n ? (int)sizeof(line) - 1 : n + m;
	}
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(log_fd, line, n);
}

#define LOG_FN(name, level, witherr)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
	int	saved = errno;					\
								\
	va_start(ap, fmt);					\
	vlog(level, witherr ? saved : 0, fmt, ap);		\
	va_end(ap);						\
	errno = saved;						\
}

LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_error, LOG_LEVEL_ERROR, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
