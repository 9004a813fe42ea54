// mmap_lock pile-up: one thread faults on a mapping whose fault handler never
// returns (holds mmap_lock for read), one thread then needs it for write
// (mmap), and more threads fault on fresh memory and queue behind the writer.
// Every thread exists before the pile-up starts: creating one later needs
// mmap_lock for its stack, and so does malloc; the marker goes out by write(2).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile int phase;
static volatile char *stall;

static void wait_phase(int p) { while (phase < p) usleep(1000); }
static void *fault_stall(void *a) { wait_phase(1); (void)stall[0]; return a; }
static void *writer(void *a) { wait_phase(2); mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); return a; }
static void *reader(void *a) { volatile char *p = a; wait_phase(3); (void)p[0]; return a; }

int main(int argc, char **argv)
{
	int nreaders = argc > 1 ? atoi(argv[1]) : 6;
	int kmsg = open("/dev/kmsg", O_WRONLY);
	int fd = open("/proc/vmtriage_fault", O_RDONLY);
	if (fd < 0 || kmsg < 0) { perror("open"); return 1; }
	stall = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (stall == MAP_FAILED) { perror("mmap"); return 1; }
	char *fresh = mmap(NULL, 4096 * (size_t)nreaders, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t t;
	pthread_create(&t, NULL, fault_stall, NULL);
	pthread_create(&t, NULL, writer, NULL);
	for (int i = 0; i < nreaders; i++)
		pthread_create(&t, NULL, reader, fresh + 4096 * (size_t)i);
	phase = 1;
	usleep(300000);
	phase = 2;
	usleep(300000);
	phase = 3;
	usleep(500000);
	static const char m[] = "VMTRIAGE-READY mmap\n";
	if (write(kmsg, m, strlen(m)) < 0) return 1;
	for (;;) pause();
}
