//! `moose generate`: things a user needs to configure an app.

use crate::auth;

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// A new random API or admin token and its hash: give the token to the client and put
    /// the hash in `[auth] api_keys` or `admin_tokens` of moose.config.toml.
    HashToken,
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
    }
    Ok(())
}
