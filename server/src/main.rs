//! `madoguchi-server`: parses arguments, sets up logging, and runs the office.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    // netcode logs every undecodable datagram at error level: that is an attacker's lever on our
    // logs (and a flood's way to cost the tick more), so it stays quiet unless RUST_LOG names it.
    let mut filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,renet=warn".into());
    if !filter.contains("renetcode") {
        filter.push_str(",renetcode=off");
    }
    // The media stack warns of routine steps of every connection (no candidate pair yet, no
    // server name for DTLS): errors only, unless RUST_LOG names it.
    for media in ["rtc_ice", "rtc_dtls"] {
        if !filter.contains(media) {
            filter.push_str(&format!(",{media}=error"));
        }
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|e| {
            eprintln!("RUST_LOG: {e}; using the default");
            tracing_subscriber::EnvFilter::new("info,renet=warn,renetcode=off")
        }))
        .init();
    madoguchi_server::run(madoguchi_server::app::config::Cli::parse())
}
