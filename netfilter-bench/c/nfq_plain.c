/* The classic libnetfilter_queue consumer: one recv, one nfq_handle_packet, one
 * nfq_set_verdict(NF_ACCEPT) per packet.
 *
 * usage: nfq_plain <queue> <count> <warmup> */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "common.h"

static long count, warm;
static struct snap start;

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
		     void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *payload;
	uint32_t id = ph ? ntohl(ph->packet_id) : 0;

	(void)msg;
	(void)data;
	(void)nfq_get_payload(nfa, &payload);
	nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
	if (++count == warm)
		take_snap(&start);
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[0x10000 + 4096] __attribute__((aligned));
	int num = (int)arg_long(argc, argv, 1, 0);
	long target = arg_long(argc, argv, 2, 1000);
	long overruns = 0;
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
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == ENOBUFS) {
				overruns++;
				continue;
			}
			perror("recv");
			break;
		}
		nfq_handle_packet(h, buf, (int)n);
	}
	take_snap(&end);
	print_result(count, warm, &start, &end, overruns);
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
