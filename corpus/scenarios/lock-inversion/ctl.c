/* ctl NAME FILE CMD: runs as task NAME (its comm), then writes CMD to FILE,
 * or reads FILE when CMD is "read": a daemon's call into a driver. */
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[64];
	int fd;

	if (argc != 4)
		return 2;
	prctl(PR_SET_NAME, argv[1]);
	fd = open(argv[2], O_RDWR);
	if (fd < 0)
		return 1;
	if (!strcmp(argv[3], "read"))
		return read(fd, buf, sizeof(buf)) < 0;
	return write(fd, argv[3], strlen(argv[3])) < 0;
}
