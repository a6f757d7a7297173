//! `Transport=dpdk`: connectors over fixdpdk's smoltcp stack on a DPDK port (stub; being built).

use fixsession::settings::SessionSettings;

/// Accepts FIX connections on a DPDK port (not built yet).
pub struct DpdkAcceptor;

/// Connects to a FIX acceptor over a DPDK port (not built yet).
pub struct DpdkInitiator;

/// Builds the acceptor of session `s` from its `Dpdk*` settings.
pub fn acceptor(s: &SessionSettings) -> Result<DpdkAcceptor, String> {
    Err(format!("{}: Transport=dpdk is not built yet", s.session_key()))
}

/// Builds the initiator of session `s` from its `Dpdk*` settings.
pub fn initiator(s: &SessionSettings) -> Result<DpdkInitiator, String> {
    Err(format!("{}: Transport=dpdk is not built yet", s.session_key()))
}
