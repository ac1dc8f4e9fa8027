//! A real nats-server (the Debian package) with JetStream, on a free
//! loopback port and a store directory of its own; killed with SIGKILL and
//! restarted on the same port and store like a crashed server.
//! (`#[path = "support/nats.rs"] mod nats;`)

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct NatsServer {
    child: Child,
    pub port: u16,
    store: tempfile::TempDir,
    /// Extra settings (a config file), kept for restarts.
    config: Option<std::path::PathBuf>,
}

impl NatsServer {
    /// Starts `nats-server -js` on 127.0.0.1 with a port it picks itself (`-p -1`).
    pub fn start() -> NatsServer {
        NatsServer::start_with("")
    }

    /// With these lines of nats-server configuration (e.g. `max_payload: 16384`).
    pub fn start_with(settings: &str) -> NatsServer {
        let store = tempfile::tempdir().unwrap();
        let config = (!settings.is_empty()).then(|| {
            let path = store.path().join("nats.conf");
            std::fs::write(&path, settings).unwrap();
            path
        });
        let (child, port) = spawn(store.path(), None, config.as_deref());
        NatsServer { child, port, store, config }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no goodbye to the clients, the store as the crash left it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A new server on the same port and store (after [`NatsServer::kill`]).
    pub fn restart(&mut self) {
        let (child, _) = spawn(self.store.path(), Some(self.port), self.config.as_deref());
        self.child = child;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the server and reads its log until it listens; returns the port.
fn spawn(store: &std::path::Path, port: Option<u16>, config: Option<&std::path::Path>) -> (Child, u16) {
    let port_arg = port.map_or("-1".to_string(), |p| p.to_string());
    let mut command = Command::new("nats-server");
    if let Some(config) = config {
        command.args(["-c", config.to_str().unwrap()]);
    }
    let mut child = command
        .args(["-js", "-sd", store.to_str().unwrap(), "-a", "127.0.0.1", "-p", &port_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nats-server is not installed: apt-get install -y nats-server (scripts/test.sh does)");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut said = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.split("Listening for client connections on ").nth(1) {
                let port = at.trim().rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                let _ = tx.send(port);
            }
            if line.contains("Server is ready") && !said {
                said = true;
                let _ = tx.send(None);
            }
        }
    });
    let mut port = None;
    // The port comes first, then "Server is ready" (`None`).
    while let Some(p) = rx.recv_timeout(Duration::from_secs(30)).expect("nats-server did not start within 30 s") {
        port = Some(p);
    }
    (child, port.expect("nats-server did not say its port"))
}
