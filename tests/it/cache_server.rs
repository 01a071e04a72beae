//! A real HTTP/1.1 cache server on a loopback port, in-process: `GET`, `HEAD` and `PUT` over an
//! in-memory store, as nginx with WebDAV `PUT` serves them. Hooks make it misbehave on demand
//! (corrupt an object, answer 500, stall, die after some `PUT`s) and it counts requests and
//! bytes, so the remote-cache tests need neither root nor nginx. It is a handler of the tests'
//! one HTTP server ([`Listener`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http::{Incoming, Listener, head};

/// Requests and bytes seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub get: u64,
    pub head: u64,
    pub put: u64,
    /// `PUT` body bytes received.
    pub bytes_in: u64,
    /// `GET` body bytes sent.
    pub bytes_out: u64,
}

#[derive(Default)]
struct Shared {
    store: Mutex<BTreeMap<String, Vec<u8>>>,
    counts: Mutex<Counts>,
    fail_500: AtomicBool,
    stall: AtomicBool,
    /// Die (close the port, drop the connection unanswered) at this `PUT`; 0 = never.
    die_at_put: AtomicU64,
    /// Answer `201 Created` to `PUT ac/…` but keep a truncated body (a lossy proxy).
    mangle_entries: AtomicBool,
}

pub struct CacheServer {
    shared: Arc<Shared>,
    listener: Listener,
}

impl CacheServer {
    pub fn start() -> CacheServer {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let listener = Listener::start(move |req, stream, stop| serve(req, stream, &s, stop));
        CacheServer { shared, listener }
    }

    /// The base URL (with a path prefix, as a shared server would have).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/parity-cache/", self.listener.port())
    }

    pub fn counts(&self) -> Counts {
        self.shared.counts.lock().unwrap().clone()
    }

    pub fn reset_counts(&self) {
        *self.shared.counts.lock().unwrap() = Counts::default();
    }

    /// Stored keys (`cas/<sha>`, `ac/<sha>`), sorted.
    pub fn keys(&self) -> Vec<String> {
        self.shared.store.lock().unwrap().keys().cloned().collect()
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.shared.store.lock().unwrap().get(key).cloned()
    }

    pub fn set(&self, key: &str, bytes: &[u8]) {
        self.shared
            .store
            .lock()
            .unwrap()
            .insert(key.to_string(), bytes.to_vec());
    }

    /// The `cas/` key holding exactly `bytes`.
    pub fn cas_key_of(&self, bytes: &[u8]) -> Option<String> {
        self.shared
            .store
            .lock()
            .unwrap()
            .iter()
            .find(|(k, v)| k.starts_with("cas/") && v.as_slice() == bytes)
            .map(|(k, _)| k.clone())
    }

    pub fn fail_with_500(&self, on: bool) {
        self.shared.fail_500.store(on, Ordering::SeqCst);
    }

    pub fn stall(&self, on: bool) {
        self.shared.stall.store(on, Ordering::SeqCst);
    }

    /// The server dies when it receives its `n`th `PUT` (counted from now).
    pub fn die_at_put(&self, n: u64) {
        let seen = self.counts().put;
        self.shared.die_at_put.store(seen + n, Ordering::SeqCst);
    }

    /// From now on, `PUT ac/…` is answered `201 Created` but only half the entry is kept.
    pub fn mangle_entries(&self, on: bool) {
        self.shared.mangle_entries.store(on, Ordering::SeqCst);
    }

    pub fn is_dead(&self) -> bool {
        self.listener.is_stopped()
    }
}

/// Answers one request (`Connection: close`).
fn serve(req: Incoming, stream: TcpStream, s: &Shared, stop: &AtomicBool) {
    let Incoming {
        method,
        target,
        body,
        ..
    } = req;
    let key = target
        .trim_start_matches('/')
        .trim_start_matches("parity-cache/")
        .to_string();
    let mut out = stream;
    if s.stall.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_secs(3));
        return;
    }
    if s.fail_500.load(Ordering::SeqCst) {
        let _ = respond(&mut out, "500 Internal Server Error", &[], false);
        return;
    }
    match method.as_str() {
        "GET" | "HEAD" => {
            let head = method == "HEAD";
            let found = s.store.lock().unwrap().get(&key).cloned();
            let mut c = s.counts.lock().unwrap();
            if head {
                c.head += 1;
            } else {
                c.get += 1;
            }
            match found {
                Some(bytes) => {
                    if !head {
                        c.bytes_out += bytes.len() as u64;
                    }
                    drop(c);
                    let _ = respond(&mut out, "200 OK", &bytes, head);
                }
                None => {
                    drop(c);
                    let _ = respond(&mut out, "404 Not Found", &[], false);
                }
            }
        }
        "PUT" => {
            let n = {
                let mut c = s.counts.lock().unwrap();
                c.put += 1;
                c.put
            };
            let die = s.die_at_put.load(Ordering::SeqCst);
            if die != 0 && n >= die {
                stop.store(true, Ordering::SeqCst);
                return; // killed: the connection drops unanswered
            }
            s.counts.lock().unwrap().bytes_in += body.len() as u64;
            let mut body = body;
            if key.starts_with("ac/") && s.mangle_entries.load(Ordering::SeqCst) {
                body.truncate(body.len() / 2);
            }
            s.store.lock().unwrap().insert(key, body);
            let _ = respond(&mut out, "201 Created", &[], false);
        }
        _ => {
            let _ = respond(&mut out, "405 Method Not Allowed", &[], false);
        }
    }
}

fn respond(out: &mut TcpStream, status: &str, body: &[u8], head_only: bool) -> std::io::Result<()> {
    out.write_all(&head(status, body.len(), &[]))?;
    if !head_only {
        out.write_all(body)?;
    }
    out.flush()
}
