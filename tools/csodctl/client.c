/* csodctl as a client of csodd's control socket: sends the command and
 * relays what csodd's csodctl answers (daemon/control_wire.h): its output,
 * its messages, a download (written here, as the calling user) and its
 * exit status. The caller's identity is the kernel's (SO_PEERCRED on
 * csodd's side); nothing sent here claims one. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../daemon/control_wire.h"
#include "ctl.h"

int ctl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The file a download goes to, from the command as sent ("request
 * download ID FILE [-o PATH]"): the client decides where it writes. */
static int open_download(int argc, char **argv)
{
	const char *id, *file, *dest;
	if (argc < 2 || strcmp(argv[0], "request") != 0 || strcmp(argv[1], "download") != 0) {
		ctl_error("csodd sent a file for a command that downloads none");
		return -1;
	}
	if (ctl_download_args(argc - 1, argv + 1, &id, &file, &dest) < 0)
		return -1;
	int fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		ctl_error("%s: %s", dest, strerror(errno));
	return fd;
}

int ctl_client(int fd, int json, int argc, char **argv)
{
	char *args[CSOD_WIRE_MAX_ARGS];
	int n = 0;
	if (argc + json > CSOD_WIRE_MAX_ARGS) {
		close(fd);
		return ctl_error("more than %d arguments", CSOD_WIRE_MAX_ARGS);
	}
	if (json)
		args[n++] = "--json";
	for (int i = 0; i < argc; i++)
		args[n++] = argv[i];
	/* csodd may answer before it reads (when it is busy) and close: its
	 * answer is read even when sending failed. */
	int send_error = csod_wire_send_request(fd, n, args) < 0 ? errno : 0;
	shutdown(fd, SHUT_WR);
	static char buf[CSOD_WIRE_MAX_DATA];
	int out = -1, status = -1;
	while (status < 0) {
		int tag;
		size_t len;
		csod_error err;
		if (csod_wire_read_frame(fd, &tag, buf, &len, &err) < 0) {
			status = send_error ? ctl_error("cannot send the command to csodd: %s",
			                                strerror(send_error))
			                    : ctl_error("csodd: %s", err.msg);
		} else if (tag == CSOD_WIRE_STDOUT) {
			fwrite(buf, 1, len, stdout);
		} else if (tag == CSOD_WIRE_STDERR) {
			fflush(stdout);
			fwrite(buf, 1, len, stderr);
		} else if (tag == CSOD_WIRE_FILE) {
			if (out < 0 && (out = open_download(argc, argv)) < 0)
				status = 1;
			else if (csod_wire_write_all(out, buf, len) < 0)
				status =
				    ctl_error("cannot write the download: %s", strerror(errno));
		} else if (tag == CSOD_WIRE_EXIT && len == 4) {
			uint32_t v;
			memcpy(&v, buf, 4);
			status = (int)(ntohl(v) & 0xff);
		} else {
			status = ctl_error("csodd: an answer of unknown kind %d", tag);
		}
	}
	if (out >= 0 && close(out) < 0 && status == 0)
		status = ctl_error("cannot write the download: %s", strerror(errno));
	close(fd);
	return status;
}
