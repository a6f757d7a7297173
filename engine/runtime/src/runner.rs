//! Threading modes: shared (all agents on one thread), dedicated (one pinned thread per agent)
//! and stepped (the caller drives one duty cycle at a time).
//!
//! The runner is the outermost loop and the only reader of the clock:
//!
//! * shared mode reads it once per round (one duty cycle of every agent) and passes the same
//!   `now` to every agent of the round;
//! * dedicated mode reads it once per iteration of each agent's own loop;
//! * stepped mode does not read it at all: the caller passes `now`.

use crate::agent::Agent;
use crate::clock::{Clock, Nanos};
use crate::idle::IdleStrategy;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A shared stop flag.
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag that is not set.
    pub fn new() -> StopFlag {
        StopFlag::default()
    }
    /// Sets the flag.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Release);
    }
    /// True once set.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Shared mode: runs `agents` round-robin on the calling thread until every agent is done, the
/// stop flag is set, or `until(now)` returns true. Returns the number of rounds.
///
/// The clock is read once per round; every agent of the round gets that `now`, and `until` sees
/// it too. (So a message that crosses several agents within one round is stamped with one time:
/// latency between agents measures the rounds a message waited, not the work inside a round.)
pub fn run_shared<A: Agent>(
    agents: &mut [A],
    idle: &mut impl IdleStrategy,
    clock: &Clock,
    stop: &StopFlag,
    mut until: impl FnMut(Nanos) -> bool,
) -> u64 {
    let mut cycles = 0;
    loop {
        let now = clock.now();
        let work = cycle_at(agents, now);
        cycles += 1;
        if stop.is_stopped() || until(now) || agents.iter().all(|a| a.is_done()) {
            break;
        }
        idle.idle(work);
    }
    for a in agents.iter_mut() {
        a.on_close();
    }
    cycles
}

/// One round: reads the clock once and runs one duty cycle of every agent, in order, at that
/// time; returns the work done. A loop that also needs `now` itself should read the clock and
/// call [`cycle_at`] instead (one reading per round).
#[inline]
pub fn cycle<A: Agent>(agents: &mut [A], clock: &Clock) -> usize {
    cycle_at(agents, clock.now())
}

/// One round at `now`: one duty cycle of every agent, in order; returns the work done.
#[inline]
pub fn cycle_at<A: Agent>(agents: &mut [A], now: Nanos) -> usize {
    let mut work = 0;
    for a in agents.iter_mut() {
        work += a.do_work(now);
    }
    work
}

/// Stepped mode: the caller (a test) drives every agent one duty cycle at a time at times it
/// chooses.
pub struct Stepped<A> {
    agents: Vec<A>,
}

impl<A: Agent> Stepped<A> {
    /// Wraps the agents.
    pub fn new(agents: Vec<A>) -> Self {
        Stepped { agents }
    }

    /// One duty cycle of every agent at `now`; returns the work done.
    pub fn step(&mut self, now: Nanos) -> usize {
        self.agents.iter_mut().map(|a| a.do_work(now)).sum()
    }

    /// Steps until a duty cycle does no work (or `max` steps); returns the steps taken.
    pub fn settle(&mut self, now: Nanos, max: usize) -> usize {
        for i in 0..max {
            if self.step(now) == 0 {
                return i + 1;
            }
        }
        max
    }

    /// The agents.
    pub fn agents(&self) -> &[A] {
        &self.agents
    }

    /// The agents, mutably.
    pub fn agents_mut(&mut self) -> &mut [A] {
        &mut self.agents
    }
}

/// Dedicated mode: each agent on its own thread, pinned to a core when `cores` names one.
pub struct Dedicated<A> {
    handles: Vec<JoinHandle<A>>,
    stop: StopFlag,
}

impl<A: Agent + Send + 'static> Dedicated<A> {
    /// Starts one thread per agent. Agent `i` is pinned to `cores[i]` when given (and the core
    /// exists); every thread uses a clone of `idle` and the same clock epoch, and reads the clock
    /// once per iteration of its loop.
    pub fn start<I: IdleStrategy + Clone + Send + 'static>(
        agents: Vec<A>,
        cores: &[usize],
        idle: I,
        clock: Clock,
        stop: StopFlag,
    ) -> std::io::Result<Self> {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        let mut handles = Vec::new();
        for (i, mut agent) in agents.into_iter().enumerate() {
            let core = cores
                .get(i)
                .and_then(|c| ids.iter().find(|id| id.id == *c).copied());
            let mut idle = idle.clone();
            let stop = stop.clone();
            let h = std::thread::Builder::new()
                .name(agent.name().chars().take(15).collect())
                .spawn(move || {
                    if let Some(c) = core {
                        core_affinity::set_for_current(c);
                    }
                    loop {
                        let now = clock.now();
                        let work = agent.do_work(now);
                        if stop.is_stopped() || agent.is_done() {
                            break;
                        }
                        idle.idle(work);
                    }
                    agent.on_close();
                    agent
                })?;
            handles.push(h);
        }
        Ok(Dedicated { handles, stop })
    }

    /// Signals every thread to stop and returns the agents.
    pub fn stop_and_join(self) -> Vec<A> {
        self.stop.stop();
        self.join()
    }

    /// Waits for every agent to finish (done or stopped) and returns them.
    pub fn join(self) -> Vec<A> {
        self.handles
            .into_iter()
            .map(|h| h.join().expect("agent thread panicked"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idle::{BusySpin, Yield};

    struct Counter {
        left: u32,
        closed: bool,
    }

    impl Agent for Counter {
        fn name(&self) -> &str {
            "counter"
        }
        fn do_work(&mut self, _now: Nanos) -> usize {
            if self.left > 0 {
                self.left -= 1;
                1
            } else {
                0
            }
        }
        fn is_done(&self) -> bool {
            self.left == 0
        }
        fn on_close(&mut self) {
            self.closed = true;
        }
    }

    #[test]
    fn shared_runs_until_all_done() {
        let mut a = [
            Counter {
                left: 3,
                closed: false,
            },
            Counter {
                left: 5,
                closed: false,
            },
        ];
        let n = run_shared(
            &mut a,
            &mut BusySpin,
            &Clock::new(),
            &StopFlag::new(),
            |_| false,
        );
        assert_eq!(n, 5);
        assert!(a.iter().all(|c| c.left == 0 && c.closed));
    }

    /// Records the time of every duty cycle.
    struct Stamps(Vec<Nanos>, usize);

    impl Agent for Stamps {
        fn name(&self) -> &str {
            "stamps"
        }
        fn do_work(&mut self, now: Nanos) -> usize {
            self.0.push(now);
            1
        }
        fn is_done(&self) -> bool {
            self.0.len() >= self.1
        }
    }

    #[test]
    fn shared_reads_the_clock_once_per_round() {
        let mut a = [Stamps(Vec::new(), 200), Stamps(Vec::new(), 200)];
        let mut seen = Vec::new();
        let n = run_shared(
            &mut a,
            &mut BusySpin,
            &Clock::new(),
            &StopFlag::new(),
            |now| {
                seen.push(now);
                false
            },
        );
        assert_eq!(n, 200);
        assert_eq!(a[0].0, a[1].0, "every agent of a round sees the same time");
        assert_eq!(seen, a[0].0, "`until` sees the round's time");
        assert!(a[0].0.windows(2).all(|w| w[0] <= w[1]), "monotonic");
    }

    #[test]
    fn stepped_and_dedicated() {
        let mut s = Stepped::new(vec![Counter {
            left: 2,
            closed: false,
        }]);
        assert_eq!(s.step(0), 1);
        assert_eq!(s.settle(0, 10), 2);
        let d = Dedicated::start(
            vec![
                Counter {
                    left: 100,
                    closed: false,
                },
                Counter {
                    left: 7,
                    closed: false,
                },
            ],
            &[0, 1],
            Yield,
            Clock::new(),
            StopFlag::new(),
        )
        .unwrap();
        let agents = d.join();
        assert!(agents.iter().all(|c| c.left == 0 && c.closed));
    }
}
