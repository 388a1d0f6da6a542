//! `tidewater auth hash-token`: make a token and the hash to put in `[auth]`.

use std::io::Read;

/// `tidewater auth ...`
#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    command: AuthCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuthCommand {
    /// Print a new random token and its argon2 hash (the `hash` of an
    /// `[[auth.tokens]]` entry). With `--stdin`, hash the token read from
    /// standard input instead (one line; the token is not printed).
    HashToken {
        /// Read the token to hash from standard input.
        #[arg(long)]
        stdin: bool,
    },
}

/// Run the `auth` subcommand.
pub fn run(args: AuthArgs) -> Result<(), String> {
    match args.command {
        AuthCommand::HashToken { stdin } => {
            let (secret, show) = if stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text).map_err(|e| format!("reading the token: {e}"))?;
                let secret = text.trim_end_matches(['\r', '\n']).to_string();
                if secret.is_empty() {
                    return Err("no token on standard input".into());
                }
                (secret, false)
            } else {
                (tidewater_auth::hash::generate_secret(), true)
            };
            let hash = tidewater_auth::hash::hash_token(&secret).map_err(|e| e.to_string())?;
            if show {
                println!("token = \"{secret}\"");
            }
            println!("hash = \"{hash}\"");
            Ok(())
        }
    }
}
