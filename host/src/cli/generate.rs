//! `moose generate`: things a user needs to configure an app or to use it.

use std::path::PathBuf;

use crate::assemble::assemble;
use crate::auth;
use crate::builder::Profile;
use crate::config::Project;
use crate::sdkgen::{self, Language};

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// A new random API or admin token and its hash: give the token to the client and put
    /// the hash in `[auth] api_keys` or `admin_tokens` of moose.config.toml.
    HashToken,
    /// A typed client of the app's ingest endpoints and query APIs (builds the app first).
    Sdk(SdkArgs),
}

#[derive(Debug, clap::Args)]
pub struct SdkArgs {
    /// Language of the client: `ts` writes client.ts, `python` the package moose_client/.
    #[arg(long, value_enum)]
    language: Language,
    /// Directory to write the client into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// The app directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

pub fn run(what: What) -> anyhow::Result<()> {
    match what {
        What::HashToken => {
            let token = auth::generate_token();
            println!("token (give to the client, shown once): {token}");
            println!(
                "hash (for moose.config.toml):          {}",
                auth::hash_token(&token)
            );
        }
        What::Sdk(args) => sdk(args)?,
    }
    Ok(())
}

fn sdk(args: SdkArgs) -> anyhow::Result<()> {
    let project = Project::load(&args.dir)?;
    let runtime = super::offline_runtime(&project)?;
    let assembled = assemble(&project, &runtime, Profile::Release, |_| {})?;
    let files = sdkgen::generate(&assembled.app, args.language)?;
    for path in sdkgen::write(&args.out, &files)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
