/* SPDX-License-Identifier: ISC */
/*
 * fuzz_opath.c - libFuzzer harness for the paths of CONTRACT section 7 on
 * the purchase responder: purchase_hold_path() ("/holds/<holdId>" and
 * "/holds/<holdId>/confirm") and purchase_cancel_path() ("/orders/<uuid>/
 * cancel", "/tickets/<uuid>/cancel"), and the Idempotency-Key check
 * (valid_id_n).  The input is the decoded path (up to its first NUL).
 *
 * Properties:
 *   - a hold path yields an id of 25 (or, made before, 22) characters of
 *     [A-Za-z0-9_-], and the path
 *     is exactly "/holds/" id, or that and "/confirm" (2);
 *   - a cancel path yields a lowercase UUID, and the path is exactly what
 *     id "/cancel";
 *   - no path is two of these;
 *   - an accepted key is 1-64 of [A-Za-z0-9_-].
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "purchase.h"
#include "valid.h"

static int
id_chars(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *whats[] = { "/orders/", "/tickets/" };
	char	*path = fuzz_dup_str(data, size), *again;
	char	 hid[HOLD_ID_LEN + 1], uid[UUID_LEN + 1];
	size_t	 len = strlen(path), n = 0, i;
	int	 h, c, found = 0;

	again = malloc(len + 64);
	CHECK(again != NULL);
	memset(hid, 'x', sizeof(hid));
	h = purchase_hold_path(path, hid);
	CHECK(h >= 0 && h <= 2);
	if (h != 0) {
		found++;
		CHECK((strlen(hid) == HOLD_ID_LEN ||
		    strlen(hid) == HOLD_ID_OLD_LEN) && id_chars(hid,
		    strlen(hid)));
		snprintf(again, len + 64, "/holds/%s%s", hid, h == 2 ?
		    "/confirm" : "");
		CHECK(strcmp(again, path) == 0);
	}
	for (i = 0; i < sizeof(whats) / sizeof(whats[0]); i++) {
		memset(uid, 'x', sizeof(uid));
		c = purchase_cancel_path(path, whats[i], uid);
		CHECK(c == 0 || c == 1);
		if (c == 0)
			continue;
		found++;
		CHECK(valid_uuid(uid));
		snprintf(again, len + 64, "%s%s/cancel", whats[i], uid);
		CHECK(strcmp(again, path) == 0);
	}
	CHECK(found <= 1);
	if (valid_id_n(path, len)) {
		n = len;
		CHECK(n >= 1 && n <= 64 && id_chars(path, n));
	}
	free(again);
	free(path);
	return 0;
}
