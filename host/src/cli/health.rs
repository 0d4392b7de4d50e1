//! `moose health`: exits 0 when a host's `/health` answers 200, for container health
//! checks in images that have no HTTP client of their own.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The health endpoint of the host's management API.
    #[arg(long, default_value = "http://127.0.0.1:5001/health")]
    url: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    timeout: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let request = Request::get(&args.url)
        .body(Body::empty())
        .with_context(|| format!("`{}` is not a valid URL", args.url))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let status = runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
        let answer =
            tokio::time::timeout(Duration::from_secs(args.timeout), client.request(request));
        match answer.await {
            Ok(Ok(response)) => Ok(response.status()),
            Ok(Err(error)) => Err(anyhow!("{}: {error}", args.url)),
            Err(_) => Err(anyhow!("{}: no answer within {}s", args.url, args.timeout)),
        }
    })?;
    if status != StatusCode::OK {
        bail!("{} answered {status}", args.url);
    }
    println!("healthy");
    Ok(())
}
