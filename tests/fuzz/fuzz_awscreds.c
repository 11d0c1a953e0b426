/* SPDX-License-Identifier: ISC */
/*
 * fuzz_awscreds.c - libFuzzer harness for the credentials parsers of
 * shared/awscreds.c: the first byte chooses the shared credentials file
 * (even) or the metadata service's JSON (odd).  Accepted credentials have a
 * key id and a secret that fit; a refusal says why and leaves nothing set.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awscreds.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct awscreds_set	 s;
	char			*text, err[160] = "";
	int			 rc;

	if (size < 1)
		return 0;
	if ((text = malloc(size)) == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] % 2 == 0)
		rc = awscreds_parse_file(text, "default", &s, err, sizeof(err));
	else
		rc = awscreds_parse_imds(text, &s, err, sizeof(err));
	if (rc == 0) {
		CHECK(s.access_key[0] != '\0' && s.secret_key[0] != '\0');
		CHECK(strlen(s.access_key) < sizeof(s.access_key));
		CHECK(strlen(s.token) < sizeof(s.token));
		CHECK(data[0] % 2 == 0 || s.expires_ms > 0);
	} else {
		CHECK(rc == -1 && err[0] != '\0');
		CHECK(data[0] % 2 == 0 || s.access_key[0] == '\0');
	}
	free(text);
	return 0;
}
