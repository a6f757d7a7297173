//! DPDK frame I/O: thin bindings, EAL/port/mempool wrappers, smoltcp device (work in progress).
