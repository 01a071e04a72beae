//! The tests' one HTTP/1.1 server on 127.0.0.1:0, started by the test itself: a [`Listener`]
//! (one thread per connection, one request each, every response `Connection: close`, stopped
//! by a flag that closes the port) and what it serves: here the scripted [`Server`] (per
//! request target, path and query, a list of replies served in order, the last one repeating,
//! with counts of the requests and the `Authorization` header each carried); the CLI tests'
//! remote cache (`tests/it/cache_server.rs`) is another handler of the same listener.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as read from the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The `Authorization` header, if any.
    pub auth: Option<String>,
    pub body: Vec<u8>,
}

/// A loopback port served by a handler, one thread per connection, until dropped or
/// [`Listener::stop`]ped (then new connections are refused).
pub struct Listener {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Binds 127.0.0.1:0 and serves every connection with `handle` (the request, the stream to
    /// answer on, and the stop flag, which the handler may set to kill the server).
    pub fn start(
        handle: impl Fn(Incoming, TcpStream, &AtomicBool) + Send + Sync + 'static,
    ) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (handle, flag) = (handle.clone(), flag.clone());
                        std::thread::spawn(move || {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                            if let Some(req) = read_request(&stream)
                                && !flag.load(Ordering::SeqCst)
                            {
                                handle(req, stream, &flag);
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            // Dropping the listener closes the port: new connections are refused.
        });
        Listener {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server was stopped (by [`Listener::stop`] or a handler).
    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Closes the port.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request: request line, headers, a body of `Content-Length` bytes.
fn read_request(stream: &TcpStream) -> Option<Incoming> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("GET").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let (mut auth, mut length) = (None, 0);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                auth = Some(v.trim().to_string());
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Incoming {
        method,
        target,
        auth,
        body,
    })
}

/// The status line and headers of a response of `len` body bytes (`Connection: close`).
pub fn head(status: &str, len: usize, headers: &[(String, String)]) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// One scripted response.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Announces `declared` bytes, sends `body` (fewer), then closes: a transfer cut short.
    Cut { declared: usize, body: Vec<u8> },
    /// Sends the headers and `body`, announcing `declared` bytes, then goes silent for `wait`.
    Stall {
        declared: usize,
        body: Vec<u8>,
        wait: Duration,
    },
    /// 200 with `len` bytes of `x`, announced by `Content-Length` only when `announce` (else
    /// the body ends when the connection closes): a broken or hostile server flooding the
    /// client. The bytes the client accepted before hanging up are counted ([`Server::sent`]).
    Flood { len: usize, announce: bool },
}

impl Reply {
    /// 200 with `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::Full {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }
    /// 200 with a JSON body.
    pub fn json(value: &serde_json::Value) -> Reply {
        Reply::ok(value.to_string()).header("Content-Type", "application/json")
    }
    /// An empty response with this status.
    pub fn status(status: u16) -> Reply {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: format!("status {status}").into_bytes(),
        }
    }
    /// 302 to `location`.
    pub fn redirect(location: &str) -> Reply {
        Reply::status(302).header("Location", location)
    }
    /// Sets the status (full responses only).
    pub fn status_code(mut self, code: u16) -> Reply {
        if let Reply::Full { status, .. } = &mut self {
            *status = code;
        }
        self
    }
    /// Adds a header (full responses only).
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Full { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

#[derive(Default)]
struct State {
    routes: BTreeMap<String, VecDeque<Reply>>,
    hits: BTreeMap<String, usize>,
    auth: Vec<Option<String>>,
    sent: BTreeMap<String, usize>,
    requests: Vec<Request>,
}

/// A request as received: method, target and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub body: String,
}

/// The running server (its port closes when the last clone is dropped).
#[derive(Clone)]
pub struct Server {
    base: String,
    state: Arc<Mutex<State>>,
    _listener: Arc<Listener>,
}

impl Server {
    pub fn start() -> Server {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let listener = Listener::start(move |req, stream, _| serve(req, stream, &shared));
        Server {
            base: format!("http://127.0.0.1:{}", listener.port()),
            state,
            _listener: Arc::new(listener),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `target` (`/path?query`).
    pub fn url(&self, target: &str) -> String {
        format!("{}{target}", self.base)
    }

    /// Scripts `target`: these replies in order, the last one repeating.
    pub fn route(&self, target: &str, replies: Vec<Reply>) -> &Server {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(target.into(), replies.into());
        self
    }

    /// Requests seen for `target`.
    pub fn hits(&self, target: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(target)
            .copied()
            .unwrap_or(0)
    }

    /// Body bytes of [`Reply::Flood`] replies to `target` the client accepted.
    pub fn sent(&self, target: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .sent
            .get(target)
            .copied()
            .unwrap_or(0)
    }

    /// Every request, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The `Authorization` header of every request, in arrival order.
    pub fn auth(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().auth.clone()
    }
}

fn serve(req: Incoming, stream: TcpStream, state: &Mutex<State>) {
    let Incoming {
        method,
        target,
        auth,
        body,
    } = req;
    let reply = {
        let mut s = state.lock().unwrap();
        *s.hits.entry(target.clone()).or_default() += 1;
        s.auth.push(auth);
        s.requests.push(Request {
            method,
            target: target.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        match s.routes.get_mut(&target) {
            Some(q) if q.len() > 1 => q.pop_front().unwrap(),
            Some(q) => q.front().cloned().unwrap_or_else(|| Reply::status(404)),
            None => Reply::status(404),
        }
    };
    if let Reply::Flood { len, announce } = reply {
        let sent = flood(stream, len, announce);
        *state.lock().unwrap().sent.entry(target).or_default() += sent;
        return;
    }
    let _ = respond(stream, reply);
}

/// Writes the flood until done or the client hangs up; returns the body bytes written.
fn flood(mut stream: TcpStream, len: usize, announce: bool) -> usize {
    let mut head = String::from("HTTP/1.1 200 X\r\nConnection: close\r\n");
    if announce {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        match stream.write(&chunk[..n]) {
            Ok(0) | Err(_) => break,
            Ok(n) => sent += n,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    sent
}

fn respond(mut stream: TcpStream, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            stream.write_all(&head(&format!("{status} X"), body.len(), &headers))?;
            stream.write_all(&body)?;
        }
        Reply::Cut { declared, body } => {
            stream.write_all(&head("200 X", declared, &[]))?;
            stream.write_all(&body)?;
        }
        Reply::Stall {
            declared,
            body,
            wait,
        } => {
            stream.write_all(&head("200 X", declared, &[]))?;
            stream.write_all(&body)?;
            stream.flush()?;
            std::thread::sleep(wait);
        }
        Reply::Flood { .. } => unreachable!("floods are served by `flood`"),
    }
    stream.flush()?;
    stream.shutdown(Shutdown::Both)
}
