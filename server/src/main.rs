//! `madoguchi-server`: parses arguments, sets up logging, and runs the office.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // netcode logs every undecodable datagram at error level: that is an attacker's
                // lever on our logs, so it stays quiet unless asked for.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,renetcode=off,renet=warn")),
        )
        .init();
    madoguchi_server::run(madoguchi_server::config::Cli::parse())
}
