//! FFI to the Verilated RTL (`csrc/shim.cpp`). Every `unsafe` of the crate is here.

use std::ffi::CString;
use std::path::Path;
use std::ptr::NonNull;

/// Inputs of one cycle; layout matches `struct SigIn` in `csrc/shim.cpp`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SigIn {
    pub s_tdata: u64,
    pub csr_addr: u32,
    pub csr_wdata: u32,
    pub s_tuser: u16,
    pub s_tkeep: u8,
    pub s_tvalid: u8,
    pub s_tlast: u8,
    pub m_tready: u8,
    pub csr_valid: u8,
    pub csr_we: u8,
    pub rst: u8,
}

/// Outputs of one cycle; layout matches `struct SigOut` in `csrc/shim.cpp`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SigOut {
    pub m_tdata: [u64; 4],
    pub csr_rdata: u32,
    pub s_tready: u8,
    pub m_tvalid: u8,
    pub csr_ready: u8,
    pub csr_rvalid: u8,
}

#[repr(C)]
struct FsSim {
    _opaque: [u8; 0],
}

extern "C" {
    fn fs_new() -> *mut FsSim;
    fn fs_free(s: *mut FsSim);
    fn fs_tick(s: *mut FsSim, inp: *const SigIn, out: *mut SigOut);
    fn fs_trace_open(s: *mut FsSim, path: *const std::os::raw::c_char) -> i32;
    fn fs_trace_close(s: *mut FsSim);
    fn fs_snapshot(s: *mut FsSim) -> i32;
    fn fs_restore(s: *mut FsSim) -> i32;
}

/// Owner of one Verilated `fix_sequencer` instance (its own `VerilatedContext`).
pub struct Model {
    p: NonNull<FsSim>,
}

// SAFETY: the instance is owned exclusively by this value; every access goes through `&mut self`
// and the Verilated model keeps no thread-local state outside its own context.
unsafe impl Send for Model {}

impl Model {
    /// A new instance with `rst` high and `clk` low.
    pub fn new() -> Model {
        // SAFETY: fs_new has no preconditions; it returns a heap object or aborts on OOM.
        let p = unsafe { fs_new() };
        Model {
            p: NonNull::new(p).expect("fs_new returned null"),
        }
    }

    /// One clock cycle (see `fs_tick`).
    pub fn tick(&mut self, inp: &SigIn) -> SigOut {
        let mut out = SigOut::default();
        // SAFETY: `self.p` is a live instance from fs_new (freed only in Drop); `inp` and `out`
        // are valid for the call and have the C layout declared in the shim.
        unsafe { fs_tick(self.p.as_ptr(), inp, &mut out) };
        out
    }

    /// Starts a VCD waveform at `path` (every later cycle is dumped). False if it cannot.
    pub fn trace_open(&mut self, path: &Path) -> bool {
        let Some(s) = path.to_str().and_then(|s| CString::new(s).ok()) else {
            return false;
        };
        // SAFETY: live instance; `s` is a NUL-terminated string that outlives the call (the
        // writer copies the name).
        unsafe { fs_trace_open(self.p.as_ptr(), s.as_ptr()) == 1 }
    }

    /// Saves the instance's state (replacing an earlier snapshot). False if out of memory.
    pub fn snapshot(&mut self) -> bool {
        // SAFETY: live instance; the shim copies the model's root object into a buffer it owns.
        unsafe { fs_snapshot(self.p.as_ptr()) == 1 }
    }

    /// Puts the instance back in the state of its last [`Model::snapshot`]. False (and no
    /// change) if there is none.
    pub fn restore(&mut self) -> bool {
        // SAFETY: live instance; the shim copies back only a snapshot taken from this same
        // instance, so every pointer inside the restored bytes is the one the instance holds.
        unsafe { fs_restore(self.p.as_ptr()) == 1 }
    }

    /// Flushes and closes the waveform, if any.
    pub fn trace_close(&mut self) {
        // SAFETY: live instance; closing without an open trace is a no-op in the shim.
        unsafe { fs_trace_close(self.p.as_ptr()) }
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: `self.p` came from fs_new and is freed exactly once, here.
        unsafe { fs_free(self.p.as_ptr()) }
    }
}
