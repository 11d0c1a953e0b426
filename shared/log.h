/* SPDX-License-Identifier: ISC */
/*
 * log.h - one-line logging for every boxoffice program.
 *
 * Lines look like "2026-11-28T10:00:00.123Z ticket[4242] warn: redis: connect: Connection refused".
 * log_warn() appends strerror(errno); log_warnx() does not (OpenBSD log.c).
 * Output goes to stderr unless log_open() was given a file, which is opened
 * O_APPEND so that preforked processes can share it line by line.
 */
#ifndef BOX_LOG_H
#define BOX_LOG_H

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL__MAX
};

/* Sets the program name and, if path is not NULL or empty, the log file.
 * Returns 0, or -1 with errno set if the file cannot be opened (stderr is kept). */
int	log_open(const char *prog, const char *path, enum log_level level);
void	log_set_level(enum log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 on anything else. */
int	log_level_parse(const char *s);

void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
