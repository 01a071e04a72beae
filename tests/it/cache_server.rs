//! A real HTTP/1.1 cache server on a loopback port, in-process: `GET`, `HEAD` and `PUT` over an
//! in-memory store, as nginx with WebDAV `PUT` serves them. Hooks make it misbehave on demand
//! (corrupt an object, answer 500, stall, die after some `PUT`s) and it counts requests and
//! bytes, so the remote-cache tests need neither root nor nginx.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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
    stop: AtomicBool,
    fail_500: AtomicBool,
    stall: AtomicBool,
    /// Die (close the port, drop the connection unanswered) at this `PUT`; 0 = never.
    die_at_put: AtomicU64,
    /// Answer `201 Created` to `PUT ac/…` but keep a truncated body (a lossy proxy).
    mangle_entries: AtomicBool,
}

pub struct CacheServer {
    port: u16,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl CacheServer {
    pub fn start() -> CacheServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || serve(stream, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            // Dropping the listener closes the port: new connections are refused.
        });
        CacheServer {
            port,
            shared,
            thread: Some(thread),
        }
    }

    /// The base URL (with a path prefix, as a shared server would have).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/parity-cache/", self.port)
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
        self.shared.stop.load(Ordering::SeqCst)
    }
}

impl Drop for CacheServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves one connection: one request, answered with `Connection: close`.
fn serve(stream: TcpStream, s: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(r) => r,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || s.stop.load(Ordering::SeqCst) {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
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
                s.stop.store(true, Ordering::SeqCst);
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

fn respond(out: &mut TcpStream, status: &str, body: &[u8], head: bool) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if !head {
        out.write_all(body)?;
    }
    out.flush()
}
