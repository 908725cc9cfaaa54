//! Identity's flags: sign-in providers, how fast sessions may be opened, how long they last.

/// Sessions and sign-in.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Sessions and sign-in")]
pub struct IdentityFlags {
    /// OpenID Connect providers residents may sign in with: a TOML file of `[[provider]]`s (id,
    /// name, issuer, client_id, client_secret_env, scopes, verified_when); see the README.
    /// Default: none (residents are guests).
    #[arg(long, env = "MADOGUCHI_OIDC_CONFIG")]
    pub oidc_config: Option<std::path::PathBuf>,

    /// Guest sessions one client address may open per minute (also its burst); staff logins are
    /// held to at most 10 a minute per address. 0 turns both limits off. Behind a reverse proxy
    /// every client shares the proxy's address: raise this, or limit at the proxy.
    #[arg(long, env = "MADOGUCHI_SESSIONS_PER_MINUTE", default_value_t = 20)]
    pub sessions_per_minute: u32,

    /// Seconds a session may sit idle before it ends (30 minutes). An open world
    /// connection or text-mode page keeps its session alive; when a session ends, its resident's
    /// waiting tickets are cancelled.
    #[arg(long, env = "MADOGUCHI_SESSION_IDLE_SECS", default_value_t = 1800, value_parser = clap::value_parser!(u32).range(2..=86_400))]
    pub session_idle_secs: u32,
}
