// Creates tasks until the kernel refuses (pid_max / threads-max), as a runaway
// fork loop does, then holds them. Children are processes with many threads.
//   forkstorm NPROC
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *idle_thread(void *arg) { for (;;) pause(); return arg; }

int main(int argc, char **argv)
{
	int nproc = argc > 1 ? atoi(argv[1]) : 64;
	int up[2];
	if (pipe(up)) return 1;
	int forked = 0;
	for (int i = 0; i < nproc; i++) {
		pid_t c = fork();
		if (c < 0) break;
		forked++;
		if (c == 0) {
			close(up[0]);
			int n = 0;
			pthread_attr_t a;
			pthread_attr_init(&a);
			pthread_attr_setstacksize(&a, 16 * 1024);
			for (;;) {
				pthread_t th;
				int e = pthread_create(&th, &a, idle_thread, NULL);
				if (e) break;
				n++;
			}
			if (write(up[1], &n, sizeof n) != sizeof n) _exit(3);
			for (;;) pause();
		}
	}
	close(up[1]);
	long total = 0;
	int n;
	/* Children keep the pipe open (they never exit): read one count each. */
	for (int i = 0; i < forked && read(up[0], &n, sizeof n) == sizeof n; i++)
		total += n;
	FILE *k = fopen("/dev/kmsg", "w");
	if (k) {
		fprintf(k, "VMTRIAGE-READY forkstorm threads=%ld\n", total);
		fclose(k);
	}
	for (;;) pause();
}
