//! `spotcheck users add|list|passwd|disable`: accounts of the web console
//! (`spotcheck serve`, `/console/`). A password is read from stdin with
//! `--password-stdin`, or generated and printed once.

use std::io::Read;

use anyhow::Context;
use chrono::Utc;

use crate::access::Role;
use crate::config::DataDir;
use crate::console::layout::{role_name, time};
use crate::console::users::{generate_password, ConsoleUsers};

#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Make an account; prints the generated password once unless --password-stdin.
    Add(AddArgs),
    /// List accounts (never their passwords).
    List,
    /// Set a new password (generated unless --password-stdin); re-enables a disabled account.
    Passwd(PasswdArgs),
    /// Disable an account: it can no longer sign in, and its sessions end.
    Disable { name: String },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Log-in name: a-z, 0-9, `.`, `_`, `-`.
    pub name: String,
    /// admin, staff or enforcement.
    #[arg(long)]
    pub role: Role,
    /// The bureau (area code) of an enforcement account.
    #[arg(long)]
    pub bureau: Option<String>,
    /// The name shown and recorded as the actor (default: the log-in name), e.g. 王芳.
    #[arg(long)]
    pub display: Option<String>,
    /// Read the password from stdin (one line) instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, clap::Args)]
pub struct PasswdArgs {
    pub name: String,
    #[arg(long)]
    pub password_stdin: bool,
}

fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((generate_password(), true));
    }
    let mut text = String::new();
    std::io::stdin().take(4096).read_to_string(&mut text).context("cannot read the password from stdin")?;
    Ok((text.lines().next().unwrap_or("").to_string(), false))
}

pub fn run(command: UsersCommand, data: &DataDir) -> anyhow::Result<bool> {
    let store = data.open_store()?;
    let users = ConsoleUsers::open(store.db())?;
    match command {
        UsersCommand::Add(args) => {
            let (password, generated) = password(args.password_stdin)?;
            let user = users.add(
                &args.name,
                args.display.as_deref(),
                args.role,
                args.bureau.as_deref(),
                &password,
                Utc::now(),
            )?;
            println!("account `{}` ({}, {}) created", user.name, user.display, user.role);
            if generated {
                println!("password: {password}");
                println!("(shown once; `spotcheck users passwd {}` sets a new one)", user.name);
            }
        }
        UsersCommand::List => {
            out!("{:<20} {:<16} {:<12} {:<8} {:<18} status", "name", "display", "role", "bureau", "created (UTC+8)");
            for u in users.list()? {
                let status = if u.disabled_at.is_some() { "disabled" } else { "active" };
                out!(
                    "{:<20} {:<16} {:<12} {:<8} {:<18} {status}",
                    u.name,
                    u.display,
                    format!("{} {}", u.role, role_name(u.role)),
                    u.bureau.as_deref().unwrap_or("-"),
                    time(&u.created_at)
                );
            }
        }
        UsersCommand::Passwd(args) => {
            let (password, generated) = password(args.password_stdin)?;
            users.set_password(&args.name, &password)?;
            println!("password of `{}` changed", args.name);
            if generated {
                println!("password: {password}");
            }
        }
        UsersCommand::Disable { name } => {
            users.disable(&name, Utc::now())?;
            println!("account `{name}` disabled");
        }
    }
    Ok(true)
}
