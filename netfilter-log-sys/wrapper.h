/* Everything netfilter-log-sys binds, in the order that makes bindgen see the right thing. */

/* libc first: its <netinet/in.h> tells <linux/in.h> (pulled in by <linux/netfilter.h>) to
 * leave out what libc already defines. */
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <netinet/in.h>

/*
 * The kernel's uapi headers come BEFORE the libraries' headers. libnetfilter_log ships a stale copy of
 * <linux/netfilter/nfnetlink_log.h> (libnetfilter_log/linux_nfnetlink_log.h) under the same
 * include guard; including the kernel's first makes that copy a no-op, so the bindings carry the
 * kernel's newer attributes (NFULA_VLAN, NFULA_L2HDR).
 */
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#include <libnetfilter_log/libnetfilter_log.h>

/*
 * Exported by libnetfilter_log.so (since 1.0.2) but not declared in its header. Declared here,
 * with the definition's signature, so that bindgen binds it like every other function.
 * It reads the conntrack id from NFULA_CT, which the kernel sends with NFULNL_CFG_F_CONNTRACK.
 */
int nflog_get_ctid(struct nflog_data *nfad, uint32_t *id);
