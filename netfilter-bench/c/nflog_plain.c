/* The classic libnetfilter_log consumer: recv, nflog_handle_packet, count.
 *
 * Stops after <count> messages, or when nothing arrives for <idle_ms> (messages lost).
 * qthresh 0 leaves the kernel's batching (qthresh, nlbufsiz, timeout) at its defaults;
 * nlbufsiz 0 (or left out) leaves the kernel's batch buffer, a page.
 *
 * usage: nflog_plain <group> <count> <warmup> <qthresh> <idle_ms> [<nlbufsiz>] */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <libnetfilter_log/libnetfilter_log.h>

#include "common.h"

static long count, warm;
static struct snap start, last;

static int on_message(struct nflog_g_handle *gh, struct nfgenmsg *msg, struct nflog_data *nfa,
		      void *data)
{
	char *payload;

	(void)gh;
	(void)msg;
	(void)data;
	(void)nflog_get_payload(nfa, &payload);
	if (++count == warm)
		take_snap(&start);
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[0x20000 + 0x10000] __attribute__((aligned));
	int group = (int)arg_long(argc, argv, 1, 1);
	long target = arg_long(argc, argv, 2, 1000);
	long qthresh = arg_long(argc, argv, 4, 0);
	long idle_ms = arg_long(argc, argv, 5, 1500);
	long nlbufsiz = arg_long(argc, argv, 6, 0);
	long overruns = 0;
	struct nflog_handle *h;
	struct nflog_g_handle *gh;
	struct timeval tv = { .tv_sec = idle_ms / 1000, .tv_usec = (idle_ms % 1000) * 1000 };
	int fd;

	warm = arg_long(argc, argv, 3, 0);
	h = nflog_open();
	if (!h) {
		perror("nflog_open");
		return 1;
	}
	gh = nflog_bind_group(h, (uint16_t)group);
	if (!gh) {
		perror("nflog_bind_group");
		return 1;
	}
	if (nflog_set_mode(gh, NFULNL_COPY_PACKET, 0xffff) < 0) {
		perror("nflog_set_mode");
		return 1;
	}
	if (qthresh > 0 && nflog_set_qthresh(gh, (uint32_t)qthresh) < 0) {
		perror("nflog_set_qthresh");
		return 1;
	}
	if (nlbufsiz > 0 && nflog_set_nlbufsiz(gh, (uint32_t)nlbufsiz) < 0) {
		perror("nflog_set_nlbufsiz");
		return 1;
	}
	nflog_callback_register(gh, on_message, NULL);
	fd = nflog_fd(h);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* The same receive buffer as the Rust consumer asks for (LogBuilder::recv_buffer). */
	{
		int bytes = 4 << 20;

		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	}
	printf("ready\n");
	fflush(stdout);
	if (warm == 0)
		take_snap(&start);
	while (count < target) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == ENOBUFS) {
				overruns++;
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				perror("recv");
			break;
		}
		nflog_handle_packet(h, buf, (int)n);
	}
	if (count < warm)
		take_snap(&start);
	/* CPU up to the end (the idle wait costs none); wall time up to the last message: when
	 * the loop ended by waiting idle_ms for nothing, that wait is taken off. */
	take_snap(&last);
	if (count < target && last.wall_ns - idle_ms * 1000000LL > start.wall_ns)
		last.wall_ns -= idle_ms * 1000000LL;
	print_result(count, warm, &start, &last, overruns);
	nflog_unbind_group(gh);
	nflog_close(h);
	return 0;
}
