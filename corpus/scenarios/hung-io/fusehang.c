// A FUSE filesystem whose daemon stops answering: `fusehang serve DIR`
// mounts one read-only file, DIR/data, speaking the FUSE protocol on
// /dev/fuse itself (no libfuse in the guest). It answers INIT, LOOKUP,
// GETATTR and OPEN until the first READ; from then on it answers nothing
// but INTERRUPT (with ENOSYS, as a daemon without interrupt support does),
// so every request waits for good while the daemon stays alive, reading
// /dev/fuse. `fusehang read FILE` and `fusehang stat PATH` are the victims:
// they catch SIGUSR1 so that a signal moves their wait in
// request_wait_answer from interruptible to killable (D). Readers open the
// file, mark /tmp/fusehang.opened.PID, and read once /tmp/fusehang.go exists.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

enum { LOOKUP = 1, GETATTR = 3, OPEN = 14, READ = 15, RELEASE = 18, FLUSH = 25, INIT = 26,
       INTERRUPT = 36 };

struct in_header { uint32_t len, opcode; uint64_t unique, nodeid; uint32_t uid, gid, pid;
		   uint16_t total_extlen, padding; };
struct out_header { uint32_t len; int32_t error; uint64_t unique; };
struct attr { uint64_t ino, size, blocks, atime, mtime, ctime;
	      uint32_t atimensec, mtimensec, ctimensec, mode, nlink, uid, gid, rdev, blksize, flags; };
struct entry_out { uint64_t nodeid, generation, entry_valid, attr_valid;
		   uint32_t entry_valid_nsec, attr_valid_nsec; struct attr attr; };
struct attr_out { uint64_t attr_valid; uint32_t attr_valid_nsec, dummy; struct attr attr; };
struct open_out { uint64_t fh; uint32_t open_flags, padding; };
struct init_in { uint32_t major, minor, max_readahead, flags; };
// The 7.23 layout; the kernel takes a reply of any size up to its own.
struct init_out { uint32_t major, minor, max_readahead, flags; uint16_t max_background,
		  congestion_threshold; uint32_t max_write, time_gran; uint32_t unused[9]; };

#define FILE_SIZE (1 << 20)

static int dev;

static void reply(uint64_t unique, int error, const void *body, size_t n)
{
	char buf[512];
	struct out_header h = { sizeof h + n, error, unique };
	memcpy(buf, &h, sizeof h);
	if (n)
		memcpy(buf + sizeof h, body, n);
	if (write(dev, buf, sizeof h + n) < 0 && errno != ENOENT)
		perror("fusehang: reply");
}

static void fill_attr(struct attr *a, uint64_t node)
{
	memset(a, 0, sizeof *a);
	a->ino = node;
	a->nlink = 1;
	a->blksize = 4096;
	if (node == 1) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
	} else {
		a->mode = S_IFREG | 0444;
		a->size = FILE_SIZE;
		a->blocks = FILE_SIZE / 512;
	}
}

static int serve(const char *dir)
{
	static char buf[1 << 18];  // above FUSE_MIN_READ_BUFFER and any write
	char opts[128];
	int stalled = 0;
	mkdir(dir, 0755);
	dev = open("/dev/fuse", O_RDWR);
	if (dev < 0) { perror("fusehang: /dev/fuse"); return 1; }
	snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", dev);
	if (mount("vmtfuse", dir, "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
		perror("fusehang: mount");
		return 1;
	}
	for (;;) {
		ssize_t n = read(dev, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			perror("fusehang: read");
			return 1;
		}
		struct in_header *h = (struct in_header *)buf;
		void *arg = buf + sizeof *h;
		if (h->opcode == INTERRUPT) {
			reply(h->unique, -ENOSYS, NULL, 0);
			continue;
		}
		if (h->opcode == READ && !stalled) {
			stalled = 1;
			int k = open("/dev/kmsg", O_WRONLY);
			if (k >= 0) {
				// One write(2), one record (dprintf's did not reach the log).
				char m[96];
				int len = snprintf(m, sizeof m, "fusehang: stopped answering at READ of node %llu\n",
						   (unsigned long long)h->nodeid);
				if (write(k, m, len) < 0)
					perror("fusehang: /dev/kmsg");
				close(k);
			}
		}
		if (stalled)
			continue;
		switch (h->opcode) {
		case INIT: {
			struct init_in *in = arg;
			struct init_out o = { 7, 23, in->max_readahead, 0, 12, 9, 4096, 1, { 0 } };
			reply(h->unique, 0, &o, sizeof o);
			break;
		}
		case LOOKUP:
			if (h->nodeid == 1 && !strcmp(arg, "data")) {
				struct entry_out o = { 2, 0, 3600, 3600, 0, 0, { 0 } };
				fill_attr(&o.attr, 2);
				reply(h->unique, 0, &o, sizeof o);
			} else {
				reply(h->unique, -ENOENT, NULL, 0);
			}
			break;
		case GETATTR: {
			struct attr_out o = { 3600, 0, 0, { 0 } };
			fill_attr(&o.attr, h->nodeid);
			reply(h->unique, 0, &o, sizeof o);
			break;
		}
		case OPEN: {
			struct open_out o = { 1, 0, 0 };
			reply(h->unique, 0, &o, sizeof o);
			break;
		}
		case RELEASE:
		case FLUSH:
			reply(h->unique, 0, NULL, 0);
			break;
		default:
			reply(h->unique, -ENOSYS, NULL, 0);
		}
	}
}

static void on_usr1(int s) { (void)s; }

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2]);
	// The victims: a signal handler without SA_RESTART, so SIGUSR1
	// interrupts the interruptible wait and the kernel falls back to a
	// killable one (task state D) for the rest of it.
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);
	if (argc == 3 && !strcmp(argv[1], "read")) {
		// Every reader opens before any reads (an OPEN after the stall
		// would wait in the request path, not behind the page); then
		// all read the same page at the go-ahead.
		char b[4096], mark[64];
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0) { perror("fusehang: open"); return 1; }
		snprintf(mark, sizeof mark, "/tmp/fusehang.opened.%d", (int)getpid());
		close(open(mark, O_WRONLY | O_CREAT, 0644));
		while (access("/tmp/fusehang.go", F_OK))
			usleep(10000);
		for (;;)
			if (pread(fd, b, sizeof b, 0) < 0 && errno != EINTR) { perror("fusehang: read"); return 1; }
	}
	if (argc == 3 && !strcmp(argv[1], "stat")) {
		struct stat st;
		for (;;)
			if (stat(argv[2], &st) < 0 && errno != EINTR) { perror("fusehang: stat"); return 1; }
	}
	fprintf(stderr, "usage: fusehang serve DIR | read FILE | stat PATH\n");
	return 2;
}
