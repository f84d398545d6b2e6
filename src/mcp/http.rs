//! `serve --http`: streamable HTTP at `http://ADDR/mcp`, for clients that cannot start a
//! process (or several clients sharing one server).
//!
//! Every request passes three checks before the MCP service sees it, in this order:
//!
//! 1. `Host` must name the address bound (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`):
//!    a page on another site that rebinds its DNS name to this address is refused (403);
//! 2. an `Origin` header, when present, must be one of `--allowed-origin` (403 otherwise;
//!    with none configured every request a browser sends is refused, and programs, which
//!    send no Origin, pass);
//! 3. `Authorization: Bearer TOKEN` must carry the token (401 otherwise), compared in
//!    constant time.
//!
//! The token is the first line of `--token-file`, or of `$MYCELIUM_HOME/http-token`,
//! generated (32 random bytes, hexadecimal, mode 0600) when missing. A token file others
//! may read is refused: the token is the only thing between any local user and the tools.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::Server;

/// The shortest token accepted from a file.
pub const MIN_TOKEN_LEN: usize = 32;

/// How the HTTP endpoint is set up.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The address to bind.
    pub addr: SocketAddr,
    /// The bearer token.
    pub token: String,
    /// Origins accepted (exactly, after normalising case and a trailing slash).
    pub allowed_origins: Vec<String>,
    /// The largest request body, in bytes.
    pub max_body: usize,
}

/// The token in `file` (its first line, trimmed), refusing a file that group or others may
/// read, or a token shorter than [`MIN_TOKEN_LEN`].
///
/// # Errors
/// What is wrong with the file and how to fix it.
pub fn read_token(file: &Path) -> Result<String> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(file)
        .with_context(|| format!("token file {}", file.display()))?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        bail!("token file {} is not a regular file", file.display());
    }
    if meta.mode() & 0o077 != 0 {
        bail!(
            "token file {} may be read by other users (mode {:o}); run `chmod 600 {}`",
            file.display(),
            meta.mode() & 0o777,
            file.display()
        );
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(f, 4096), &mut text)
        .with_context(|| format!("token file {}: not UTF-8 text", file.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.len() < MIN_TOKEN_LEN {
        bail!(
            "token file {}: the token must be at least {MIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)",
            file.display()
        );
    }
    if token.chars().any(|c| !c.is_ascii_graphic()) {
        bail!(
            "token file {}: the token may hold only printable ASCII without spaces",
            file.display()
        );
    }
    Ok(token)
}

/// The token of `$MYCELIUM_HOME/http-token`, generated when the file does not exist.
/// Returns the token and whether it was generated now.
///
/// # Errors
/// When the file cannot be read or created.
pub fn default_token(home: &Path) -> Result<(String, PathBuf, bool)> {
    let path = home.join("http-token");
    if std::fs::symlink_metadata(&path).is_ok() {
        return Ok((read_token(&path)?, path, false));
    }
    std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("drawing a random token: {e}"))?;
    let token = hex::encode(bytes);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(format!("{token}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((token, path, true))
}

/// The `Host` values that name `addr`.
fn host_names(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut names = vec![format!("localhost:{port}")];
    match addr {
        SocketAddr::V4(a) => names.push(format!("{}:{port}", a.ip())),
        SocketAddr::V6(a) => names.push(format!("[{}]:{port}", a.ip())),
    }
    names
}

/// An origin as compared: lower case, no trailing slash.
fn normal_origin(o: &str) -> String {
    o.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Whether two byte strings are equal, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    use sha2::Digest;
    // Hashing first makes the comparison length-independent as well.
    let (x, y) = (sha2::Sha256::digest(a), sha2::Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

#[derive(Debug)]
struct Gate {
    hosts: Vec<String>,
    origins: Vec<String>,
    token: String,
    log: super::Log,
}

impl Gate {
    fn check(&self, uri: &axum::http::Uri, headers: &HeaderMap) -> Result<(), Response> {
        let refuse = |status: StatusCode, text: &str| {
            // Which check refused, never what the request carried.
            self.log
                .line(format_args!("HTTP {}: {text}", status.as_u16()));
            let mut r = (status, format!("{text}\n")).into_response();
            if status == StatusCode::UNAUTHORIZED {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"mycelium\""),
                );
            }
            Err(r)
        };
        // One Host and at most one Origin: with two, which one a check reads and which one
        // a later layer reads could differ.
        if headers.get_all(header::HOST).iter().count() > 1
            || headers.get_all(header::ORIGIN).iter().count() > 1
        {
            return refuse(
                StatusCode::FORBIDDEN,
                "forbidden: more than one Host or Origin header",
            );
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase);
        // A request target in absolute form (`POST http://other/mcp`) must name the same
        // server as its Host header.
        let target_ok = uri
            .authority()
            .is_none_or(|a| host.as_deref() == Some(a.as_str().to_ascii_lowercase().as_str()));
        if !target_ok || !host.is_some_and(|h| self.hosts.contains(&h)) {
            return refuse(
                StatusCode::FORBIDDEN,
                "forbidden: the Host header does not name this server",
            );
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let ok = origin
                .to_str()
                .is_ok_and(|o| self.origins.contains(&normal_origin(o)));
            if !ok {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "forbidden: this Origin is not allowed (serve --allowed-origin)",
                );
            }
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            Some(t) if same(t.as_bytes(), self.token.as_bytes()) => Ok(()),
            Some(_) => refuse(StatusCode::UNAUTHORIZED, "unauthorized: wrong bearer token"),
            None => refuse(
                StatusCode::UNAUTHORIZED,
                "unauthorized: send Authorization: Bearer TOKEN (the token is in the file `mycelium serve --http` named at start)",
            ),
        }
    }
}

/// Serve `server` over streamable HTTP until the process is stopped.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve_http(server: Server, options: HttpOptions) -> Result<()> {
    let log = server.config().log.clone();
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("binding {}", options.addr))?;
    let bound = listener.local_addr()?;
    let hosts = host_names(bound);
    let origins: Vec<String> = options
        .allowed_origins
        .iter()
        .map(|o| normal_origin(o))
        .collect();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts.clone())
        .with_allowed_origins(origins.clone())
        .enforce_origin_validation()
        .with_max_request_body_bytes(options.max_body);
    let factory = server.clone();
    let service = StreamableHttpService::new(
        move || Ok(factory.clone()),
        LocalSessionManager::default().into(),
        config,
    );
    let gate = Arc::new(Gate {
        hosts,
        origins,
        token: options.token,
        log: log.clone(),
    });
    let router =
        axum::Router::new()
            .nest_service("/mcp", service)
            .layer(axum::middleware::from_fn(
                move |req: Request, next: Next| {
                    let gate = Arc::clone(&gate);
                    async move {
                        match gate.check(req.uri(), req.headers()) {
                            Ok(()) => next.run(req).await,
                            Err(refused) => refused,
                        }
                    }
                },
            ));
    log.line(format_args!("serving MCP over HTTP at http://{bound}/mcp"));
    axum::serve(listener, router)
        .await
        .context("the HTTP server stopped")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> Gate {
        Gate {
            hosts: host_names("127.0.0.1:8765".parse().unwrap()),
            origins: vec![normal_origin("http://localhost:6274/")],
            token: "t".repeat(40),
            log: super::super::Log::stderr(),
        }
    }

    /// The status `check` answers for a request to `target` with `headers`.
    fn status(target: &str, headers: &[(&str, &str)]) -> u16 {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                header::HeaderValue::from_str(v).unwrap(),
            );
        }
        let uri: axum::http::Uri = target.parse().unwrap();
        match gate().check(&uri, &map) {
            Ok(()) => 200,
            Err(r) => r.status().as_u16(),
        }
    }

    #[test]
    fn host_origin_and_token_are_checked_in_that_order() {
        let token = format!("Bearer {}", "t".repeat(40));
        let auth = ("authorization", token.as_str());
        let host = ("host", "127.0.0.1:8765");
        for (target, headers, want) in [
            ("/mcp", vec![host, auth], 200),
            ("/mcp", vec![("host", "LOCALHOST:8765"), auth], 200),
            (
                "/mcp",
                vec![host, auth, ("origin", "http://LOCALHOST:6274")],
                200,
            ),
            ("/mcp", vec![host], 401),
            ("/mcp", vec![host, ("authorization", "Bearer wrong")], 401),
            (
                "/mcp",
                vec![
                    host,
                    ("authorization", &format!("bearer {}", "t".repeat(40))),
                ],
                401,
            ),
            (
                "/mcp",
                vec![
                    host,
                    ("authorization", &format!("Bearer {}", "t".repeat(39))),
                ],
                401,
            ),
            // A browser page elsewhere (403 before the token is even looked at).
            ("/mcp", vec![host, ("origin", "http://evil.example")], 403),
            ("/mcp", vec![host, auth, ("origin", "null")], 403),
            (
                "/mcp",
                vec![host, auth, ("origin", "http://localhost:6275")],
                403,
            ),
            // DNS rebinding: another name for this address.
            ("/mcp", vec![("host", "evil.example:8765"), auth], 403),
            ("/mcp", vec![("host", "127.0.0.1"), auth], 403),
            ("/mcp", vec![auth], 403),
            // Two Hosts or two Origins, the first one good.
            ("/mcp", vec![host, ("host", "evil.example"), auth], 403),
            (
                "/mcp",
                vec![
                    host,
                    auth,
                    ("origin", "http://localhost:6274"),
                    ("origin", "http://evil.example"),
                ],
                403,
            ),
            // An absolute-form target naming another server.
            ("http://evil.example/mcp", vec![host, auth], 403),
            ("http://127.0.0.1:8765/mcp", vec![host, auth], 200),
        ] {
            assert_eq!(status(target, &headers), want, "{target} {headers:?}");
        }
    }
}
