/* SPDX-License-Identifier: ISC */
/*
 * fuzz_redirect.c - libFuzzer harness for rcl_parse_redirect()
 * (shared/rcluster.c): a MOVED/ASK it accepts names a slot, a host and a
 * port in range, and written back it parses to the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "rcluster.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char			*text, host[RCL_HOST_MAX], host2[RCL_HOST_MAX];
	char			 again[RCL_HOST_MAX + 64];
	enum rcl_redirect	 k;
	int			 slot, port, slot2, port2;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	k = rcl_parse_redirect(text, &slot, host, sizeof(host), &port);
	CHECK(k >= RCL_REDIR_NONE && k < RCL_REDIR__MAX);
	if (k == RCL_REDIR_MOVED || k == RCL_REDIR_ASK) {
		CHECK(slot >= 0 && slot < RCL_SLOTS);
		CHECK(port >= 1 && port <= 65535);
		CHECK(host[0] != '\0');
		snprintf(again, sizeof(again), "%s %d %s:%d",
		    rcl_redirect_str(k), slot, host, port);
		CHECK(rcl_parse_redirect(again, &slot2, host2, sizeof(host2),
		    &port2) == k);
		CHECK(slot2 == slot && port2 == port &&
		    strcmp(host2, host) == 0);
	}
	free(text);
	return 0;
}
