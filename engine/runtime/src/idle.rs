//! Idle strategies: what a runner does after a duty cycle in which its agents did nothing.

use std::time::Duration;

/// Decides what to do between duty cycles.
pub trait IdleStrategy {
    /// Called after every duty cycle with the work it did; idles only when `work == 0`.
    fn idle(&mut self, work: usize);
}

/// Spins (with the CPU's spin-loop hint): lowest latency, burns a core.
#[derive(Clone, Copy, Debug, Default)]
pub struct BusySpin;

impl IdleStrategy for BusySpin {
    #[inline]
    fn idle(&mut self, work: usize) {
        if work == 0 {
            std::hint::spin_loop();
        }
    }
}

/// Yields the thread to the scheduler when idle (good when cores are shared).
#[derive(Clone, Copy, Debug, Default)]
pub struct Yield;

impl IdleStrategy for Yield {
    #[inline]
    fn idle(&mut self, work: usize) {
        if work == 0 {
            std::thread::yield_now();
        }
    }
}

/// Aeron's backoff: spin `max_spins` times, then yield `max_yields` times, then park for a
/// period doubling from `min_park` to `max_park`; any work resets it.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// Spins before yielding.
    pub max_spins: u32,
    /// Yields before parking.
    pub max_yields: u32,
    /// First park duration.
    pub min_park: Duration,
    /// Longest park duration.
    pub max_park: Duration,
    spins: u32,
    yields: u32,
    park: Duration,
}

impl Backoff {
    /// A backoff strategy with the given limits.
    pub fn new(max_spins: u32, max_yields: u32, min_park: Duration, max_park: Duration) -> Self {
        Backoff {
            max_spins,
            max_yields,
            min_park,
            max_park,
            spins: 0,
            yields: 0,
            park: min_park,
        }
    }

    fn reset(&mut self) {
        self.spins = 0;
        self.yields = 0;
        self.park = self.min_park;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(100, 10, Duration::from_micros(1), Duration::from_millis(1))
    }
}

impl IdleStrategy for Backoff {
    fn idle(&mut self, work: usize) {
        if work > 0 {
            self.reset();
        } else if self.spins < self.max_spins {
            self.spins += 1;
            std::hint::spin_loop();
        } else if self.yields < self.max_yields {
            self.yields += 1;
            std::thread::yield_now();
        } else {
            std::thread::sleep(self.park);
            self.park = (self.park * 2).min(self.max_park);
        }
    }
}

/// Chosen at run time (settings file `IdleStrategy=busy|yield|backoff`).
#[derive(Clone, Copy, Debug)]
pub enum AnyIdle {
    /// [`BusySpin`].
    BusySpin(BusySpin),
    /// [`Yield`].
    Yield(Yield),
    /// [`Backoff`].
    Backoff(Backoff),
}

impl AnyIdle {
    /// Parses `busy`, `yield` or `backoff`.
    pub fn parse(s: &str) -> Option<AnyIdle> {
        match s.to_ascii_lowercase().as_str() {
            "busy" | "busyspin" | "spin" => Some(AnyIdle::BusySpin(BusySpin)),
            "yield" => Some(AnyIdle::Yield(Yield)),
            "backoff" => Some(AnyIdle::Backoff(Backoff::default())),
            _ => None,
        }
    }
}

impl IdleStrategy for AnyIdle {
    #[inline]
    fn idle(&mut self, work: usize) {
        match self {
            AnyIdle::BusySpin(s) => s.idle(work),
            AnyIdle::Yield(s) => s.idle(work),
            AnyIdle::Backoff(s) => s.idle(work),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_escalates_and_resets() {
        let mut b = Backoff::new(2, 1, Duration::from_nanos(1), Duration::from_nanos(4));
        b.idle(0);
        b.idle(0);
        assert_eq!((b.spins, b.yields), (2, 0));
        b.idle(0);
        assert_eq!(b.yields, 1);
        b.idle(0);
        assert_eq!(b.park, Duration::from_nanos(2));
        b.idle(0);
        b.idle(0);
        assert_eq!(b.park, Duration::from_nanos(4), "capped at max_park");
        b.idle(1);
        assert_eq!((b.spins, b.yields, b.park), (0, 0, Duration::from_nanos(1)));
        assert!(AnyIdle::parse("BACKOFF").is_some() && AnyIdle::parse("nope").is_none());
    }
}
