//! A real RFC 3161 Time-Stamping Authority for tests: OpenSSL's `ts -reply`
//! behind a tiny HTTP/1.0 server on 127.0.0.1.
//!
//! Tests talk to it exactly as production talks to a public TSA (POST a DER
//! `TimeStampReq`, get a DER `TimeStampResp`), so what they verify is a token
//! produced by an independent implementation, not by our own code.
//!
//! Include it with `#[path = "support/tsa.rs"] mod tsa;` (or
//! `#[path = "../evidence/tests/support/tsa.rs"]` from the `spotcheck`
//! package). It needs only std, `tempfile` and the `openssl` CLI (OpenSSL 3);
//! set `OPENSSL` to use another binary.

// Each including test file uses a different part of this; a failed setup is
// a failed test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The TSA's (and its CA's) key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    EcP256,
}

impl KeyKind {
    fn newkey_args(self) -> &'static [&'static str] {
        match self {
            KeyKind::Rsa => &["-newkey", "rsa:2048"],
            KeyKind::EcP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        }
    }
}

/// The policy OID the test TSA stamps under (a private-use arc).
pub const TEST_POLICY: &str = "1.2.3.4.1";
/// The subject common names of the test CA and TSA certificates.
pub const TEST_CA_CN: &str = "spotcheck test root CA";
pub const TEST_TSA_CN: &str = "spotcheck test TSA";

/// A running test TSA. Dropping it stops the server and deletes its files.
pub struct TestTsa {
    /// Where to POST queries, e.g. `http://127.0.0.1:40123/tsa`.
    pub url: String,
    /// The root CA certificate (PEM) the TSA certificate chains to.
    pub ca_pem: PathBuf,
    /// The TSA's own certificate (PEM).
    pub tsa_cert_pem: PathBuf,
    /// The `openssl ts` configuration the server replies with.
    pub config: PathBuf,
    pub kind: KeyKind,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
}

impl TestTsa {
    /// Creates a root CA and a TSA certificate it signs (extendedKeyUsage
    /// critical, timeStamping only), and starts serving RFC 3161 over HTTP.
    pub fn start(kind: KeyKind) -> TestTsa {
        TestTsa::start_with(kind, "sha256", "sha256")
    }

    /// Like [`TestTsa::start`], choosing the digest the TSA signs with
    /// (`signer_digest`) and the one its ESS signing-certificate attribute
    /// uses (`ess_cert_id_alg`; `sha1` gives the legacy v1 attribute).
    pub fn start_with(kind: KeyKind, signer_digest: &str, ess_cert_id_alg: &str) -> TestTsa {
        let dir = tempfile::tempdir().expect("temporary directory for the test TSA");
        let root = dir.path();
        let config = root.join("openssl.cnf");
        let tsa_section =
            format!("{}signer_digest = {signer_digest}\ness_cert_id_alg = {ess_cert_id_alg}\n", openssl_config(root));
        std::fs::write(&config, tsa_section).expect("write openssl.cnf");
        std::fs::write(root.join("serial"), "01\n").expect("write the TSA serial file");

        let ca_pem = make_root_ca(root, "ca", TEST_CA_CN, kind);
        let subject = format!("/CN={TEST_TSA_CN}/O=spotcheck tests");
        let mut csr = vec!["req", "-new", "-config", "openssl.cnf", "-nodes"];
        csr.extend_from_slice(kind.newkey_args());
        csr.extend_from_slice(&["-keyout", "tsa.key", "-out", "tsa.csr", "-subj", &subject]);
        openssl_ok(root, &csr);
        let sign = "x509 -req -in tsa.csr -CA ca.pem -CAkey ca.key -set_serial 0x5157 -days 3650 \
                    -extfile openssl.cnf -extensions v3_tsa -out tsa.pem";
        openssl_ok(root, &sign.split_whitespace().collect::<Vec<_>>());

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test TSA");
        let addr = listener.local_addr().expect("the test TSA's address");
        let stop = Arc::new(AtomicBool::new(false));
        let server = {
            let stop = Arc::clone(&stop);
            let workdir = root.to_path_buf();
            std::thread::spawn(move || serve(listener, &workdir, &stop))
        };
        TestTsa {
            url: format!("http://{addr}/tsa"),
            ca_pem,
            tsa_cert_pem: root.join("tsa.pem"),
            config,
            kind,
            dir,
            addr,
            stop,
            server: Some(server),
        }
    }

    /// The TSA's working directory (keys, certificates, config), for tests
    /// that want to put more files next to them.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestTsa {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // `accept` blocks; one last connection wakes it to see the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

/// Makes a self-signed root CA (`<stem>.pem`, `<stem>.key`) in `dir` and
/// returns the certificate's path, writing the test `openssl.cnf` there
/// first if `dir` has none (its `v3_ca` section makes the certificate a CA).
pub fn make_root_ca(dir: &Path, stem: &str, common_name: &str, kind: KeyKind) -> PathBuf {
    if !dir.join("openssl.cnf").exists() {
        std::fs::write(dir.join("openssl.cnf"), openssl_config(dir)).expect("write openssl.cnf");
    }
    let (cert, key) = (format!("{stem}.pem"), format!("{stem}.key"));
    let subject = format!("/CN={common_name}/O=spotcheck tests");
    let mut args = vec!["req", "-x509", "-config", "openssl.cnf", "-extensions", "v3_ca"];
    args.extend_from_slice(kind.newkey_args());
    args.extend_from_slice(&["-nodes", "-days", "3650", "-keyout", &key, "-out", &cert, "-subj", &subject]);
    openssl_ok(dir, &args);
    dir.join(cert)
}

fn openssl_config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"
[req]
distinguished_name = req_dn
prompt = no

[req_dn]
CN = unused

[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[v3_tsa]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[tsa]
default_tsa = test_tsa

# The last section: `start_with` appends its digest choices to it.
[test_tsa]
serial = {d}/serial
crypto_device = builtin
signer_cert = {d}/tsa.pem
certs = {d}/ca.pem
signer_key = {d}/tsa.key
default_policy = {TEST_POLICY}
other_policies = 1.2.3.4.2
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500
clock_precision_digits = 0
ordering = no
tsa_name = yes
ess_cert_id_chain = no
"#
    )
}

/// Runs the `openssl` CLI in `dir` and returns what it did.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    let program = std::env::var("OPENSSL").unwrap_or_else(|_| "openssl".to_string());
    match Command::new(&program).args(args).current_dir(dir).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "cannot run `{program}` ({e}): the timestamp tests need the OpenSSL 3 command-line \
             tool (install the `openssl` package, or set OPENSSL to its path)"
        ),
    }
}

/// Runs the `openssl` CLI in `dir`, panicking with its stderr if it fails.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> Output {
    let output = openssl(dir, args);
    assert!(output.status.success(), "openssl {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    output
}

// ---------------------------------------------------------------------------
// The server: one connection at a time, which also serialises the TSA's
// serial-number file.

const MAX_BODY: usize = 64 * 1024;

fn serve(listener: TcpListener, dir: &Path, stop: &AtomicBool) {
    let counter = AtomicUsize::new(0);
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        // A stuck client must not wedge the server (and so the test's drop).
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let (status, content_type, body) = match read_request(&stream) {
            Ok(query) => reply(dir, n, &query),
            Err((status, why)) => (status, "text/plain", why.into_bytes()),
        };
        let _ = write_response(&mut stream, status, content_type, &body);
    }
}

/// Reads a `POST` and its body; anything else is an HTTP error to send back.
fn read_request(stream: &TcpStream) -> Result<Vec<u8>, (u16, String)> {
    let bad = |why: &str| (400, format!("{why}\n"));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|_| bad("unreadable request line"))?;
    let method = line.split_whitespace().next().unwrap_or("").to_string();
    if method.is_empty() {
        return Err(bad("empty request"));
    }
    let mut content_length = None;
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(|_| bad("unreadable header"))?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse::<usize>().ok();
            }
        }
    }
    if method != "POST" {
        return Err((405, "only POST is supported\n".into()));
    }
    let length = content_length.ok_or_else(|| bad("a Content-Length is required"))?;
    if length == 0 || length > MAX_BODY {
        return Err(bad("the body must be a TimeStampReq"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|_| bad("the body is shorter than its Content-Length"))?;
    Ok(body)
}

/// Answers one query with `openssl ts -reply`; a query OpenSSL cannot even
/// parse is a 400 (a parseable but unacceptable one gets a signed-off
/// rejection `TimeStampResp` from OpenSSL itself, with status 200).
fn reply(dir: &Path, n: usize, query: &[u8]) -> (u16, &'static str, Vec<u8>) {
    let (query_file, reply_file) = (format!("query-{n}.tsq"), format!("reply-{n}.tsr"));
    if std::fs::write(dir.join(&query_file), query).is_err() {
        return (500, "text/plain", b"cannot store the query\n".to_vec());
    }
    let output =
        openssl(dir, &["ts", "-reply", "-config", "openssl.cnf", "-queryfile", &query_file, "-out", &reply_file]);
    match std::fs::read(dir.join(&reply_file)) {
        Ok(reply) if output.status.success() && !reply.is_empty() => (200, "application/timestamp-reply", reply),
        _ => (400, "text/plain", output.stderr),
    }
}

fn write_response(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    };
    write!(
        stream,
        "HTTP/1.0 {status} {reason}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

// ---------------------------------------------------------------------------
// The client.

/// POSTs `body` to an `http://host:port/path` URL and returns the status and
/// the response body. Blocking, std only, HTTP/1.0: enough for a local TSA.
pub fn post(url: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("only http:// URLs are supported, not {url}"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(authority).unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let head = format!(
        "POST {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .unwrap_or_else(|e| panic!("send to {url}: {e}"));
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap_or_else(|e| panic!("read from {url}: {e}"));

    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{url} sent no complete HTTP header"));
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{url} sent a malformed status line: {head}"));
    (status, response[split + 4..].to_vec())
}

/// POSTs a DER `TimeStampReq` and returns the DER `TimeStampResp`, panicking
/// unless the TSA answered 200.
pub fn post_query(url: &str, der: &[u8]) -> Vec<u8> {
    let (status, body) = post(url, "application/timestamp-query", der);
    assert_eq!(status, 200, "the TSA at {url} answered {status}: {}", String::from_utf8_lossy(&body));
    body
}
