//! Spawns node processes from one long-lived thread, so that a node dies with
//! the harness even when the harness itself is killed with SIGKILL.
//!
//! Linux's `PR_SET_PDEATHSIG` fires when the *thread* that forked the child
//! exits, not the process. Tokio's blocking-pool threads come and go, so
//! spawning from them would kill nodes at random; this thread lives exactly
//! as long as the cluster that owns it.

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::thread::JoinHandle;

type Request = (Command, mpsc::Sender<io::Result<Child>>);

/// The spawning thread. Dropping it ends the thread (after the cluster has
/// killed its nodes, which the owner does first).
pub struct Spawner {
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Spawner {
    pub fn new() -> io::Result<Spawner> {
        let (tx, rx) = mpsc::channel::<Request>();
        let thread = std::thread::Builder::new()
            .name("node-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })?;
        Ok(Spawner {
            requests: Some(tx),
            thread: Some(thread),
        })
    }

    /// Spawns `cmd` on the spawner thread.
    pub fn spawn(&self, cmd: Command) -> io::Result<Child> {
        let gone = || io::Error::other("the node spawner thread has stopped");
        let (tx, rx) = mpsc::channel();
        self.requests
            .as_ref()
            .ok_or_else(gone)?
            .send((cmd, tx))
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
