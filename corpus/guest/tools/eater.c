// Memory pressure.
//   eater        allocate and touch memory until the OOM killer ends it
//   eater hold   allocate until every zone but DMA is below its high watermark
//                (read from /proc/zoneinfo), say so on /dev/kmsg, and hold it:
//                the machine stays at its watermarks after an OOM kill.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int below_high(void)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	if (!f)
		return 0;
	char line[256], zone[32] = "";
	long free_pages = -1, high = -1;
	int zones = 0, below = 0;
	while (fgets(line, sizeof line, f)) {
		char z[32];
		long v;
		if (sscanf(line, "Node %*d, zone %31s", z) == 1) {
			strcpy(zone, z);
			free_pages = high = -1;
		} else if (sscanf(line, " pages free %ld", &v) == 1) {
			free_pages = v;
		} else if (sscanf(line, " high %ld", &v) == 1 && high < 0) {
			high = v;
		} else if (sscanf(line, " present %ld", &v) == 1) {
			if (strcmp(zone, "DMA") && v > 0 && free_pages >= 0 && high >= 0) {
				zones++;
				below += free_pages < high;
			}
		}
	}
	fclose(f);
	return zones > 0 && below == zones;
}

int main(int argc, char **argv)
{
	int hold = argc > 1 && !strcmp(argv[1], "hold");
	size_t chunk = hold ? 256 << 10 : 1 << 20;
	for (long n = 0;; n++) {
		char *p = malloc(chunk);
		if (!p) {
			usleep(10000);
			continue;
		}
		memset(p, 0x5a, chunk);
		if (hold && n % 8 == 0 && below_high()) {
			int k = open("/dev/kmsg", O_WRONLY);
			static const char m[] = "VMTRIAGE-READY oom\n";
			if (k >= 0 && write(k, m, sizeof m - 1) < 0)
				return 1;
			for (;;)
				pause();
		}
	}
}
