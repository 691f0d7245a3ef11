#include <stdio.h>

int main(void)
{
	fprintf(stderr, "csodd: not built yet\n");
	return 1;
}
