/* SPDX-License-Identifier: ISC */
/*
 * loopback.c - an LD_PRELOAD library that confines a server to the
 * loopback interface: a bind() to "any address" (0.0.0.0 or ::) becomes a
 * bind() to 127.0.0.1 (or ::ffff:127.0.0.1), every other bind() is left
 * alone.
 *
 * DynamoDB Local (Jetty) has no option for its listen address and listens
 * on every interface; scripts/stack starts it with this library (and
 * -Djava.net.preferIPv4Stack=true) so that, like every other server of the
 * stack, it can only be reached from the machine itself
 * (tests/integration/test_privileges.py checks it).  Built by `make` as
 * build/lib/loopback.so, without sanitizers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int	(*bind_fn)(int, const struct sockaddr *, socklen_t);

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	static bind_fn		 real;
	struct sockaddr_in	 in4;
	struct sockaddr_in6	 in6;
	/* ::ffff:127.0.0.1: clients of 127.0.0.1 reach a dual-stack socket */
	static const unsigned char v4lo[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff, 127, 0, 0, 1 };

	if (real == NULL && (real = (bind_fn)dlsym(RTLD_NEXT, "bind")) ==
	    NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (sa != NULL && sa->sa_family == AF_INET && len >= sizeof(in4)) {
		memcpy(&in4, sa, sizeof(in4));
		if (in4.sin_addr.s_addr == htonl(INADDR_ANY)) {
			in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			return real(fd, (const struct sockaddr *)&in4,
			    sizeof(in4));
		}
	} else if (sa != NULL && sa->sa_family == AF_INET6 &&
	    len >= sizeof(in6)) {
		memcpy(&in6, sa, sizeof(in6));
		if (IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr)) {
			memcpy(&in6.sin6_addr, v4lo, sizeof(v4lo));
			return real(fd, (const struct sockaddr *)&in6,
			    sizeof(in6));
		}
	}
	return real(fd, sa, len);
}
