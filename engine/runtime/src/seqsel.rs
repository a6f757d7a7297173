//! Choosing the sequencer a session runs on (`docs/sequencer.md` section 7).
//!
//! | spec | sequencer |
//! |---|---|
//! | `fast` (or empty) | the software fast path, `hwsim::fast::FastPath` (default) |
//! | `model` | the cycle model `hwsim::cycle::CycleModel` driven through its pins (`hwsim::sequencer::PinSequencer`) |
//! | `rtl` | the Verilated RTL (`fpga_sim::Rtl`) through its pins; needs the `rtl` cargo feature |
//! | `card:<path>` | a card behind the memory-mapped seam at `<path>` (`hwsim::sequencer::CardSequencer`) |
//!
//! `model` and `rtl` are simulations: they are exact (bit for bit the card's verdicts) and slow
//! (a few hundred thousand to a few million bytes per second); they exist to run the engine's
//! tests with the hardware's logic in the loop.

use hwsim::cycle::{Config, CycleModel};
use hwsim::fast::FastPath;
use hwsim::sequencer::{CardSequencer, PinSequencer, Sequencer};

/// The specs [`from_spec`] accepts, for help texts.
pub const SPECS: &str = "fast | model | rtl | card:<path>";

/// True when this build can run the Verilated RTL (`--features rtl`).
pub const HAVE_RTL: bool = cfg!(feature = "rtl");

/// How to get a build that runs the RTL.
pub const RTL_HINT: &str = "the `rtl` sequencer needs fixeng built with the `rtl` feature \
     (verilator 5 and a C++17 compiler): cargo build -p fixeng --release --features rtl";

fn check_params(window: u32, max_msg: usize) -> Result<(), String> {
    if !window.is_power_of_two() || window < 256 {
        return Err(format!(
            "sequencer window {window} must be a power of two of at least 256"
        ));
    }
    if max_msg == 0 || max_msg > hwsim::contract::LENGTH_MASK as usize {
        return Err(format!("sequencer MAX_MSG {max_msg} must be in 1..2^24"));
    }
    Ok(())
}

/// The sequencer block configuration for one engine session with `window` and `max_msg`.
pub fn block_config(window: u32, max_msg: usize) -> Config {
    Config {
        window,
        max_msg: max_msg as u32,
        ..Config::default()
    }
}

/// Builds the sequencer `spec` names (see the module docs) for one session (index 0) with
/// received-ahead window `window` and maximum message length `max_msg` (those of
/// [`crate::pipeline::sequencer_window`] / [`crate::pipeline::sequencer_max_msg`]).
///
/// # Errors
/// An unknown spec, parameters the sequencer cannot have (the RTL is built for `W = 256`,
/// `MAX_MSG = 4096`; a card reports its window), `rtl` without the `rtl` feature, or a card map
/// that cannot be opened.
pub fn from_spec(spec: &str, window: u32, max_msg: usize) -> Result<Box<dyn Sequencer>, String> {
    check_params(window, max_msg)?;
    match spec.trim() {
        "" | "fast" => Ok(Box::new(FastPath::new(1, window, max_msg))),
        "model" => {
            let cfg = block_config(window, max_msg);
            Ok(Box::new(PinSequencer::new(
                CycleModel::new(cfg),
                cfg,
                1,
                "model",
            )?))
        }
        "rtl" => rtl(window, max_msg),
        s => match s.strip_prefix("card:") {
            Some("") => Err("card: needs the path of the card's map, e.g. card:/dev/uio0".into()),
            Some(path) => {
                let c = CardSequencer::open(std::path::Path::new(path), 1, max_msg)?;
                let card_window = 1u64 << ((c.params() >> 8) & 0x1F);
                if card_window != u64::from(window) {
                    return Err(format!(
                        "card {path} has a window of {card_window}, the session needs {window}"
                    ));
                }
                Ok(Box::new(c))
            }
            None => Err(format!("unknown sequencer `{s}`; expected {SPECS}")),
        },
    }
}

#[cfg(feature = "rtl")]
fn rtl(window: u32, max_msg: usize) -> Result<Box<dyn Sequencer>, String> {
    let r = fpga_sim::Rtl::new();
    let cfg = *r.config();
    if cfg.window != window || cfg.max_msg as usize != max_msg {
        return Err(format!(
            "the Verilated RTL is built with WINDOW = {} and MAX_MSG = {}; the session needs \
             {window} and {max_msg}",
            cfg.window, cfg.max_msg
        ));
    }
    Ok(Box::new(PinSequencer::new(r, cfg, 1, "rtl")?))
}

#[cfg(not(feature = "rtl"))]
fn rtl(_window: u32, _max_msg: usize) -> Result<Box<dyn Sequencer>, String> {
    Err(RTL_HINT.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(spec: &str, window: u32, max_msg: usize) -> String {
        from_spec(spec, window, max_msg).err().expect("an error")
    }

    #[test]
    fn names_and_errors() {
        assert_eq!(from_spec("", 256, 4096).unwrap().name(), "fast");
        assert_eq!(from_spec("fast", 512, 1000).unwrap().name(), "fast");
        assert_eq!(from_spec("model", 256, 4096).unwrap().name(), "model");
        assert!(err("quantum", 256, 4096).contains("unknown sequencer `quantum`"));
        assert!(err("fast", 300, 4096).contains("power of two"));
        assert!(err("model", 256, 0).contains("MAX_MSG"));
        assert!(err("card:", 256, 4096).contains("path"));
        assert!(err("card:/nonexistent/bar0", 256, 4096).contains("/nonexistent/bar0"));
        if HAVE_RTL {
            assert_eq!(from_spec("rtl", 256, 4096).unwrap().name(), "rtl");
            assert!(err("rtl", 512, 4096).contains("WINDOW = 256"));
        } else {
            assert!(err("rtl", 256, 4096).contains("--features rtl"));
        }
    }

    #[test]
    fn card_window_must_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bar0");
        let cfg = block_config(512, 4096);
        let _card =
            hwsim::card::RingWriter::create_with_cmd(&path, 4, 14, cfg.params_reg()).expect("map");
        let spec = format!("card:{}", path.display());
        assert!(err(&spec, 256, 4096).contains("window of 512"));
        assert_eq!(from_spec(&spec, 512, 4096).unwrap().name(), "card");
    }
}
