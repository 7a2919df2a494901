//! A fault-injecting HTTP proxy in front of a real registry: requests for which `fail` returns
//! true get a 500 and never reach the registry; all others are forwarded unchanged (one request
//! per connection).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

pub struct FaultProxy {
    pub host: String,
}

impl FaultProxy {
    pub fn start<F>(upstream: String, fail: F) -> Self
    where
        F: Fn(&str, &str) -> bool + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let fail = std::sync::Arc::new(fail);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let upstream = upstream.clone();
                let fail = fail.clone();
                std::thread::spawn(move || {
                    let _ = handle(client, &upstream, &*fail);
                });
            }
        });
        Self { host }
    }
}

fn handle(
    mut client: TcpStream,
    upstream: &str,
    fail: &(dyn Fn(&str, &str) -> bool + Send + Sync),
) -> std::io::Result<()> {
    let Request {
        line: request_line,
        headers,
        body,
    } = read_request(&client)?;
    let head: Vec<String> = headers
        .into_iter()
        .filter(|h| !h.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if fail(method, path) {
        let msg = br#"{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}"#;
        write!(
            client,
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            msg.len()
        )?;
        client.write_all(msg)?;
        return Ok(());
    }
    let mut up = TcpStream::connect(upstream)?;
    // In one write: a registry that answers before reading a body (distribution 2.8 opening
    // an upload session for a `POST` with the blob) finds it all read with the headers, not
    // arriving after its answer on a connection it then closes (`Connection: close`) — which
    // would reset the connection before its answer is read, and make the client send again
    // what a direct client sends once.
    let mut request = request_line.into_bytes();
    for h in &head {
        request.extend_from_slice(h.as_bytes());
    }
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    request.extend_from_slice(&body);
    up.write_all(&request)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    client.write_all(&response)?;
    Ok(())
}

/// An HTTP/1.x request read off a client connection: its request line, its header lines (with
/// their line endings) and its body (`Content-Length` bytes).
pub struct Request {
    pub line: String,
    pub headers: Vec<String>,
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.headers.iter().find_map(|h| {
            h.to_ascii_lowercase()
                .starts_with(&prefix)
                .then(|| h[prefix.len()..].trim().to_owned())
        })
    }
}

/// Reads one request from `client`.
pub fn read_request(client: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        headers.push(h);
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    Ok(Request {
        line,
        headers,
        body,
    })
}
