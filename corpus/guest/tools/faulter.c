// mmap_lock pile-up: one thread faults on a mapping whose fault handler never
// returns (holds mmap_lock for read), one thread then needs it for write
// (munmap), and more threads fault on ordinary memory and queue behind the writer.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile char *stall;
static void *fault_stall(void *a) { (void)stall[0]; return a; }
static void *writer(void *a) { void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); munmap(p, 4096); return a; }
static void *reader(void *a) { volatile char *p = a; (void)p[0]; return a; }

int main(int argc, char **argv)
{
	int nreaders = argc > 1 ? atoi(argv[1]) : 6;
	int fd = open("/proc/vmtriage_fault", O_RDONLY);
	if (fd < 0) { perror("open /proc/vmtriage_fault"); return 1; }
	stall = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (stall == MAP_FAILED) { perror("mmap"); return 1; }
	char *fresh = mmap(NULL, 4096 * (size_t)nreaders, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t t;
	pthread_create(&t, NULL, fault_stall, NULL);
	usleep(300000);
	pthread_create(&t, NULL, writer, NULL);
	usleep(300000);
	for (int i = 0; i < nreaders; i++) {
		pthread_create(&t, NULL, reader, fresh + 4096 * (size_t)i);
	}
	usleep(500000);
	printf("FAULTER-READY %d\n", getpid());
	fflush(stdout);
	for (;;) pause();
}
