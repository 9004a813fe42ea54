// Allocates and touches memory until the OOM killer steps in, then keeps
// allocating slowly so free memory stays near the min watermark.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t chunk = 1 << 20;
	for (;;) {
		char *p = malloc(chunk);
		if (!p) { usleep(10000); continue; }
		memset(p, 0x5a, chunk);
	}
}
