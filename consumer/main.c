/* consumer - placeholder until the consumer issue lands. */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "consumer: not implemented yet\n");
	return 1;
}
