// A parent with many children (processes with threads) that waits for them:
// the shape of the founding case. Prints the parent's pid once all are up.
//   storm NPROC NTHREADS
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *idle_thread(void *arg) { for (;;) pause(); return arg; }

int main(int argc, char **argv)
{
	int nproc = argc > 1 ? atoi(argv[1]) : 100;
	int nthr = argc > 2 ? atoi(argv[2]) : 2;
	int up[2];
	if (pipe(up)) return 1;
	for (int i = 0; i < nproc; i++) {
		pid_t c = fork();
		if (c < 0) { perror("fork"); return 1; }
		if (c == 0) {
			close(up[0]);
			for (int t = 0; t < nthr; t++) {
				pthread_t th;
				pthread_attr_t a;
				pthread_attr_init(&a);
				pthread_attr_setstacksize(&a, 64 * 1024);
				if (pthread_create(&th, &a, idle_thread, NULL)) _exit(2);
			}
			char b = 1;
			if (write(up[1], &b, 1) != 1) _exit(3);
			for (;;) pause();
		}
	}
	close(up[1]);
	for (int i = 0; i < nproc; i++) { char b; if (read(up[0], &b, 1) != 1) return 1; }
	printf("STORM-PARENT %d %d\n", getpid(), nproc * (nthr + 1));
	fflush(stdout);
	for (;;) {
		int st;
		if (wait(&st) < 0) pause();
	}
}
