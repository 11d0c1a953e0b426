/*
 * consumer - PLACEHOLDER until the consumer issue lands: it only stays up
 * (so that the stack can be started) and persists nothing.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(void)
{
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	fprintf(stderr, "consumer: placeholder, persists nothing\n");
	while (!stop)
		pause();
	return 0;
}
