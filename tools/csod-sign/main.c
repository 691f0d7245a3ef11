#include <stdio.h>

int main(void)
{
	fprintf(stderr, "csod-sign: not built yet\n");
	return 1;
}
