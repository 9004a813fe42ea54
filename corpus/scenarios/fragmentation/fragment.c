// Fragments physical memory with unmovable pages: `fragment MARGIN_MB`
// writes pipe buffers (one page each, unmovable, never on an LRU, so
// neither reclaim nor compaction can move them) alternately into two sets
// of pipes until free memory falls to twice vm.min_free_kbytes plus
// MARGIN_MB (above the watermarks: no OOM kill), then closes one set.
// Consecutive allocations get neighbouring pages, so about half of the
// pages written come back free, each beside a page still held: lots of
// free memory, almost all of it in single pages. Writes /tmp/fragment.done
// and keeps the other set open.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { PAIRS = 200, PIPE_BYTES = 16 << 20 };

static long min_free_kb(void)
{
	long kb = 0;
	FILE *f = fopen("/proc/sys/vm/min_free_kbytes", "r");

	if (f) {
		if (fscanf(f, "%ld", &kb) != 1)
			kb = 0;
		fclose(f);
	}
	return kb;
}

static long mem_free_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	static int keep[PAIRS][2], drop[PAIRS][2];
	static char page[4096];
	long min_kb = (argc > 1 ? atol(argv[1]) : 16) * 1024 + 2 * min_free_kb(), held = 0;
	int n, done = 0;

	memset(page, 0x5a, sizeof(page));
	for (n = 0; n < PAIRS && !done; n++) {
		if (pipe2(keep[n], O_NONBLOCK) || pipe2(drop[n], O_NONBLOCK)) {
			perror("fragment: pipe");
			return 1;
		}
		fcntl(keep[n][1], F_SETPIPE_SZ, PIPE_BYTES);
		fcntl(drop[n][1], F_SETPIPE_SZ, PIPE_BYTES);
		for (;;) {
			if ((held & 255) == 0 && mem_free_kb() < min_kb) {
				done = 1;
				break;
			}
			if (write(keep[n][1], page, sizeof(page)) != sizeof(page) ||
			    write(drop[n][1], page, sizeof(page)) != sizeof(page))
				break;
			held += 2;
		}
	}
	if (!done) {
		fprintf(stderr, "fragment: ran out of pipes before memory\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		close(drop[i][0]);
		close(drop[i][1]);
	}
	printf("fragment: %ld pages written, half freed; MemFree now %ld kB\n", held, mem_free_kb());
	fflush(stdout);
	close(open("/tmp/fragment.done", O_CREAT | O_WRONLY, 0644));
	for (;;)
		pause();
}
