//! Runs the embedded CIBA provider on its own, without the BFF.

use std::process::ExitCode;

use infra::runtime::{self, LogFormat};
use provider::{Config, Provider};

#[tokio::main]
async fn main() -> ExitCode {
    // Logging is set up before anything else runs, so its one setting is checked first.
    let log_format = match LogFormat::from_env() {
        Ok(format) => format,
        Err(error) => {
            eprintln!("countersign-provider: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    runtime::init_tracing(log_format);
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("countersign-provider: bad configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let provider = match Provider::bind(config).await {
        Ok(provider) => provider,
        Err(error) => {
            eprintln!("countersign-provider: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("Countersign provider: {}", provider.issuer());
    if let Some(metrics) = provider.metrics_addr() {
        println!("  metrics:        http://{metrics}/metrics");
    }
    match provider.serve(runtime::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("countersign-provider: stopped with an error: {error}");
            ExitCode::FAILURE
        }
    }
}
