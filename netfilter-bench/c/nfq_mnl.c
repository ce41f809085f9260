/* The best hand-written C consumer we know of: libmnl on a raw netlink socket, one recvmmsg of
 * up to 64 datagrams per wake-up (the first waited for, the rest taken if already there), each
 * packet parsed with nfq_nlmsg_parse, and one NFQNL_MSG_VERDICT_BATCH accepting everything up
 * to the highest id after each receive.
 *
 * usage: nfq_mnl <queue> <count> <warmup> */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "common.h"

#define BURST 64
#define SLOT (0xffff + 4096)

static char bufs[BURST][SLOT] __attribute__((aligned(64)));
static struct mmsghdr msgs[BURST];
static struct iovec iovs[BURST];

static long count, warm;
static uint32_t last_id;
static struct snap start;
static volatile unsigned long sink;

static int on_message(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr *ph;

	(void)data;
	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return MNL_CB_ERROR;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	last_id = ntohl(ph->packet_id);
	if (attr[NFQA_PAYLOAD])
		sink += *(unsigned char *)mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
	if (++count == warm)
		take_snap(&start);
	return MNL_CB_OK;
}

static int send_msg(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		perror("mnl_socket_sendto");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char out[8192];
	uint16_t num = (uint16_t)arg_long(argc, argv, 1, 0);
	long target = arg_long(argc, argv, 2, 1000);
	long overruns = 0;
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct snap end;
	unsigned int portid;
	int fd, i;

	warm = arg_long(argc, argv, 3, 0);
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("mnl_socket");
		return 1;
	}
	portid = mnl_socket_get_portid(nl);
	fd = mnl_socket_get_fd(nl);

	nlh = nfq_nlmsg_put(out, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (send_msg(nl, nlh) < 0)
		return 1;
	nlh = nfq_nlmsg_put(out, NFQNL_MSG_CONFIG, num);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	if (send_msg(nl, nlh) < 0)
		return 1;

	for (i = 0; i < BURST; i++) {
		iovs[i].iov_base = bufs[i];
		iovs[i].iov_len = SLOT;
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (warm == 0)
		take_snap(&start);
	while (count < target) {
		int n = recvmmsg(fd, msgs, BURST, MSG_WAITFORONE, NULL);

		if (n < 0) {
			if (errno == ENOBUFS) {
				overruns++;
				continue;
			}
			perror("recvmmsg");
			break;
		}
		for (i = 0; i < n; i++) {
			if (mnl_cb_run(bufs[i], msgs[i].msg_len, 0, portid, on_message, NULL) ==
			    MNL_CB_ERROR) {
				perror("mnl_cb_run");
				return 1;
			}
		}
		nlh = nfq_nlmsg_put(out, NFQNL_MSG_VERDICT_BATCH, num);
		nfq_nlmsg_verdict_put(nlh, (int)last_id, NF_ACCEPT);
		if (send_msg(nl, nlh) < 0)
			break;
	}
	take_snap(&end);
	print_result(count, warm, &start, &end, overruns);
	mnl_socket_close(nl);
	return 0;
}
