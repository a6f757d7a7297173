//! Child-process helpers shared by the tests that run the `fixeng` binary.

use std::io::Read;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// A free TCP port on loopback (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the child process if the test fails before stopping it.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Child {
    /// Ctrl-C (SIGINT) the child, wait for it to exit (failing the test after `limit`) and
    /// return its exit status and everything it wrote to stdout (which must be piped).
    pub fn interrupt(&mut self, limit: Duration) -> (ExitStatus, String) {
        let k = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(k.success(), "kill -INT failed");
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                break s;
            }
            assert!(t0.elapsed() < limit, "the process did not stop on SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut text = String::new();
        self.0
            .stdout
            .take()
            .expect("stdout piped")
            .read_to_string(&mut text)
            .unwrap();
        (status, text)
    }
}
