//! `countersign`: the BFF with the embedded CIBA provider (unless an external one is configured).

use std::process::ExitCode;

use infra::runtime::{self, LogFormat};
use server::{Config, start};

#[tokio::main]
async fn main() -> ExitCode {
    // Logging is set up before anything else runs, so its one setting is checked first.
    let log_format = match LogFormat::from_env() {
        Ok(format) => format,
        Err(error) => {
            eprintln!("countersign: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    runtime::init_tracing(log_format);
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("countersign: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let running = match start(config).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("countersign: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("Countersign is running (Ctrl-C stops it)");
    println!("  agent console:  {}/", running.url);
    if running.provider_embedded {
        println!("  CIBA provider:  {} (embedded)", running.provider_issuer);
    } else {
        println!("  CIBA provider:  {}", running.provider_issuer);
    }
    println!("  instance:       {}", running.instance);
    if let Some(metrics) = &running.metrics_url {
        println!("  metrics:        {metrics}");
    }
    match running.run_until(runtime::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("countersign: stopped with an error: {error}");
            ExitCode::FAILURE
        }
    }
}
