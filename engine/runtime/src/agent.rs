//! Agents (Aeron style): a unit of work that is polled, never blocks, and says how much it did.

use crate::clock::Nanos;

/// A non-blocking unit of work driven by a runner.
pub trait Agent {
    /// Name for logs and thread names.
    fn name(&self) -> &str;

    /// Does one duty cycle's worth of work at time `now` and returns how much it did
    /// (0 means "nothing to do": the runner's idle strategy decides what happens next).
    fn do_work(&mut self, now: Nanos) -> usize;

    /// True when the agent has finished for good (the runner stops once all agents are done).
    fn is_done(&self) -> bool {
        false
    }

    /// Called once by the runner after the last duty cycle.
    fn on_close(&mut self) {}
}

impl<A: Agent + ?Sized> Agent for Box<A> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn do_work(&mut self, now: Nanos) -> usize {
        (**self).do_work(now)
    }
    fn is_done(&self) -> bool {
        (**self).is_done()
    }
    fn on_close(&mut self) {
        (**self).on_close()
    }
}

impl<A: Agent + ?Sized> Agent for &mut A {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn do_work(&mut self, now: Nanos) -> usize {
        (**self).do_work(now)
    }
    fn is_done(&self) -> bool {
        (**self).is_done()
    }
    fn on_close(&mut self) {
        (**self).on_close()
    }
}

/// Several agents run as one, in order, each duty cycle (the shared threading mode).
pub struct CompositeAgent<A> {
    name: String,
    agents: Vec<A>,
}

impl<A: Agent> CompositeAgent<A> {
    /// Groups `agents` under `name`.
    pub fn new(name: impl Into<String>, agents: Vec<A>) -> Self {
        CompositeAgent {
            name: name.into(),
            agents,
        }
    }

    /// The agents.
    pub fn agents(&self) -> &[A] {
        &self.agents
    }

    /// The agents, mutably.
    pub fn agents_mut(&mut self) -> &mut [A] {
        &mut self.agents
    }

    /// Takes the agents back.
    pub fn into_inner(self) -> Vec<A> {
        self.agents
    }
}

impl<A: Agent> Agent for CompositeAgent<A> {
    fn name(&self) -> &str {
        &self.name
    }

    fn do_work(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        for a in &mut self.agents {
            work += a.do_work(now);
        }
        work
    }

    fn is_done(&self) -> bool {
        self.agents.iter().all(|a| a.is_done())
    }

    fn on_close(&mut self) {
        for a in &mut self.agents {
            a.on_close();
        }
    }
}
