//! Time as the engine sees it: nanoseconds since the Unix epoch, advanced by a monotonic clock
//! (CLOCK_MONOTONIC through `Instant`) from a Unix-time reading taken once at start.
//!
//! Only the runner (the outermost loop) reads the clock, once per duty cycle, and passes the
//! value down; every piece of logic takes `now: Nanos` as a parameter.

use std::time::Instant;

/// Nanoseconds since the Unix epoch (monotonic: never steps back with wall-clock changes).
pub type Nanos = u64;

/// A monotonic clock reporting Unix-epoch nanoseconds (the session layer stamps SendingTime
/// with it).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
    unix_at_epoch: Nanos,
}

impl Clock {
    /// A clock starting now.
    pub fn new() -> Clock {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as Nanos);
        Clock {
            epoch: Instant::now(),
            unix_at_epoch: unix,
        }
    }

    /// The monotonic instant the clock started at.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Nanoseconds since the Unix epoch.
    #[inline]
    pub fn now(&self) -> Nanos {
        self.unix_at_epoch + self.epoch.elapsed().as_nanos() as Nanos
    }

    /// Nanoseconds since the clock started (for printing relative times).
    pub fn since_start(&self, t: Nanos) -> Nanos {
        t.saturating_sub(self.unix_at_epoch)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
