//! The network policy (SSRF guard, issue 10): pages must not steer spotcheck
//! or its browser to this machine, its network or the cloud's metadata
//! service.
//!
//! Only public addresses are reached unless the operator allows a host
//! explicitly ([`NetworkPolicy::allow_hosts`], `--allow-host`,
//! `SPOTCHECK_ALLOW_HOSTS`, a plan's `allow_hosts`). An entry matches the
//! URL's host *as written*: `127.0.0.1:8080` allows `http://127.0.0.1:8080/`,
//! not `http://localhost:8080/` (allow `localhost:8080` for that), and with a
//! port it allows that port only.
//!
//! The check is on the address actually connected to:
//! - IP-literal URLs (which never reach a resolver) are checked before each
//!   request, redirect hops and robots.txt included ([`NetworkPolicy::check_url`]);
//! - names go through [`GuardedResolver`], the HTTP client's only resolver:
//!   it resolves once and hands the connector only the addresses that passed,
//!   so a name that answers a public address to a first lookup and
//!   `127.0.0.1` to the next (DNS rebinding) still never connects to loopback;
//! - the browser's proxy ([`crate::browser`]) resolves with
//!   [`NetworkPolicy::resolve`] and connects to exactly what it returned.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use url::{Host, Url};

/// What the network guard lets through. `Default`: public addresses only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Hosts the operator allows although they are not public (loopback test
    /// servers, an intranet host). Never taken from a page.
    pub allow_hosts: Vec<HostAllow>,
}

/// One operator allowance: `host` or `host:port`, the host an IP literal
/// (`127.0.0.1`, `[::1]:8080`) or a name (`localhost`, `intranet.example`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostAllow {
    pub host: AllowedHost,
    /// `None`: every port of the host.
    pub port: Option<u16>,
}

/// The host of a [`HostAllow`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AllowedHost {
    /// Canonical form (an IPv4-mapped IPv6 address is stored as IPv4).
    Ip(IpAddr),
    /// Lower case, without a trailing dot.
    Name(String),
}

/// Why an `--allow-host` entry is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allowed host `{entry}`: {reason} (expected HOST or HOST:PORT, e.g. `127.0.0.1:8080`, `[::1]:8080`, `localhost`)")]
pub struct HostAllowError {
    pub entry: String,
    pub reason: String,
}

impl FromStr for HostAllow {
    type Err = HostAllowError;

    fn from_str(entry: &str) -> Result<HostAllow, HostAllowError> {
        let bad = |reason: &str| HostAllowError { entry: entry.to_string(), reason: reason.to_string() };
        let s = entry.trim();
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.contains("://") || s.contains('/') {
            return Err(bad("give a host, not a url"));
        }
        let port_of = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("the port is not 1-65535"));
        // `[v6]` or `[v6]:port`
        if let Some(rest) = s.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
            let ip = ip.parse::<Ipv6Addr>().map_err(|_| bad("not an ipv6 address inside `[]`"))?;
            let port = match after {
                "" => None,
                _ => Some(port_of(after.strip_prefix(':').ok_or_else(|| bad("expected `:PORT` after `]`"))?)?),
            };
            return Ok(HostAllow { host: AllowedHost::Ip(IpAddr::V6(ip).to_canonical()), port });
        }
        // A bare IPv6 address (several colons) has no port.
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(HostAllow { host: AllowedHost::Ip(ip.to_canonical()), port: None });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port_of(port)?)),
            None => (s, None),
        };
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(HostAllow { host: AllowedHost::Ip(IpAddr::V4(ip)), port });
        }
        // Names as the URL parser would normalise them (IDNA, lower case).
        let name = match Host::parse(host) {
            Ok(Host::Domain(d)) => d.trim_end_matches('.').to_string(),
            Ok(Host::Ipv4(ip)) => return Ok(HostAllow { host: AllowedHost::Ip(IpAddr::V4(ip)), port }),
            Ok(Host::Ipv6(_)) | Err(_) => return Err(bad("not a host name or ip address")),
        };
        if name.is_empty() {
            return Err(bad("not a host name or ip address"));
        }
        Ok(HostAllow { host: AllowedHost::Name(name), port })
    }
}

impl fmt::Display for HostAllow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, self.port) {
            (AllowedHost::Ip(IpAddr::V6(ip)), Some(p)) => write!(f, "[{ip}]:{p}"),
            (AllowedHost::Ip(ip), Some(p)) => write!(f, "{ip}:{p}"),
            (AllowedHost::Ip(ip), None) => write!(f, "{ip}"),
            (AllowedHost::Name(n), Some(p)) => write!(f, "{n}:{p}"),
            (AllowedHost::Name(n), None) => write!(f, "{n}"),
        }
    }
}

impl HostAllow {
    /// The entry that allows exactly `addr` (the sample marketplace a command started itself).
    pub fn socket(addr: SocketAddr) -> HostAllow {
        HostAllow { host: AllowedHost::Ip(addr.ip().to_canonical()), port: Some(addr.port()) }
    }

    /// The entry that allows exactly the host and port of `url` (a server
    /// the command started itself, e.g. `http://127.0.0.1:PORT/`).
    pub fn of_url(url: &Url) -> Option<HostAllow> {
        let host = match url.host()? {
            Host::Domain(d) => AllowedHost::Name(d.trim_end_matches('.').to_ascii_lowercase()),
            Host::Ipv4(ip) => AllowedHost::Ip(IpAddr::V4(ip)),
            Host::Ipv6(ip) => AllowedHost::Ip(IpAddr::V6(ip).to_canonical()),
        };
        Some(HostAllow { host, port: url.port_or_known_default() })
    }
}

/// A refusal: the target and why, for [`super::FetchError::Blocked`] and the proxy's 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Blocked {
    pub reason: String,
}

/// What [`NetworkPolicy::resolve`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(transparent)]
    Blocked(#[from] Blocked),
    #[error("cannot resolve `{host}`: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
}

/// Written as the operator wrote it: the list of allowed `host[:port]` entries.
impl serde::Serialize for NetworkPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.allow_hosts.iter().map(ToString::to_string))
    }
}

impl<'de> serde::Deserialize<'de> for NetworkPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NetworkPolicy, D::Error> {
        let entries = Vec::<String>::deserialize(d)?;
        let allow = entries.iter().map(|e| e.parse::<HostAllow>()).collect::<Result<Vec<_>, _>>();
        allow.map(NetworkPolicy::allowing).map_err(serde::de::Error::custom)
    }
}

impl NetworkPolicy {
    /// Public addresses, plus `allow_hosts`.
    pub fn allowing(allow_hosts: impl IntoIterator<Item = HostAllow>) -> NetworkPolicy {
        NetworkPolicy { allow_hosts: allow_hosts.into_iter().collect() }
    }

    /// This policy with `more` allowed too (duplicates dropped).
    pub fn with(mut self, more: impl IntoIterator<Item = HostAllow>) -> NetworkPolicy {
        for entry in more {
            if !self.allow_hosts.contains(&entry) {
                self.allow_hosts.push(entry);
            }
        }
        self
    }

    /// An entry names `host` (as written in the URL) at `port`.
    fn allows(&self, host: &Host<&str>, port: u16) -> bool {
        let wanted = match host {
            Host::Domain(d) => AllowedHost::Name(d.trim_end_matches('.').to_ascii_lowercase()),
            Host::Ipv4(ip) => AllowedHost::Ip(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => AllowedHost::Ip(IpAddr::V6(*ip).to_canonical()),
        };
        self.allow_hosts.iter().any(|e| e.host == wanted && e.port.is_none_or(|p| p == port))
    }

    /// An entry names the host name `name`, at whatever port.
    fn names(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.allow_hosts.iter().any(|e| matches!(&e.host, AllowedHost::Name(n) if *n == name))
    }

    /// The checks that need no resolution, before every request: the scheme,
    /// and an IP-literal host (which no resolver ever sees). A name that is
    /// allowed at other ports than this URL's is resolved here, so its
    /// non-public addresses are refused at this port.
    pub async fn check_url(&self, url: &Url) -> Result<(), Blocked> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Blocked { reason: format!("scheme `{}` is not http or https", url.scheme()) });
        }
        let Some(host) = url.host() else {
            return Err(Blocked { reason: "the url has no host".to_string() });
        };
        let port = url.port_or_known_default().unwrap_or(80);
        match host {
            Host::Ipv4(ip) => self.check_ip(&host, IpAddr::V4(ip), port),
            Host::Ipv6(ip) => self.check_ip(&host, IpAddr::V6(ip), port),
            Host::Domain(name) if self.names(name) && !self.allows(&host, port) => {
                match self.resolve(name, port).await {
                    Ok(_) => Ok(()),
                    Err(GuardError::Blocked(b)) => Err(b),
                    // Unresolvable: the request itself fails with the usual error.
                    Err(GuardError::Resolve { .. }) => Ok(()),
                }
            }
            Host::Domain(_) => Ok(()),
        }
    }

    fn check_ip(&self, host: &Host<&str>, ip: IpAddr, port: u16) -> Result<(), Blocked> {
        match blocked_reason(ip) {
            Some(why) if !self.allows(host, port) => {
                Err(Blocked { reason: format!("`{}` is {why}", SocketAddr::new(ip, port)) })
            }
            _ => Ok(()),
        }
    }

    /// Resolves `host` (a name or an IP literal) and returns the addresses
    /// at `port` this policy lets through; [`GuardError::Blocked`] names the
    /// refused addresses when none is left. Connect to exactly these.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, GuardError> {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            let parsed = match ip {
                IpAddr::V4(v4) => Host::Ipv4(v4),
                IpAddr::V6(v6) => Host::Ipv6(v6),
            };
            self.check_ip(&parsed, ip, port)?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let named = self.allows(&Host::Domain(bare), port);
        let found = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|source| GuardError::Resolve { host: bare.to_string(), source })?;
        keep_allowed(bare, found, |_| named).map_err(GuardError::from)
    }
}

/// The addresses of `name` that are public or allowed (`allowed(addr)`);
/// an error naming what was refused when none is left.
fn keep_allowed(
    name: &str,
    found: impl IntoIterator<Item = SocketAddr>,
    allowed: impl Fn(SocketAddr) -> bool,
) -> Result<Vec<SocketAddr>, Blocked> {
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for addr in found {
        match blocked_reason(addr.ip()) {
            Some(why) if !allowed(addr) => refused.push(format!("{} ({why})", addr.ip())),
            _ => kept.push(addr),
        }
    }
    if kept.is_empty() {
        let what = match refused.is_empty() {
            true => "no address".to_string(),
            false => refused.join(", "),
        };
        return Err(Blocked { reason: format!("`{name}` resolves only to blocked addresses: {what}") });
    }
    Ok(kept)
}

/// The HTTP client's resolver: system resolution (through tokio), then only
/// the addresses the policy allows. A host name an entry names may resolve
/// to anything (the operator trusts it; its port is checked by
/// [`NetworkPolicy::check_url`]); any other name only to public addresses.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    policy: Arc<NetworkPolicy>,
}

impl GuardedResolver {
    pub(crate) fn new(policy: NetworkPolicy) -> GuardedResolver {
        GuardedResolver { policy: Arc::new(policy) }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.policy);
        let name = name.as_str().to_string();
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let named = policy.names(&name);
            let kept = keep_allowed(&name, found, |_| named)?;
            let addrs: reqwest::dns::Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// Why `ip` is not a public address (`None` when it is), in words for
/// messages: "a loopback address", "a link-local address (cloud metadata)" …
pub fn blocked_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => "the broadcast address",
        (0, ..) => "an unspecified address (this network)",
        (10, ..) => "a private address",
        (100, 64..=127, _) => "a shared address (carrier-grade nat)",
        (127, ..) => "a loopback address",
        (169, 254, 169) if ip.octets()[3] == 254 => "a link-local address (cloud metadata)",
        (169, 254, _) => "a link-local address",
        (172, 16..=31, _) => "a private address",
        (192, 0, 0) => "a reserved address (ietf protocol assignments)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (192, 88, 99) => "a reserved address (6to4 relay)",
        (192, 168, _) => "a private address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, ..) => "a multicast address",
        (240..=255, ..) => "a reserved address",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    Some(match s {
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        // ::a.b.c.d (deprecated ipv4-compatible)
        [0, 0, 0, 0, 0, 0, ..] => "a reserved address (ipv4-compatible)",
        // NAT64 well-known prefix: as the ipv4 address it translates to.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return v4_reason(embedded(hi, lo)),
        // 6to4: as the ipv4 address it tunnels to.
        [0x2002, hi, lo, ..] => return v4_reason(embedded(hi, lo)),
        [0x2001, 0, ..] => "a reserved address (teredo)",
        [0x2001, 0xdb8, ..] => "a documentation address",
        [0x3fff, x, ..] if x < 0x1000 => "a documentation address",
        [x, ..] if x & 0xfe00 == 0xfc00 => "a private address (unique local)",
        [x, ..] if x & 0xffc0 == 0xfe80 => "a link-local address",
        [x, ..] if x & 0xffc0 == 0xfec0 => "a private address (site-local)",
        [x, ..] if x & 0xff00 == 0xff00 => "a multicast address",
        // Global unicast is 2000::/3; everything else is reserved.
        [x, ..] if x & 0xe000 == 0x2000 => return None,
        _ => "a reserved address",
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_special_range() {
        let table: &[(&str, Option<&str>)] = &[
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.216.34", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("127.0.0.1", Some("a loopback address")),
            ("127.255.255.254", Some("a loopback address")),
            ("10.1.2.3", Some("a private address")),
            ("172.16.0.1", Some("a private address")),
            ("172.31.255.255", Some("a private address")),
            ("192.168.1.1", Some("a private address")),
            ("100.64.0.1", Some("a shared address (carrier-grade nat)")),
            ("169.254.169.254", Some("a link-local address (cloud metadata)")),
            ("169.254.1.1", Some("a link-local address")),
            ("0.0.0.0", Some("an unspecified address (this network)")),
            ("255.255.255.255", Some("the broadcast address")),
            ("224.0.0.1", Some("a multicast address")),
            ("192.0.2.1", Some("a documentation address")),
            ("198.51.100.7", Some("a documentation address")),
            ("203.0.113.9", Some("a documentation address")),
            ("198.18.0.1", Some("a benchmarking address")),
            ("240.0.0.1", Some("a reserved address")),
            ("2606:4700:4700::1111", None),
            ("2001:4860:4860::8888", None),
            ("::1", Some("a loopback address")),
            ("::", Some("an unspecified address")),
            ("::ffff:127.0.0.1", Some("a loopback address")),
            ("::ffff:169.254.169.254", Some("a link-local address (cloud metadata)")),
            ("::ffff:10.0.0.1", Some("a private address")),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some("a reserved address (ipv4-compatible)")),
            ("64:ff9b::7f00:1", Some("a loopback address")),
            ("64:ff9b::808:808", None),
            ("2002:7f00:1::", Some("a loopback address")),
            ("2002:a9fe:a9fe::1", Some("a link-local address (cloud metadata)")),
            ("2001::1", Some("a reserved address (teredo)")),
            ("2001:db8::1", Some("a documentation address")),
            ("fc00::1", Some("a private address (unique local)")),
            ("fd12:3456::1", Some("a private address (unique local)")),
            ("fe80::1", Some("a link-local address")),
            ("febf::1", Some("a link-local address")),
            ("ff02::1", Some("a multicast address")),
            ("100::1", Some("a reserved address")),
        ];
        for (ip, want) in table {
            let got = blocked_reason(ip.parse().unwrap());
            assert_eq!(got, *want, "{ip}");
        }
    }

    #[test]
    fn parses_allow_entries_and_names_the_bad_ones() {
        let ok = |s: &str| s.parse::<HostAllow>().unwrap();
        assert_eq!(ok("127.0.0.1:8080"), HostAllow { host: AllowedHost::Ip([127, 0, 0, 1].into()), port: Some(8080) });
        assert_eq!(ok("127.0.0.1"), HostAllow { host: AllowedHost::Ip([127, 0, 0, 1].into()), port: None });
        assert_eq!(ok("[::1]:9"), HostAllow { host: AllowedHost::Ip("::1".parse().unwrap()), port: Some(9) });
        assert_eq!(ok("::1"), HostAllow { host: AllowedHost::Ip("::1".parse().unwrap()), port: None });
        assert_eq!(ok("[::ffff:127.0.0.1]"), ok("127.0.0.1"), "ipv4-mapped is stored as ipv4");
        assert_eq!(ok(" LocalHost.:80 "), HostAllow { host: AllowedHost::Name("localhost".into()), port: Some(80) });
        for (s, reason) in [
            ("", "it is empty"),
            ("http://127.0.0.1/", "give a host, not a url"),
            ("127.0.0.1:0", "the port is not 1-65535"),
            ("127.0.0.1:99999", "the port is not 1-65535"),
            ("host:", "the port is not 1-65535"),
            ("[::1", "unclosed `[`"),
            ("[::1]x", "expected `:PORT` after `]`"),
            ("[nope]", "not an ipv6 address inside `[]`"),
            ("a b", "not a host name or ip address"),
        ] {
            let e = s.parse::<HostAllow>().unwrap_err();
            assert_eq!(e.reason, reason, "{s:?}");
            assert!(e.to_string().starts_with(&format!("invalid allowed host `{s}`")), "{e}");
        }
        for s in ["127.0.0.1:8080", "[::1]:8080", "localhost", "intranet.example:81", "10.0.0.1"] {
            assert_eq!(ok(s).to_string(), s);
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[tokio::test]
    async fn urls_are_checked_by_scheme_literal_host_and_port() {
        let none = NetworkPolicy::default();
        assert!(none.check_url(&url("http://93.184.216.34/")).await.is_ok());
        assert!(none.check_url(&url("https://example.com/")).await.is_ok(), "names are left to the resolver");
        for (u, why) in [
            ("file:///etc/passwd", "scheme `file` is not http or https"),
            ("ftp://example.com/", "scheme `ftp` is not http or https"),
            ("http://127.0.0.1:8080/", "`127.0.0.1:8080` is a loopback address"),
            ("http://2130706433/", "`127.0.0.1:80` is a loopback address"),
            ("http://0x7f.1/", "`127.0.0.1:80` is a loopback address"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "`169.254.169.254:80` is a link-local address (cloud metadata)",
            ),
            ("http://[::1]:81/", "`[::1]:81` is a loopback address"),
            ("http://[::ffff:127.0.0.1]/", "`[::ffff:127.0.0.1]:80` is a loopback address"),
            ("http://[fe80::1]/", "`[fe80::1]:80` is a link-local address"),
            ("https://10.0.0.1/", "`10.0.0.1:443` is a private address"),
        ] {
            assert_eq!(none.check_url(&url(u)).await.unwrap_err().reason, why, "{u}");
        }
        let allowed = NetworkPolicy::allowing(["127.0.0.1:8080".parse().unwrap(), "::1".parse().unwrap()]);
        assert!(allowed.check_url(&url("http://127.0.0.1:8080/x")).await.is_ok());
        assert!(allowed.check_url(&url("http://[::ffff:127.0.0.1]:8080/")).await.is_ok(), "the same address");
        assert!(allowed.check_url(&url("http://127.0.0.1:8081/")).await.is_err(), "another port");
        assert!(allowed.check_url(&url("http://127.0.0.2:8080/")).await.is_err(), "another address");
        assert!(allowed.check_url(&url("http://[::1]:1/")).await.is_ok(), "every port");
        assert!(allowed.check_url(&url("file:///etc/passwd")).await.is_err(), "no allow lifts the scheme rule");
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_need_the_name_allowed() {
        // `localhost` resolves (via /etc/hosts) to loopback only.
        let public_only = NetworkPolicy::allowing(["93.184.216.34".parse().unwrap()]);
        let e = public_only.resolve("localhost", 80).await.unwrap_err();
        assert!(
            e.to_string().starts_with("`localhost` resolves only to blocked addresses:")
                && e.to_string().contains("(a loopback address)"),
            "{e}"
        );
        // The ip allowed as a literal does not allow a name that resolves to it.
        let by_ip = NetworkPolicy::allowing(["127.0.0.1:80".parse().unwrap()]);
        assert!(by_ip.resolve("localhost", 80).await.is_err());
        let by_name = NetworkPolicy::allowing(["localhost:8080".parse().unwrap()]);
        let addrs = by_name.resolve("localhost", 8080).await.unwrap();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080), "{addrs:?}");
        assert!(by_name.resolve("localhost", 8081).await.is_err(), "another port of an allowed name");
        let e = by_name.check_url(&url("http://localhost:8081/")).await.unwrap_err();
        assert!(e.reason.contains("resolves only to blocked addresses"), "{e}");
        assert!(by_name.check_url(&url("http://localhost:8080/")).await.is_ok());
        // Literals through `resolve` (the proxy's path).
        assert!(NetworkPolicy::default().resolve("[::1]", 80).await.is_err());
        assert!(NetworkPolicy::default().resolve("169.254.169.254", 80).await.is_err());
    }

    #[tokio::test]
    async fn the_client_resolver_filters_the_addresses_it_hands_the_connector() {
        use reqwest::dns::Resolve;
        let name = |s: &str| reqwest::dns::Name::from_str(s).unwrap();
        let guarded = GuardedResolver::new(NetworkPolicy::allowing(["127.0.0.1".parse().unwrap()]));
        let err = match guarded.resolve(name("localhost")).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let blocked = err.downcast_ref::<Blocked>().expect("a Blocked error");
        assert!(blocked.reason.contains("`localhost` resolves only to blocked addresses"), "{blocked}");
        let named = GuardedResolver::new(NetworkPolicy::allowing(["localhost:1".parse().unwrap()]));
        let addrs: Vec<_> = named.resolve(name("localhost")).await.unwrap().collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn keep_allowed_drops_the_blocked_addresses_of_a_mixed_answer() {
        let answer: Vec<SocketAddr> = vec!["127.0.0.1:80".parse().unwrap(), "93.184.216.34:80".parse().unwrap()];
        let kept = keep_allowed("rebind.example", answer.clone(), |_| false).unwrap();
        assert_eq!(kept, vec![answer[1]]);
        let e = keep_allowed("rebind.example", answer[..1].to_vec(), |_| false).unwrap_err();
        assert_eq!(e.reason, "`rebind.example` resolves only to blocked addresses: 127.0.0.1 (a loopback address)");
    }
}
