/* Thin C shim over DPDK 22.11's static-inline functions, so Rust can call them.
 * Compiled by build.rs with the flags of `pkg-config --cflags libdpdk`.
 * Regenerate the Rust side with scripts/gen-dpdk-bindings.sh after changing this file. */
#ifndef FIXDPDK_SHIM_H
#define FIXDPDK_SHIM_H

#include <stdint.h>
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_eth_ring.h>

/* rte_errno of the calling thread (rte_errno is a per-lcore TLS macro). */
int fixdpdk_errno(void);
/* rte_lcore_id(): the calling thread's lcore, or UINT32_MAX (LCORE_ID_ANY) for a non-EAL thread. */
unsigned fixdpdk_lcore_id(void);

/* rte_eth_dev_configure with a zeroed rte_eth_conf (no RSS, no offloads). */
int fixdpdk_port_configure(uint16_t port_id, uint16_t nb_rx_q, uint16_t nb_tx_q);
/* 1 if the link is up, 0 if down, negative errno on error (rte_eth_link_get_nowait). */
int fixdpdk_link_up(uint16_t port_id);

uint16_t fixdpdk_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
uint16_t fixdpdk_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts, uint16_t nb_pkts);

struct rte_mbuf *fixdpdk_pktmbuf_alloc(struct rte_mempool *mp);
int fixdpdk_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count);
void fixdpdk_pktmbuf_free(struct rte_mbuf *m);
/* rte_pktmbuf_mtod(m, uint8_t *): the first data byte of the first segment. */
uint8_t *fixdpdk_pktmbuf_mtod(struct rte_mbuf *m);
uint16_t fixdpdk_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t fixdpdk_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t fixdpdk_pktmbuf_nb_segs(const struct rte_mbuf *m);
uint16_t fixdpdk_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t fixdpdk_pktmbuf_tailroom(const struct rte_mbuf *m);
/* rte_pktmbuf_append / prepend: NULL when there is not enough room. */
uint8_t *fixdpdk_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
uint8_t *fixdpdk_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
/* rte_pktmbuf_trim: 0 on success, -1 when len exceeds the last segment's data. */
int fixdpdk_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
void fixdpdk_pktmbuf_reset(struct rte_mbuf *m);

#endif
