/* SPDX-License-Identifier: ISC */
/*
 * fuzz_catalog.c - libFuzzer harness for the catalog document of
 * `ticketctl catalog apply` (ctl/catalog_doc.c, from ticketctl's archive).
 *
 * Besides crashes and sanitizer reports it checks properties:
 *   - an accepted document is written out, and what is written is accepted
 *     again and written out byte for byte the same (apply of `show` is a
 *     no-op);
 *   - every accepted item is within the caps of catalog_doc.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_doc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) { \
	fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); \
	abort(); } } while (0)

static char *
written(const struct catdoc *doc, size_t *len)
{
	char	*out = NULL;
	FILE	*f;

	f = open_memstream(&out, len);
	CHECK(f != NULL);
	CHECK(catdoc_write(doc, f) == 0);
	fclose(f);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catdoc	 a, b;
	char		 err[256], *out1, *out2;
	size_t		 len1, len2, i, k;

	if (catdoc_parse((const char *)data, size, &a, err, sizeof(err)) != 0) {
		CHECK(err[0] != '\0');
		catdoc_free(&a);
		return 0;
	}
	CHECK(a.nvenues <= CATDOC_VENUES_MAX && a.nevents <= CATDOC_EVENTS_MAX);
	for (i = 0; i < a.nvenues; i++)
		for (k = 0; k < a.venues[i].nzones; k++) {
			CHECK(a.venues[i].zones[k].zone >= 1);
			CHECK(a.venues[i].zones[k].rows >= 1 &&
			    a.venues[i].zones[k].rows <= CATDOC_SIDE_MAX);
			CHECK(a.venues[i].zones[k].rows *
			    a.venues[i].zones[k].cols <= CATDOC_ZONE_SEATS_MAX);
			CHECK(a.venues[i].zones[k].cents >= 0 &&
			    a.venues[i].zones[k].cents <= CATDOC_CENTS_MAX);
		}
	for (i = 0; i < a.nevents; i++)
		CHECK(catdoc_venue(&a, a.events[i].venue) != NULL);
	out1 = written(&a, &len1);
	CHECK(catdoc_parse(out1, len1, &b, err, sizeof(err)) == 0);
	out2 = written(&b, &len2);
	CHECK(len1 == len2 && memcmp(out1, out2, len1) == 0);
	catdoc_free(&a);
	catdoc_free(&b);
	free(out1);
	free(out2);
	return 0;
}
