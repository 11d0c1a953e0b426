/* SPDX-License-Identifier: ISC */
/*
 * fuzz_conf.c - libFuzzer harness for the configuration file's parser
 * (conf_load() in shared/conf.c): the input is the file.  Every answer is
 * whole (an accepted file leaves every string NUL-terminated in its
 * buffer and every integer in its range; a refused one says why, naming
 * the file), and what conf_dump() (-n) writes of an accepted file loads
 * again to the same settings (the secrets aside: written as "****").
 * The environment's BOXOFFICE_* and alias variables are unset first, so
 * the file alone decides.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	var[128];
	size_t	i, j;

	(void)argc;
	(void)argv;
	for (i = 0; i < conf_ndefs; i++) {
		if (conf_defs[i].env_alias != NULL)
			unsetenv(conf_defs[i].env_alias);
		snprintf(var, sizeof(var), "BOXOFFICE_%s", conf_defs[i].name);
		for (j = 10; var[j] != '\0'; j++)
			var[j] = (char)(var[j] >= 'a' && var[j] <= 'z' ?
			    var[j] - 'a' + 'A' : var[j]);
		unsetenv(var);
	}
	return 0;
}

/* A memory file holding p[0..n); its /proc path in path. */
static int
memfile(const void *p, size_t n, char *path, size_t len)
{
	int fd;

	CHECK((fd = memfd_create("fuzz_conf", 0)) >= 0);
	CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

/* Every setting of c whole: strings end within their buffers, integers
 * in range. */
static void
check_whole(const struct conf *c)
{
	size_t i;

	for (i = 0; i < conf_ndefs; i++) {
		const struct conf_def *d = &conf_defs[i];
		const char *p = (const char *)c + d->off;

		if (d->type == CONF_INT) {
			int v;

			memcpy(&v, p, sizeof(v));
			CHECK(v >= d->min && v <= d->max);
		} else
			CHECK(memchr(p, '\0', d->size) != NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf	c, again;
	char			path[64], path2[64], err[1024], *dump;
	size_t			i;
	off_t			n;
	int			fd, fd2;

	fd = memfile(data, size, path, sizeof(path));
	memset(err, 'x', sizeof(err));
	if (conf_load(&c, path, 1, err, sizeof(err)) != 0) {
		/* refused: a message, NUL-terminated, about this file or
		 * about a setting it named */
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		CHECK(err[0] != '\0');
		CHECK(strncmp(err, path, strlen(path)) == 0 ||
		    strncmp(err, "amqp_hosts: ", 12) == 0 ||
		    strncmp(err, "amqp_publisher: ", 16) == 0 ||
		    strncmp(err, "log_level: ", 11) == 0);
		close(fd);
		return 0;
	}
	check_whole(&c);

	/* written out and read back: the same settings */
	CHECK((fd2 = memfd_create("fuzz_conf_dump", 0)) >= 0);
	conf_dump(&c, fd2);
	CHECK((n = lseek(fd2, 0, SEEK_END)) > 0);
	CHECK((dump = malloc((size_t)n)) != NULL);
	CHECK(pread(fd2, dump, (size_t)n, 0) == n);
	close(fd2);
	fd2 = memfile(dump, (size_t)n, path2, sizeof(path2));
	if (conf_load(&again, path2, 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "the dump does not load: %s\n%.*s", err,
		    (int)n, dump);
		CHECK(!"the dump of an accepted file loads");
	}
	for (i = 0; i < conf_ndefs; i++) {
		const struct conf_def *d = &conf_defs[i];
		const char *a = (const char *)&c + d->off;
		const char *b = (const char *)&again + d->off;

		if (d->secret)
			continue;
		if (d->type == CONF_INT)
			CHECK(memcmp(a, b, sizeof(int)) == 0);
		else if (strcmp(a, b) != 0) {
			fprintf(stderr, "%s: '%s' read back as '%s'\n",
			    d->name, a, b);
			CHECK(!"a setting reads back as written");
		}
	}
	free(dump);
	close(fd2);
	close(fd);
	return 0;
}
