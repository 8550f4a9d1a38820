//! `abforge serve`: the dashboard and the params API on a socket, until SIGINT or SIGTERM.

use crate::BadInput;
use crate::cli::ServeArgs;
use abforge_api::{AllowedHosts, ApiConfig, AppState, ServeOptions};
use abforge_dashboard::Dashboard;
use abforge_env::EnvVars;
use abforge_pipeline::settings::{Overrides, Settings};
use abforge_store::ObjectStoreConfig;
use anyhow::Context;
use std::io::Write;

/// Serves until a signal, then finishes the requests in flight and returns (exit 0).
///
/// The first line on stdout is `listening on http://IP:PORT`, with the port actually bound
/// (so `--addr 127.0.0.1:0` can be used by scripts and tests).
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let mut config = ApiConfig::from_env().map_err(|e| BadInput(e.to_string()))?;
    config.allowed_hosts = allowed_hosts(&config.allowed_hosts, &args.allowed_hosts);
    let options = ServeOptions {
        header_read_timeout: std::time::Duration::from_secs(args.header_timeout),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
    };
    if !args.addr.ip().is_loopback() && config.token.is_none() {
        return Err(BadInput(format!(
            "refusing to serve on {} without a token: anyone who reaches it could write; \
             set {}, or listen on a loopback address such as 127.0.0.1",
            args.addr,
            EnvVars::ABFORGE_API_TOKEN
        ))
        .into());
    }
    // The same settings as the pipeline's (flag → ABFORGE_* → abforge.toml → default), so
    // the dashboard reads the lake and run log the pipeline writes.
    let settings = Settings::resolve(&Overrides {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        run_log_url: args.run_log_url.clone(),
        object_store_url: args.object_store_url.clone(),
        ..Overrides::default()
    })
    .map_err(|e| BadInput(e.to_string()))?;
    let mut store = ObjectStoreConfig::from_env().with_data_dir(&settings.data_dir);
    if let Some(url) = &settings.object_store_url {
        store = store.with_url(url);
    }
    let objects = store.build().map_err(|e| match e {
        abforge_store::Error::Config(_) => anyhow::Error::new(BadInput(e.to_string())),
        e => anyhow::Error::new(e).context("cannot open the object store"),
    })?;
    let dashboard = Dashboard::new(objects.clone(), Some(settings.run_log_url.clone()))
        .map_err(|e| BadInput(e.to_string()))?;
    let state = AppState::new(config, objects).map_err(|e| BadInput(e.to_string()))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Handlers first, so a signal right after the address is printed is caught.
        let shutdown = shutdown_signal()?;
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{addr}")?;
            out.flush()?;
        }
        let c = state.config();
        tracing::info!(
            %addr,
            store = %state.objects(),
            writes = if c.token.is_some() { "need the token" } else { "open" },
            reads = if c.read_token_required { "need the token" } else { "open" },
            "serving the dashboard at / and the params API (docs at /docs)"
        );
        tokio::spawn({
            let d = dashboard.clone();
            async move { d.warm().await }
        });
        let app = abforge_api::app_with(
            state,
            abforge_dashboard::router(dashboard),
            abforge_dashboard::openapi(),
        );
        abforge_api::serve_with(listener, app, options, shutdown)
            .await
            .context("the server failed")?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// The hosts of ABFORGE_API_ALLOWED_HOSTS and of `--allowed-host`, together.
fn allowed_hosts(from_env: &AllowedHosts, flags: &[String]) -> AllowedHosts {
    match from_env {
        AllowedHosts::Any => AllowedHosts::Any,
        AllowedHosts::Loopback(names) => AllowedHosts::with(names.iter().chain(flags)),
    }
}

/// Resolves on the first SIGINT or SIGTERM (Ctrl-C elsewhere).
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            tracing::info!(
                signal = name,
                "shutting down; finishing the requests in flight"
            );
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down; finishing the requests in flight");
        })
    }
}
