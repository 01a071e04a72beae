//! HTTP for pins and acquisition: one blocking reqwest client (rustls) with connect and read
//! timeouts, bounded redirects, and bounded retries with exponential backoff.
//!
//! | failure                                   | retried? |
//! |-------------------------------------------|----------|
//! | connect error, timeout, body cut short    | yes      |
//! | HTTP 5xx                                  | yes      |
//! | HTTP 4xx (404, rate limit, ...)           | no       |
//! | too many redirects, https -> http         | no       |
//! | size or sha256 mismatch, body over limit  | no       |
//!
//! Every body is capped: an asset by its pinned size (or the pin limit), an API answer by
//! `max_api_body`.
//!
//! Bodies are streamed through sha256 while being counted; a body longer than the limit is cut
//! off as soon as it passes it, so a hostile server cannot fill the disk.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use reqwest::blocking::{Client, Response};
use reqwest::header::{self, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// Timeouts, retries and redirects of the client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for the response headers, and for each read of the body.
    pub read_timeout: Duration,
    /// Attempts per request, the first included (at least 1).
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub backoff: Duration,
    /// Redirects followed per request.
    pub max_redirects: usize,
    /// The largest API answer (one page of releases) read; a longer body is refused.
    pub max_api_body: u64,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            attempts: 4,
            backoff: Duration::from_millis(500),
            max_redirects: 10,
            max_api_body: 64 << 20,
        }
    }
}

/// The client, and the token sent to the API (never to asset hosts, never printed).
pub struct Http {
    client: Client,
    opts: HttpOptions,
    token: Option<HeaderValue>,
}

/// How one attempt failed.
enum Failure {
    /// Worth another attempt (connection, timeout, 5xx, body cut short).
    Transient(anyhow::Error),
    /// Final (4xx, digest mismatch, ...).
    Fatal(anyhow::Error),
}

impl Http {
    /// A client with these options and, when given, a bearer token for API requests.
    pub fn new(opts: HttpOptions, token: Option<&str>) -> Result<Http> {
        let client = Client::builder()
            .user_agent(concat!("parity/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.read_timeout)
            .redirect(redirect_policy(opts.max_redirects))
            .build()
            .context("failed to create the HTTP client")?;
        let token = match token.filter(|t| !t.is_empty()) {
            Some(t) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {t}"))
                    .map_err(|_| anyhow!("GITHUB_TOKEN is not a valid header value"))?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(Http {
            client,
            opts: opts.clone(),
            token,
        })
    }

    /// GETs a JSON document from the GitHub REST API; also returns the `rel="next"` link.
    pub fn get_api(&self, url: &str) -> Result<(serde_json::Value, Option<String>)> {
        self.retrying(url, |_| {
            let mut req = self
                .client
                .get(url)
                .header(header::ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28");
            if let Some(t) = &self.token {
                req = req.header(header::AUTHORIZATION, t.clone());
            }
            let resp = check_status(url, req.send().map_err(transport)?)?;
            let next = next_link(resp.headers());
            let body = read_capped(url, resp, self.opts.max_api_body)?;
            let value = serde_json::from_slice(&body)
                .with_context(|| format!("`{url}` did not answer JSON"))
                .map_err(Failure::Fatal)?;
            Ok((value, next))
        })
    }

    /// A GitHub REST API request whose 4xx answers the caller handles: the status and the JSON
    /// body (`null` when empty or not JSON). Transport errors and 5xx are retried; a rate limit
    /// fails at once, as for [`Http::get_api`].
    pub fn call_api(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, serde_json::Value)> {
        self.retrying(url, |_| {
            let mut req = self
                .client
                .request(method.clone(), url)
                .header(header::ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28");
            if let Some(t) = &self.token {
                req = req.header(header::AUTHORIZATION, t.clone());
            }
            if let Some(b) = body {
                req = req
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(b.to_string());
            }
            let mut resp = req.send().map_err(transport)?;
            let status = resp.status();
            if status.is_server_error() || rate_limit(resp.headers(), status.as_u16()).is_some() {
                resp = check_status(url, resp)?;
            }
            let text = read_capped(url, resp, self.opts.max_api_body)?;
            let value = serde_json::from_slice(&text).unwrap_or(serde_json::Value::Null);
            Ok((status.as_u16(), value))
        })
    }

    /// GETs a small document that is not the GitHub API's (a release channel's `stable`
    /// pointer or manifest): no token, no API headers, the body capped at `max_api_body`.
    pub fn get_small(&self, url: &str) -> Result<Vec<u8>> {
        self.retrying(url, |_| {
            let resp = check_status(url, self.client.get(url).send().map_err(transport)?)?;
            read_capped(url, resp, self.opts.max_api_body)
        })
    }

    /// Streams `url` into the sink `open` makes for each attempt, hashing and counting; stops
    /// with an error as soon as the body passes `limit` bytes.
    pub fn fetch_to<W: Write>(
        &self,
        url: &str,
        limit: u64,
        cancelled: &AtomicBool,
        mut open: impl FnMut() -> Result<W>,
    ) -> Result<Measured> {
        self.retrying(url, |_| {
            let resp = check_status(url, self.client.get(url).send().map_err(transport)?)?;
            let mut sink = open().map_err(Failure::Fatal)?;
            stream(url, resp, limit, cancelled, &mut sink)
        })
    }

    /// Runs `attempt` up to `attempts` times, sleeping with exponential backoff after a
    /// transient failure.
    fn retrying<T>(
        &self,
        url: &str,
        mut attempt: impl FnMut(u32) -> Result<T, Failure>,
    ) -> Result<T> {
        let attempts = self.opts.attempts.max(1);
        let mut wait = self.opts.backoff;
        for n in 1..=attempts {
            match attempt(n) {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Transient(e)) if n == attempts => {
                    return Err(e.context(format!("failed to fetch `{url}` after {n} attempts")));
                }
                Err(Failure::Transient(_)) => {
                    std::thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }
}

/// Size and sha256 of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    /// Bytes received.
    pub size: u64,
    /// Lowercase hex sha256 of those bytes.
    pub sha256: String,
}

/// Streams `reader` into `sink` through sha256, refusing more than `limit` bytes.
pub fn hash_copy(
    mut reader: impl Read,
    sink: &mut impl Write,
    limit: u64,
    cancelled: &AtomicBool,
) -> std::io::Result<std::result::Result<Measured, u64>> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("interrupted"));
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        size += n as u64;
        if size > limit {
            return Ok(Err(size));
        }
        hasher.update(&buf[..n]);
        sink.write_all(&buf[..n])?;
    }
    sink.flush()?;
    Ok(Ok(Measured {
        size,
        sha256: format!("{:x}", hasher.finalize()),
    }))
}

fn stream<W: Write>(
    url: &str,
    resp: Response,
    limit: u64,
    cancelled: &AtomicBool,
    sink: &mut W,
) -> Result<Measured, Failure> {
    if let Some(len) = resp.content_length()
        && len > limit
    {
        return Err(Failure::Fatal(anyhow!(
            "`{url}` announces {len} bytes, more than the limit of {limit} bytes"
        )));
    }
    match hash_copy(resp, sink, limit, cancelled) {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(_)) => Err(Failure::Fatal(anyhow!(
            "`{url}` sent more than the limit of {limit} bytes"
        ))),
        Err(e) if cancelled.load(Ordering::Relaxed) => {
            Err(Failure::Fatal(anyhow!(e).context("download interrupted")))
        }
        Err(e) => Err(Failure::Transient(
            anyhow!(e).context(format!("failed to read the body of `{url}`")),
        )),
    }
}

/// The whole body, refused (not retried) as soon as it passes `limit` bytes: a broken or
/// hostile server cannot exhaust memory. Every read has the read timeout.
fn read_capped(url: &str, resp: Response, limit: u64) -> Result<Vec<u8>, Failure> {
    let over = || Failure::Fatal(anyhow!("`{url}` sent more than the limit of {limit} bytes"));
    if resp.content_length().is_some_and(|len| len > limit) {
        return Err(over());
    }
    let mut body = Vec::new();
    resp.take(limit + 1).read_to_end(&mut body).map_err(|e| {
        Failure::Transient(anyhow!(e).context(format!("failed to read the body of `{url}`")))
    })?;
    if body.len() as u64 > limit {
        return Err(over());
    }
    Ok(body)
}

/// At most `max` redirects, never from `https` to anything else: a pin is trusted on first
/// download, so its bytes must not be open to whoever sits on a plain-HTTP path.
fn redirect_policy(max: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let downgrade = attempt
            .previous()
            .last()
            .is_some_and(|prev| is_downgrade(prev, attempt.url()));
        if downgrade {
            let to = attempt.url().to_string();
            attempt.error(format!("refused redirect from https to `{to}`"))
        } else if attempt.previous().len() > max {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// Whether following `from` -> `to` leaves https.
fn is_downgrade(from: &reqwest::Url, to: &reqwest::Url) -> bool {
    from.scheme() == "https" && to.scheme() != "https"
}

fn transport(e: reqwest::Error) -> Failure {
    if e.is_redirect() {
        // The policy's own message (too many redirects, a refused downgrade) is the cause.
        Failure::Fatal(anyhow::Error::new(e).context("redirect refused"))
    } else {
        Failure::Transient(anyhow::Error::new(e))
    }
}

/// 2xx passes; 5xx is transient; anything else is final, with the rate limit spelled out.
fn check_status(url: &str, resp: Response) -> Result<Response, Failure> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    if let Some(msg) = rate_limit(resp.headers(), status.as_u16()) {
        return Err(Failure::Fatal(anyhow!(
            "GitHub API rate limit exceeded for `{url}` (HTTP {status}): {msg}"
        )));
    }
    let err = anyhow!("`{url}` answered HTTP {status}");
    if status.is_server_error() {
        Err(Failure::Transient(err))
    } else {
        Err(Failure::Fatal(err))
    }
}

/// For a 403/429 that is a rate limit: when it resets (RFC 3339 UTC and seconds from now).
fn rate_limit(headers: &HeaderMap, status: u16) -> Option<String> {
    if status != 403 && status != 429 {
        return None;
    }
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = jiff::Timestamp::now().as_second();
    let reset = if get("x-ratelimit-remaining") == Some("0") {
        get("x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok())
    } else {
        get("retry-after")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|s| now + s)
    }?;
    let at = jiff::Timestamp::from_second(reset)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| reset.to_string());
    Some(format!(
        "resets at {at} (in {} s); set GITHUB_TOKEN for a higher limit",
        (reset - now).max(0)
    ))
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::LINK,
            HeaderValue::from_static(
                "<http://x/r?page=1>; rel=\"prev\", <http://x/r?page=3>; rel=\"next\", <http://x/r?page=9>; rel=\"last\"",
            ),
        );
        assert_eq!(next_link(&h).as_deref(), Some("http://x/r?page=3"));
        h.insert(
            header::LINK,
            HeaderValue::from_static("<http://x/r?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn redirects_never_leave_https() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(is_downgrade(&u("https://a/x"), &u("http://a/x")));
        assert!(is_downgrade(&u("https://a/x"), &u("ftp://b/x")));
        assert!(!is_downgrade(&u("https://a/x"), &u("https://b/y")));
        assert!(!is_downgrade(&u("http://a/x"), &u("https://b/y")));
        assert!(!is_downgrade(&u("http://a/x"), &u("http://b/y")));
    }

    #[test]
    fn rate_limit_needs_an_exhausted_quota() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("4102444800"));
        let msg = rate_limit(&h, 403).unwrap();
        assert!(
            msg.starts_with("resets at 2100-01-01T00:00:00Z (in "),
            "{msg}"
        );
        assert_eq!(rate_limit(&h, 404), None);
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("12"));
        assert_eq!(rate_limit(&h, 403), None);
    }
}
