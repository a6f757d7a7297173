/* See shim.h. Each function forwards to a DPDK static-inline function or macro. */
#include <string.h>
#include "shim.h"

int fixdpdk_errno(void) { return rte_errno; }
unsigned fixdpdk_lcore_id(void) { return rte_lcore_id(); }

int fixdpdk_port_configure(uint16_t port_id, uint16_t nb_rx_q, uint16_t nb_tx_q)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	return rte_eth_dev_configure(port_id, nb_rx_q, nb_tx_q, &conf);
}

int fixdpdk_link_up(uint16_t port_id)
{
	struct rte_eth_link link;
	memset(&link, 0, sizeof(link));
	int rc = rte_eth_link_get_nowait(port_id, &link);
	if (rc < 0)
		return rc;
	return link.link_status == RTE_ETH_LINK_UP ? 1 : 0;
}

uint16_t fixdpdk_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t fixdpdk_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *fixdpdk_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }

int fixdpdk_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

void fixdpdk_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
uint8_t *fixdpdk_pktmbuf_mtod(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, uint8_t *); }
uint16_t fixdpdk_pktmbuf_data_len(const struct rte_mbuf *m) { return rte_pktmbuf_data_len(m); }
uint32_t fixdpdk_pktmbuf_pkt_len(const struct rte_mbuf *m) { return rte_pktmbuf_pkt_len(m); }
uint16_t fixdpdk_pktmbuf_nb_segs(const struct rte_mbuf *m) { return m->nb_segs; }
uint16_t fixdpdk_pktmbuf_headroom(const struct rte_mbuf *m) { return rte_pktmbuf_headroom(m); }
uint16_t fixdpdk_pktmbuf_tailroom(const struct rte_mbuf *m) { return rte_pktmbuf_tailroom(m); }
uint8_t *fixdpdk_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return (uint8_t *)rte_pktmbuf_append(m, len); }
uint8_t *fixdpdk_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len) { return (uint8_t *)rte_pktmbuf_prepend(m, len); }
int fixdpdk_pktmbuf_trim(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_trim(m, len); }
void fixdpdk_pktmbuf_reset(struct rte_mbuf *m) { rte_pktmbuf_reset(m); }
