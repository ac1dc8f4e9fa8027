//! `--allow-host` / `SPOTCHECK_ALLOW_HOSTS`: the operator's explicit
//! allowances to the network guard ([`crate::fetch::NetworkPolicy`]), shared
//! by every command that fetches.

use crate::browser::BrowserConfig;
use crate::config::Identity;
use crate::fetch::{FetchConfig, HostAllow, NetworkPolicy};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct NetworkArgs {
    /// Allow fetching from HOST or HOST:PORT although it is not a public
    /// address (loopback, private, link-local …). Only public addresses are
    /// reached otherwise — redirects, robots.txt and the browser included —
    /// so pages cannot steer spotcheck into this machine or its network. The
    /// host matches as written in the URL (`127.0.0.1:8080` does not allow
    /// `localhost:8080`). Repeatable, or comma-separated in the env var.
    #[arg(long = "allow-host", value_name = "HOST[:PORT]", env = "SPOTCHECK_ALLOW_HOSTS", value_delimiter = ',')]
    pub allow_hosts: Vec<HostAllow>,
}

impl NetworkArgs {
    /// Exactly the host and port of `base`: a server the command started
    /// itself (the demo's and the benchmarks' marketplace), allowed in code.
    pub fn only(base: &url::Url) -> NetworkArgs {
        NetworkArgs { allow_hosts: HostAllow::of_url(base).into_iter().collect() }
    }

    pub fn policy(&self) -> NetworkPolicy {
        NetworkPolicy::allowing(self.allow_hosts.iter().cloned())
    }

    /// The fetch settings of a command: the station's identity recorded, these allowances.
    pub fn fetch_config(&self, identity: &Identity) -> FetchConfig {
        FetchConfig {
            station: Some(identity.station.clone()),
            operators: identity.operators.clone(),
            network: self.policy(),
            ..FetchConfig::default()
        }
    }

    /// The browser settings of a command, with these allowances.
    pub fn browser_config(&self) -> BrowserConfig {
        BrowserConfig { network: self.policy(), ..BrowserConfig::default() }
    }
}
