#include <stdio.h>

int main(void)
{
	fprintf(stderr, "csodctl: not built yet\n");
	return 1;
}
