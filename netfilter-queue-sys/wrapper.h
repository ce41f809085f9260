/* Everything netfilter-queue-sys binds, in the order that makes bindgen see the right thing. */

/* libc first: its <netinet/in.h> tells <linux/in.h> (pulled in by <linux/netfilter.h>) to
 * leave out what libc already defines. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>

/*
 * The kernel's uapi headers come BEFORE the libraries' headers. libnetfilter_queue ships a stale copy of
 * <linux/netfilter/nfnetlink_queue.h> (libnetfilter_queue/linux_nfnetlink_queue.h) and libnfnetlink
 * one of <linux/netfilter/nfnetlink.h>; each copy uses the same include guard as the kernel's, so
 * whichever comes first wins. Including the kernel's here makes the library's copies no-ops, and
 * the bindings carry the kernel's newer attributes (NFQA_VLAN, NFQA_L2HDR, NFQA_PRIORITY, ...).
 */
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <libnfnetlink/libnfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnetfilter_queue/pktbuff.h>
#include <libnetfilter_queue/libnetfilter_queue_ipv4.h>
#include <libnetfilter_queue/libnetfilter_queue_ipv6.h>
#include <libnetfilter_queue/libnetfilter_queue_tcp.h>
#include <libnetfilter_queue/libnetfilter_queue_udp.h>
