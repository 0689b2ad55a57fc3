//! A Unix socket forwarding to Docker's that can be cut and restored, to play a Docker restart
//! for the agent without restarting the engine the other tests use.

use std::io::ErrorKind;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A forwarding socket; dropping it closes every forwarded connection and removes the socket.
pub struct SocketProxy {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<UnixStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl SocketProxy {
    /// Listens on `path` and forwards each connection to `target`.
    pub fn start(path: &Path, target: &Path) -> SocketProxy {
        let listener = UnixListener::bind(path).expect("proxy socket binds");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (stop, connections, target) =
                (stop.clone(), connections.clone(), target.to_owned());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => forward(client, &target, &connections),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(20))
                        }
                        Err(e) => panic!("proxy accept failed: {e}"),
                    }
                }
            })
        };
        SocketProxy {
            path: path.to_owned(),
            stop,
            connections,
            acceptor: Some(acceptor),
        }
    }
}

fn forward(client: UnixStream, target: &Path, connections: &Mutex<Vec<UnixStream>>) {
    client.set_nonblocking(false).unwrap();
    let Ok(server) = UnixStream::connect(target) else {
        return;
    };
    let mut list = connections.lock().unwrap();
    list.push(client.try_clone().unwrap());
    list.push(server.try_clone().unwrap());
    for (mut from, mut to) in [
        (client.try_clone().unwrap(), server.try_clone().unwrap()),
        (server, client),
    ] {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Both);
        });
    }
}

impl Drop for SocketProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for stream in self.connections.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}
