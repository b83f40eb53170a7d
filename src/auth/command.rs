//! `growth-analytics keys …`: create, list and revoke API keys, and manage
//! webhook signing secrets, straight on the database (no server needed).

use clap::{Args, Subcommand};

use super::service::{self, KeyError};
use super::Scopes;
use crate::config::DatabaseConfig;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
    #[command(flatten)]
    pub database: DatabaseConfig,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its secret (shown this once only).
    Create {
        /// A name to list, revoke and audit it by (letters, digits, `-_.`).
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: ingest, read, admin.
        #[arg(long, value_parser = parse_scopes)]
        scope: Scopes,
        /// Also create a webhook signing secret (`whsec_…`): requests with
        /// this key must then be signed.
        #[arg(long)]
        signing_secret: bool,
    },
    /// List keys: name, scopes, created, last used, revoked (never secrets).
    List,
    /// Revoke a key: it fails from the next request, on every process.
    Revoke { name: String },
    /// Add a signing secret to a key (both old and new are accepted until
    /// the old one is removed).
    AddSecret { name: String },
    /// Retire one of a key's signing secrets.
    RemoveSecret { name: String, secret: String },
}

fn parse_scopes(value: &str) -> Result<Scopes, String> {
    value.parse()
}

/// Who the audit log names for changes made from the command line.
pub fn actor() -> String {
    match std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".into(),
    }
}

pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let store = Store::connect(&args.database).await?;
    store.migrate().await?;
    let actor = actor();
    let result = match args.command {
        KeysCommand::Create {
            name,
            scope,
            signing_secret,
        } => service::create(&store, &name, scope, signing_secret, &actor)
            .await
            .map(|key| {
                println!("{}", key.secret);
                eprintln!(
                    "created key `{}` with scopes {}: store the secret above now, it is not shown again",
                    key.name, key.scopes
                );
                if let Some(s) = key.signing_secret {
                    println!("{s}");
                    eprintln!("signing secret above: requests with this key must be signed with it");
                }
            }),
        KeysCommand::List => {
            let keys = store.keys().await?;
            println!(
                "{:<24} {:<18} {:<20} {:<20} {:<20} signing secrets",
                "name", "scopes", "created", "last used", "revoked"
            );
            let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string())
            };
            for (key, secrets) in keys {
                println!(
                    "{:<24} {:<18} {:<20} {:<20} {:<20} {}",
                    key.name,
                    key.scopes,
                    when(Some(key.created_at)),
                    when(key.last_used_at),
                    when(key.revoked_at),
                    secrets
                );
            }
            Ok(())
        }
        KeysCommand::Revoke { name } => service::revoke(&store, &name, &actor)
            .await
            .map(|()| eprintln!("revoked key `{name}`")),
        KeysCommand::AddSecret { name } => service::add_secret(&store, &name, &actor)
            .await
            .map(|secret| {
                println!("{secret}");
                eprintln!("added a signing secret to `{name}`: both it and the older ones are accepted until removed");
            }),
        KeysCommand::RemoveSecret { name, secret } => {
            service::remove_secret(&store, &name, &secret, &actor)
                .await
                .map(|()| eprintln!("removed a signing secret of `{name}`"))
        }
    };
    result.map_err(|e: KeyError| anyhow::anyhow!(e))
}
