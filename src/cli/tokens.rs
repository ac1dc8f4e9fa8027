//! `spotcheck tokens`: API tokens of staff, enforcement and admin users
//! (roles), and platforms' API keys. Secrets are printed once, when issued,
//! and never stored: only their SHA-256 is kept.

use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::Utc;

use crate::access::{AccessTokens, Role};
use crate::config::{DataDir, Identity};
use crate::notices::{ApiKeys, PlatformRegistry};
use crate::store::Store;

#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    /// Issue a token for a person: prints the secret once.
    Issue(IssueArgs),
    /// List tokens (never their secrets).
    List,
    /// Revoke a token: its secret stops working at once.
    Revoke {
        /// The token id (`tok_…`, from `tokens list`).
        id: String,
    },
    /// Platforms' API keys.
    #[command(subcommand)]
    PlatformKey(PlatformKeyCommand),
}

/// `spotcheck tokens issue`
#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// admin (platform keys), staff (findings, cases, notices) or enforcement (one bureau's cases).
    #[arg(long)]
    pub role: String,
    /// The person the token is for (recorded as the actor of what they do).
    #[arg(long)]
    pub name: String,
    /// The bureau's area code, for an enforcement token (e.g. `330100`).
    #[arg(long)]
    pub bureau: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum PlatformKeyCommand {
    /// Issue an API key for a platform of the registry: prints the secret once.
    Issue {
        platform: String,
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// List a platform's keys (never their secrets).
    List {
        platform: String,
        #[command(flatten)]
        registry: RegistryArg,
    },
    /// Revoke a platform's key: it stops working at once.
    Revoke {
        /// The key id (`key_…`, from `platform-key list`).
        key_id: String,
    },
}

/// The platform registry the keys are checked against.
#[derive(Debug, clap::Args)]
pub struct RegistryArg {
    /// The platform registry (`[[platform]]` tables).
    #[arg(long, value_name = "FILE")]
    pub platforms: PathBuf,
}

fn time(t: Option<chrono::DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".to_string(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

pub async fn run(command: TokensCommand, data: &DataDir, identity: &Identity) -> anyhow::Result<bool> {
    let store = data.open_store()?;
    match command {
        TokensCommand::Issue(args) => {
            let role: Role = args.role.parse()?;
            let tokens = AccessTokens::open(store.db())?;
            let (record, secret) = tokens.issue(role, &args.name, args.bureau.as_deref(), Utc::now())?;
            tracing::info!(token = record.token_id, by = crate::cases::actor(identity), "access token issued");
            let bureau = record.bureau.as_deref().map(|b| format!(" of bureau {b}")).unwrap_or_default();
            println!("{} ({} token for {}{bureau})", record.token_id, record.role, record.name);
            println!("{secret}");
            eprintln!("this secret is shown once and is not stored: give it to {} now", record.name);
        }
        TokensCommand::List => {
            let tokens = AccessTokens::open(store.db())?;
            let all = tokens.list()?;
            for t in &all {
                out!(
                    "{}  {:<11}  {:<8}  {}  revoked {}  {}",
                    t.token_id,
                    t.role.as_str(),
                    t.bureau.as_deref().unwrap_or("-"),
                    time(Some(t.created_at)),
                    time(t.revoked_at),
                    t.name
                );
            }
            out!("{} tokens", all.len());
        }
        TokensCommand::Revoke { id } => {
            let record = AccessTokens::open(store.db())?.revoke(&id, Utc::now())?;
            println!("{} of {} revoked at {}", record.token_id, record.name, time(record.revoked_at));
        }
        TokensCommand::PlatformKey(command) => return platform_key(command, &store),
    }
    Ok(true)
}

fn keys(store: &Store, registry: &RegistryArg) -> anyhow::Result<ApiKeys> {
    let registry = PlatformRegistry::load(&registry.platforms)?;
    Ok(ApiKeys::open(store.db(), registry)?)
}

fn platform_key(command: PlatformKeyCommand, store: &Store) -> anyhow::Result<bool> {
    match command {
        PlatformKeyCommand::Issue { platform, registry } => {
            let (key_id, secret) = keys(store, &registry)?.issue_key(&platform, Utc::now())?;
            println!("{key_id} (api key for platform {platform})");
            println!("{secret}");
            eprintln!("this secret is shown once and is not stored: give it to the platform now");
        }
        PlatformKeyCommand::List { platform, registry } => {
            let keys = keys(store, &registry)?;
            if keys.registry().get(&platform).is_none() {
                bail!("unknown platform `{platform}` (not in `{}`)", registry.platforms.display());
            }
            let mut all = keys.keys(&platform)?;
            all.sort_by(|a, b| (a.created_at, &a.key_id).cmp(&(b.created_at, &b.key_id)));
            for k in &all {
                out!("{}  {}  {}  revoked {}", k.key_id, k.platform, time(Some(k.created_at)), time(k.revoked_at));
            }
            out!("{} keys", all.len());
        }
        PlatformKeyCommand::Revoke { key_id } => {
            let keys = ApiKeys::open(store.db(), PlatformRegistry::default())?;
            keys.revoke(&key_id, Utc::now())?;
            let record = keys.get(&key_id)?.with_context(|| format!("api key `{key_id}` not found"))?;
            println!("{} of {} revoked at {}", record.key_id, record.platform, time(record.revoked_at));
        }
    }
    Ok(true)
}
