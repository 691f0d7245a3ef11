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

/* Where a download goes, from the command as sent ("request download ID
 * FILE [-o PATH]" or "ID --submitted [--to DIR]"): the client decides
 * where it writes, never csodd. */
typedef struct download_sink {
	int parsed;
	ctl_download dl;
	int dir_fd; /* --submitted: the folder the files go to */
	int out;    /* the file being written */
} download_sink;

static int parse_download(download_sink *s, int argc, char **argv)
{
	if (s->parsed)
		return 0;
	if (argc < 2 || strcmp(argv[0], "request") != 0 || strcmp(argv[1], "download") != 0) {
		ctl_error("csodd sent a file for a command that downloads none");
		return -1;
	}
	if (ctl_download_args(argc - 1, argv + 1, &s->dl) < 0)
		return -1;
	s->parsed = 1;
	if (s->dl.submitted &&
	    (s->dir_fd = open(s->dl.dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		ctl_error("%s: %s", s->dl.dest, strerror(errno));
		return -1;
	}
	return 0;
}

/* The bytes of one 'f' frame. A single download's file is made at its
 * first frame; a file of --submitted only after csodd named it. */
static int sink_data(download_sink *s, int argc, char **argv, const char *buf, size_t len)
{
	if (parse_download(s, argc, argv) < 0)
		return 1;
	if (s->out < 0 && s->dl.submitted)
		return ctl_error("csodd sent a file's bytes before its name");
	if (s->out < 0 &&
	    (s->out = open(s->dl.dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return ctl_error("%s: %s", s->dl.dest, strerror(errno));
	if (csod_wire_write_all(s->out, buf, len) < 0)
		return ctl_error("cannot write the download: %s", strerror(errno));
	return -1;
}

static int sink_close(download_sink *s)
{
	int rc = s->out >= 0 && close(s->out) < 0
	             ? ctl_error("cannot write the download: %s", strerror(errno))
	             : 0;
	s->out = -1;
	return rc;
}

/* A 'n' frame: the next file of --submitted, named by csodd, created in the
 * caller's folder as a new file (never over one, never through a link). */
static int sink_name(download_sink *s, int argc, char **argv, char *buf, size_t len)
{
	if (parse_download(s, argc, argv) < 0)
		return 1;
	if (!s->dl.submitted)
		return ctl_error("csodd named a file for a download of one file");
	if (sink_close(s) != 0)
		return 1;
	if (!ctl_plain_name(buf, len))
		return ctl_error("csodd named a file that is not a plain file name");
	buf[len] = '\0';
	if ((s->out = ctl_open_new(s->dir_fd, s->dl.dest, buf)) < 0)
		return 1;
	printf("%s/%s\n", s->dl.dest, buf);
	return -1;
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
	static char buf[CSOD_WIRE_MAX_DATA + 1];
	download_sink sink = {.dir_fd = -1, .out = -1};
	int status = -1;
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
			status = sink_data(&sink, argc, argv, buf, len);
		} else if (tag == CSOD_WIRE_NAME) {
			status = sink_name(&sink, argc, argv, buf, len);
		} else if (tag == CSOD_WIRE_EXIT && len == 4) {
			uint32_t v;
			memcpy(&v, buf, 4);
			status = (int)(ntohl(v) & 0xff);
		} else {
			status = ctl_error("csodd: an answer of unknown kind %d", tag);
		}
	}
	if (sink_close(&sink) != 0 && status == 0)
		status = 1;
	if (sink.dir_fd >= 0)
		close(sink.dir_fd);
	close(fd);
	return status;
}
