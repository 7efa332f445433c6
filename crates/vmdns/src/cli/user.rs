//! `vmdns user`: the accounts of the web UI. Passwords come from a prompt (asked twice) or, for scripts,
//! from standard input with `--password-stdin`; they are stored as argon2id hashes only.

use std::io::{BufRead, IsTerminal};

use clap::{Args, Subcommand};

use super::{CliError, CliResult, StoreArgs, table};
use crate::store::{check_password, check_user_name, format_ms};

#[derive(Debug, Subcommand)]
pub(crate) enum UserCmd {
    /// Add an account for the web UI.
    Add(PasswordArgs),
    /// Set a new password for an account (also lifts a lock-out and ends its sessions).
    Passwd(PasswordArgs),
    /// List accounts (never their passwords).
    List,
}

#[derive(Debug, Args)]
pub(crate) struct PasswordArgs {
    /// The user name (1 to 64 characters, no spaces).
    name: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

fn read_password(args: &PasswordArgs) -> Result<String, CliError> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::fail(format!("cannot read the password: {e}")))?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::usage(
                "no terminal to ask for the password on: use --password-stdin",
            ));
        }
        let first = rpassword::prompt_password(format!("Password for {}: ", args.name))
            .map_err(|e| CliError::fail(format!("cannot read the password: {e}")))?;
        let again = rpassword::prompt_password("Repeat the password: ")
            .map_err(|e| CliError::fail(format!("cannot read the password: {e}")))?;
        if first != again {
            return Err(CliError::usage("the passwords do not match"));
        }
        first
    };
    check_password(&password).map_err(|m| CliError::usage(format!("password: {m}")))?;
    Ok(password)
}

pub(crate) async fn user(store: &StoreArgs, cmd: UserCmd) -> CliResult {
    match cmd {
        UserCmd::Add(args) => {
            check_user_name(&args.name).map_err(|m| CliError::usage(format!("name: {m}")))?;
            let password = read_password(&args)?;
            let app = store.open().await?;
            let user = app.store.create_user(&args.name, &password).await?;
            println!("user {} added (id {})", user.name, user.id);
            Ok(())
        }
        UserCmd::Passwd(args) => {
            let password = read_password(&args)?;
            let app = store.open().await?;
            let user = app.store.set_password(&args.name, &password).await?;
            println!("password of {} changed", user.name);
            Ok(())
        }
        UserCmd::List => {
            let app = store.open().await?;
            let users = app.store.list_users().await?;
            let rows: Vec<Vec<String>> = users
                .iter()
                .map(|u| {
                    vec![
                        u.id.to_string(),
                        u.name.clone(),
                        u.failed_logins.to_string(),
                        u.locked_until.map(format_ms).unwrap_or_default(),
                        format_ms(u.created_at),
                    ]
                })
                .collect();
            table::print(
                &["ID", "NAME", "FAILED LOGINS", "LOCKED UNTIL", "CREATED"],
                &rows,
            );
            Ok(())
        }
    }
}
