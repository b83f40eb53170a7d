//! The command line: `serve` (default), `migrate`, `schema`, `seed`, `bench`,
//! `import`, `erase`.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::auth::service::Bootstrap;
use crate::config::{DatabaseConfig, ServeConfig};
use crate::startup::{shutdown_signal, Application};
use crate::store::Store;

/// Marketing attribution for a subscription business.
#[derive(Debug, Parser)]
#[command(
    name = "growth-analytics",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve`'s flags, so that plain `growth-analytics --listen …` serves.
    #[command(flatten)]
    pub serve: ServeConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default). Applies migrations first.
    // Boxed: the serve settings dwarf every other command's.
    Serve(Box<ServeConfig>),
    /// Apply database migrations and exit.
    Migrate(DatabaseConfig),
    /// Print the GraphQL schema (SDL) to stdout.
    Schema,
    /// Generate realistic demo traffic, deterministically, through the ingestion path.
    Seed(crate::demo::SeedArgs),
    /// Benchmark: the real server under generated load, with its ceilings.
    Bench(crate::bench::BenchArgs),
    /// Import pageviews or events from a CSV or NDJSON file.
    Import(crate::ingest::import::ImportArgs),
    /// Manage API keys and webhook signing secrets.
    Keys(crate::auth::command::KeysArgs),
    /// Erase one user's data (right to erasure) and print what went.
    Erase(EraseArgs),
}

/// `erase` arguments.
#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The account id to erase, as the webhooks send it in `user_id`.
    #[arg(long = "user", value_name = "ID")]
    pub user: String,
    #[command(flatten)]
    pub database: DatabaseConfig,
}

/// Parses arguments, runs the command, maps failure to exit code 1 with the cause chain.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // Colour codes only for a person at a terminal: in a log file or a
    // collector they are noise (and `NO_COLOR` is honoured too).
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(config)) => serve(*config).await,
        Some(Command::Migrate(database)) => {
            let store = Store::connect(&database).await?;
            store.migrate().await?;
            eprintln!(
                "migrations applied to {}",
                crate::store::redact(&database.database_url)
            );
            Ok(())
        }
        Some(Command::Schema) => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Some(Command::Seed(args)) => crate::demo::run(args).await,
        Some(Command::Bench(args)) => crate::bench::run(args).await,
        Some(Command::Import(args)) => crate::ingest::import::run(args).await,
        Some(Command::Keys(args)) => crate::auth::command::run(args).await,
        Some(Command::Erase(args)) => erase(args).await,
    }
}

/// Applies pending migrations (as `migrate`), erases the user, prints the
/// summary. The journeys of other users who shared an erased device are
/// left queued for the service's materialiser: this command does not know
/// the service's attribution settings, and computing credits with other
/// ones would store wrong rows (see `privacy::erase_user`).
async fn erase(args: EraseArgs) -> anyhow::Result<()> {
    let user = crate::domain::UserId::parse("user", &args.user)
        .map_err(|e| anyhow::anyhow!("--{} {}", e.field, e.message))?;
    let store = Store::connect(&args.database).await?;
    store.migrate().await?;
    let summary = crate::privacy::erase_user(&store, None, &user).await?;
    crate::privacy::audit_erasure(&store, &cli_actor(), &user, &summary).await;
    println!("{}", crate::privacy::render(user.as_str(), &summary));
    Ok(())
}

/// Who the audit log names for the command line (as `keys` does).
fn cli_actor() -> String {
    crate::auth::command::actor()
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let database = crate::store::redact(&config.database.database_url);
    let demo = config.demo;
    let app = Application::build(config).await?;
    if demo {
        let state = app.state();
        let seeded = crate::demo::seed_if_empty(
            &state.store,
            &state.ingestor,
            state.config.limits.max_batch_size,
            true,
        );
        match seeded.await? {
            Some(summary) => eprintln!("demo data seeded: {summary}"),
            None => eprintln!("demo data not seeded: the database already has pageviews"),
        }
    }
    let address = app.address();
    tracing::info!(%address, %database, "growth-analytics listening");
    eprintln!("growth-analytics is serving on http://{address}");
    match app.bootstrap() {
        Some(Bootstrap::Generated(key)) => {
            // Like Jupyter's token link: the key rides in the fragment,
            // which browsers never send, so it stays out of server logs.
            eprintln!("  created the first admin key (shown this once; create others with `growth-analytics keys create`):");
            eprintln!("    {key}");
            eprintln!("  GraphiQL:  http://{address}/graphql#key={key}");
            eprintln!("  Dashboard: http://{address}/#key={key}");
        }
        Some(Bootstrap::Chosen) => {
            eprintln!("  created the first admin key from BOOTSTRAP_ADMIN_KEY");
            eprintln!("  GraphiQL:  http://{address}/graphql (open it as /graphql#key=<your key>)");
            eprintln!("  Dashboard: http://{address}/ (open it as /#key=<your key>)");
        }
        _ => {
            eprintln!("  GraphiQL:  http://{address}/graphql (open it as /graphql#key=<key>, or paste the key in its headers pane)");
            eprintln!("  Dashboard: http://{address}/ (open it as /#key=<key>, or paste a read key in its form)");
        }
    }
    eprintln!("  webhooks:  POST http://{address}/webhooks/pageviews and /webhooks/events with `Authorization: Bearer <ingest key>`");
    if demo {
        eprintln!("  try this in GraphiQL:\n    {}", crate::demo::FIRST_QUERY);
    }
    app.run_until(shutdown_signal()).await
}
