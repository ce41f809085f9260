/* A libnetfilter_queue consumer that batches its verdicts: it drains every datagram already
 * waiting (non-blocking recv, at most <batch> packets), then accepts them all with one
 * nfq_set_verdict_batch for the highest id.
 *
 * usage: nfq_batch <queue> <count> <warmup> [batch (64)] */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "common.h"

static long count, warm;
static uint32_t last_id;
static struct snap start;

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
		     void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *payload;

	(void)qh;
	(void)msg;
	(void)data;
	(void)nfq_get_payload(nfa, &payload);
	if (ph)
		last_id = ntohl(ph->packet_id);
	if (++count == warm)
		take_snap(&start);
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[0x10000 + 4096] __attribute__((aligned));
	int num = (int)arg_long(argc, argv, 1, 0);
	long target = arg_long(argc, argv, 2, 1000);
	long batch = arg_long(argc, argv, 4, 64);
	long overruns = 0, pending = 0;
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	struct snap end;
	int fd;

	warm = arg_long(argc, argv, 3, 0);
	h = nfq_open();
	if (!h) {
		perror("nfq_open");
		return 1;
	}
	qh = nfq_create_queue(h, (uint16_t)num, on_packet, NULL);
	if (!qh) {
		perror("nfq_create_queue");
		return 1;
	}
	if (nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff) < 0) {
		perror("nfq_set_mode");
		return 1;
	}
	fd = nfq_fd(h);
	printf("ready\n");
	fflush(stdout);
	if (warm == 0)
		take_snap(&start);
	while (count < target) {
		/* Block only when nothing is pending a verdict. */
		ssize_t n = recv(fd, buf, sizeof(buf), pending ? MSG_DONTWAIT : 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				nfq_set_verdict_batch(qh, last_id, NF_ACCEPT);
				pending = 0;
				continue;
			}
			if (errno == ENOBUFS) {
				overruns++;
				continue;
			}
			perror("recv");
			break;
		}
		long before = count;
		nfq_handle_packet(h, buf, (int)n);
		pending += count - before;
		if (pending >= batch || count >= target) {
			nfq_set_verdict_batch(qh, last_id, NF_ACCEPT);
			pending = 0;
		}
	}
	take_snap(&end);
	print_result(count, warm, &start, &end, overruns);
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
