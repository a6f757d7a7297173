//! EAL initialisation, once per process.

use std::ffi::{c_char, c_int, CString};
use std::sync::{Mutex, OnceLock};

use super::bindings;
use crate::error::{Error, Result};

/// Proof that DPDK's EAL is initialised in this process. Obtained from [`Eal::init`]; other
/// wrappers take `&Eal` so they cannot run before it.
#[derive(Debug)]
pub struct Eal {
    args: Vec<String>,
}

static EAL: OnceLock<Eal> = OnceLock::new();
static INIT: Mutex<Option<String>> = Mutex::new(None);

impl Eal {
    /// Initialises the EAL with `args` (argv\[0\] first, e.g. from
    /// [`EalConfig::args`](crate::EalConfig::args)). A second call with the same arguments returns
    /// the same `Eal`; with other arguments it is [`Error::EalAlreadyInitialized`]. After a failed
    /// `rte_eal_init` every later call is [`Error::EalInitFailedEarlier`] (DPDK cannot retry).
    pub fn init(args: &[String]) -> Result<&'static Eal> {
        let mut failed = INIT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = EAL.get() {
            if e.args == args {
                return Ok(e);
            }
            return Err(Error::EalAlreadyInitialized {
                running: e.args.clone(),
                requested: args.to_vec(),
            });
        }
        if let Some(why) = failed.as_ref() {
            return Err(Error::EalInitFailedEarlier(why.clone()));
        }
        let mut cargs = Vec::with_capacity(args.len());
        for a in args {
            cargs.push(CString::new(a.as_str()).map_err(|_| {
                Error::InvalidConfig(format!("EAL argument {a:?} contains a NUL byte"))
            })?);
        }
        // DPDK may keep pointers into argv for the life of the process: leak the strings.
        let argv: &'static mut [*mut c_char] =
            Vec::leak(cargs.into_iter().map(|c| c.into_raw()).collect::<Vec<_>>());
        let argc = argv.len() as c_int;
        // SAFETY: argv holds argc valid NUL-terminated strings that are never freed; the INIT
        // mutex serialises calls and EAL is only set once, so rte_eal_init runs at most once.
        let rc = unsafe { bindings::rte_eal_init(argc, argv.as_mut_ptr()) };
        if rc < 0 {
            let e = super::err_errno("rte_eal_init", &format!("args {args:?}"));
            *failed = Some(e.to_string());
            return Err(e);
        }
        Ok(EAL.get_or_init(|| Eal {
            args: args.to_vec(),
        }))
    }

    /// The EAL if it has been initialised.
    pub fn get() -> Option<&'static Eal> {
        EAL.get()
    }

    /// The arguments the EAL runs with.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// NUMA socket of the calling thread (`rte_socket_id`).
    pub fn socket_id(&self) -> u32 {
        // SAFETY: EAL is initialised (self exists); reads per-thread state only.
        unsafe { bindings::rte_socket_id() }
    }

    /// The calling thread's lcore id, `None` for a thread DPDK did not create or register.
    pub fn lcore_id(&self) -> Option<u32> {
        // SAFETY: reads a thread-local value.
        let id = unsafe { bindings::fixdpdk_lcore_id() };
        (id != bindings::LCORE_ID_ANY).then_some(id)
    }

    /// NUMA node of port `port_id` (`None` for virtual devices or an unknown port). Put the
    /// port's mempool and polling core on it.
    pub fn port_socket(&self, port_id: u16) -> Option<u32> {
        // SAFETY: EAL is initialised; an unknown id returns a negative value.
        let s = unsafe { bindings::rte_eth_dev_socket_id(port_id) };
        u32::try_from(s).ok()
    }

    /// Number of usable Ethernet ports.
    pub fn port_count(&self) -> u16 {
        // SAFETY: EAL is initialised.
        unsafe { bindings::rte_eth_dev_count_avail() }
    }

    /// The port id of the device named `name` (a vdev name such as `net_memif0`, or a PCI
    /// address such as `0000:3b:00.0`).
    pub fn port_by_name(&self, name: &str) -> Result<u16> {
        let c = CString::new(name)
            .map_err(|_| Error::InvalidConfig(format!("port name {name:?} has a NUL")))?;
        let mut id = 0u16;
        // SAFETY: c is a valid C string for the call; id is a valid out-pointer.
        let rc = unsafe { bindings::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        if rc < 0 {
            return Err(super::err_rc("rte_eth_dev_get_port_by_name", rc, name));
        }
        Ok(id)
    }
}
