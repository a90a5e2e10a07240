//! The `courier` command line, thin over `courier-service`: it parses, prompts, reads the files it is
//! given and prints. The service's typed errors become one clear line and an exit code by their kind.

mod cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use courier_service::RelationKind;

/// Courier: end-to-end encrypted messaging over whatever network is left.
#[derive(Parser)]
#[command(version, after_help = cli::exit_code::TABLE)]
struct Cli {
    /// The node's data directory (its encrypted database and config).
    #[arg(long, global = true, env = "COURIER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates this data directory's identity.
    Init {
        /// The name you go by (shown to nobody but you; contacts choose their own alias for you).
        #[arg(long)]
        name: String,
    },
    /// Prints your contact link, to give to someone you want to talk to.
    Link {
        /// Also print it as a QR code, to scan in person.
        #[arg(long)]
        qr: bool,
    },
    /// Adds, lists, renames, verifies and removes contacts.
    #[command(subcommand)]
    Contacts(ContactsCommand),
    /// Queues a message to a contact; `serve` delivers it. Any installed message type with
    /// `--type CONTENT-TYPE --input FILE|-`; `--text`, `--image`, `--voice`, `--payment` and
    /// `--location` are shortcuts for the built-in ones.
    Send {
        /// The contact's alias.
        alias: String,
        /// With --text: a reply to this message (8+ hex digits of its id), quoting it.
        #[arg(long, value_name = "ID", requires = "text")]
        reply_to: Option<String>,
        #[command(flatten)]
        content: Box<cli::conversation::Content>,
    },
    /// Reacts to a message of the conversation with a contact: one emoji, or a short word; a
    /// later reaction to the same message replaces it.
    React {
        /// The contact's alias.
        alias: String,
        /// The message, 8 or more hex digits of its id (`messages`).
        message: String,
        /// The reaction, e.g. 👍.
        reaction: String,
    },
    /// Replaces the text of one of your messages, for both sides (the edits stay listed).
    Edit {
        /// The contact's alias.
        alias: String,
        /// Your message, 8 or more hex digits of its id.
        message: String,
        /// The new text.
        #[arg(long)]
        text: String,
    },
    /// Takes one of your messages back: with --for-everyone it is erased on both sides, as a
    /// disappearing message is.
    Delete {
        /// The contact's alias.
        alias: String,
        /// Your message, 8 or more hex digits of its id.
        message: String,
        /// For both sides (the only kind there is yet: say it, so it is not done by mistake).
        #[arg(long, required = true)]
        for_everyone: bool,
    },
    /// Lists the newest messages with a contact, oldest first, and where the older ones start.
    Messages {
        /// The contact's alias.
        alias: String,
        /// Print JSON, one object per message in an array.
        #[arg(long)]
        json: bool,
        /// Then mark the contact's messages read (where the conversation sends read receipts,
        /// the contact is told).
        #[arg(long)]
        mark_read: bool,
        /// How many messages to list, 1 to 500.
        #[arg(long, default_value_t = 50,
              value_parser = clap::value_parser!(u64).range(1..=courier_api::MAX_WINDOW as u64))]
        limit: u64,
        /// List those just older than this message: its id in full, as the line after a
        /// listing and `--json` give it.
        #[arg(long, conflicts_with = "all")]
        before: Option<String>,
        /// List the whole conversation.
        #[arg(long, conflicts_with = "limit")]
        all: bool,
    },
    /// Works with a message's attachment.
    #[command(subcommand)]
    Attachment(AttachmentCommand),
    /// Runs the node: transports, handshakes, sync, until SIGINT or SIGTERM.
    Serve {
        /// The node config (TOML); default: DATA_DIR/config.toml if present, else the built-in one.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also serve the local API (REST, WebSocket, the web page) for a desktop app; its address
        /// and token go to DATA_DIR/api.addr and DATA_DIR/api.token.
        #[arg(long)]
        api: bool,
        /// Where the API listens (default: the config's [api] bind, else a free port on 127.0.0.1).
        #[arg(long, value_name = "ADDR:PORT", requires = "api")]
        api_bind: Option<std::net::SocketAddr>,
        /// Allow an API address that is not loopback (anyone who reaches it can try the token).
        #[arg(long, requires = "api")]
        api_allow_remote: bool,
        /// How to print what happens: `text`, a line each, naming no one (unless
        /// COURIER_LOG_SENSITIVE=1) and never what a message says; or `json`, each event as the
        /// API's WebSocket sends it, one per line, for a program to read.
        #[arg(long, value_enum, default_value_t = cli::serve::EventFormat::Text)]
        events: cli::serve::EventFormat,
    },
    /// Carries messages on a removable drive: writes what contacts are owed into a folder on it, or
    /// reads what a folder on it holds. Files there have random names and hold only encrypted streams.
    #[command(subcommand)]
    Drive(DriveCommand),
    /// Loads every plugin in a config and prints what each one describes.
    Plugins {
        /// The node config (TOML).
        #[arg(long, default_value = "config/demo.toml")]
        config: PathBuf,
        #[command(subcommand)]
        action: Option<PluginsCommand>,
    },
    /// Destroys this data directory at once, without the passphrase: stops any running node, then
    /// destroys the database's keys and every file. For use under duress; nothing can undo it.
    Panic {
        /// Skip the one confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Checks threat-model profiles (config/high-risk.toml, …).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Private groups: make one, invite contacts, accept, post any message type, read, leave,
    /// remove a member, dissolve.
    #[command(subcommand)]
    Group(cli::group::GroupCommand),
    /// Runs a mailbox: an always-on server that keeps encrypted files for its owner and the
    /// owner's contacts until they fetch them.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
}

#[derive(Subcommand)]
enum MailboxCommand {
    /// Serves the mailbox of DIR until SIGINT or SIGTERM; a new one prints its setup token once.
    Serve {
        /// The mailbox's own data directory (its files, its registry, `mailbox.toml`).
        #[arg(long)]
        dir: PathBuf,
        /// Where it listens.
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
    /// Pairs this node with the mailbox whose `courier-mailbox://` LINK it printed, and registers
    /// every contact there; each learns it in their next sync with you.
    Pair {
        /// The pairing link, or `-` to read it from standard input.
        link: String,
    },
    /// Says whether your mailbox answers and how many contacts it serves, and how many contacts
    /// you reach through their own.
    Status,
    /// Stops using the mailbox; each contact is told to stop too in their next sync with you.
    Unpair,
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Writes a new plugin crate, NAME/, from the SDK's template for its world: a message type (a
    /// list, one item a line) or a transport (TCP to fixed peers), with its manifest and tests,
    /// ready for `cargo build --release --target wasm32-wasip2` out of this tree.
    New {
        /// `message-type` or `transport`.
        #[arg(value_parser = ["message-type", "transport"])]
        world: String,
        /// The plugin's name: a-z, 0-9 and '-', starting with a letter.
        name: String,
        /// A message type's content type; default: example/NAME.
        #[arg(long)]
        content_type: Option<String>,
        /// The plugin SDK (the plugin-api folder of a Courier checkout); default: the one this
        /// courier was built from.
        #[arg(long)]
        sdk: Option<PathBuf>,
        /// The folder NAME/ is made in.
        #[arg(long, default_value = ".")]
        into: PathBuf,
    },
    /// Loads one built component with its manifest, granted what the manifest asks, and prints
    /// what it describes, or in one line why it would not load.
    Check {
        /// The component, NAME.wasm.
        file: PathBuf,
        /// Its manifest; default: NAME.toml beside it.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// Runs a built message type on one input as a sender and a receiver would (prepare, then
    /// validate and summary of the payload), under a config's limits, and prints the payload's
    /// size, its summary and the fuel and memory each call used.
    Try {
        /// The component, NAME.wasm.
        file: PathBuf,
        /// What a user would give `courier send --type … --input`: a file, or `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        input: PathBuf,
        /// Its manifest; default: NAME.toml beside it.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// A node config whose section for this plugin gives the limits and settings; default: the
        /// host's default limits and no settings.
        #[arg(long)]
        config: Option<PathBuf>,
        /// An option for `prepare`, as `courier send --option` gives it.
        #[arg(long = "option", value_name = "KEY=VALUE", value_parser = cli::conversation::key_value)]
        options: Vec<(String, String)>,
    },
    /// Checks a built component as `check` does and, if it loads, copies it with its manifest into
    /// the plugin directory of the data directory's config (or `--config`'s) as NAME.wasm and
    /// NAME.toml.
    Install {
        /// The component.
        file: PathBuf,
        /// Its manifest; default: the .toml beside it.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// The config whose plugin directory receives it.
        #[arg(long = "into-config")]
        into_config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ProfileCommand {
    /// Prints, per transport and message type, what it reveals, what it is granted and whether the
    /// profile's policy lets it run; exits non-zero when anything is refused.
    Check {
        /// The profile (a node config, TOML).
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum DriveCommand {
    /// Writes, into DIR, a file for each contact owed a message or an ack (made if missing).
    Export {
        /// The folder on the drive.
        dir: PathBuf,
        /// The node config (TOML); its `[transports.drive]` section, if any, is used.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Reads every file in DIR: what contacts sent is stored once; other files are left alone.
    Import {
        /// The folder on the drive.
        dir: PathBuf,
        /// The node config (TOML); its `[transports.drive]` section, if any, is used.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AttachmentCommand {
    /// Writes a message's content (a received image or voice note) to a new file.
    Save {
        /// The message id, or its first 8+ hex digits, as `messages` shows it.
        msg_id: String,
        /// Where to write it; an existing file is never overwritten.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ContactsCommand {
    /// Adds a contact from their link; they become a contact once they add yours and both nodes meet.
    Add {
        /// Their `courier://` link.
        link: String,
        /// What you call them.
        #[arg(long)]
        alias: String,
    },
    /// Lists contacts and pending contacts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Shows the safety number to compare with the contact in person.
    Verify {
        /// The contact's alias.
        alias: String,
        /// Mark the contact verified (only after the numbers matched).
        #[arg(long)]
        confirm: bool,
    },
    /// Calls a contact (or pending contact) by another alias.
    Alias {
        /// The alias they have now.
        alias: String,
        /// The alias to call them from now on.
        new_alias: String,
    },
    /// Removes a contact (or pending contact) with their keys and messages.
    Remove {
        /// The contact's alias.
        alias: String,
    },
    /// Shows, or sets for both sides, how long after it is read or sent each message of the
    /// conversation is deleted: `off`, or 1m to 365d (`30m`, `12h`, `7d`).
    Timer {
        /// The contact's alias.
        alias: String,
        /// The new timer; without it, the current one is shown.
        timer: Option<String>,
    },
    /// Shows, or sets for your side, whether reading the conversation tells the contact (read
    /// receipts): `on`, `off`, or `default` (as the profile's `read-receipts` says; off unless it
    /// says on).
    Receipts {
        /// The contact's alias.
        alias: String,
        /// The new choice; without it, the current one is shown.
        #[arg(value_enum)]
        choice: Option<cli::contacts::ReceiptsArg>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COURIER_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not into a log file or journal.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    // Addresses, aliases and file names show as `[scrubbed]` in the log, unless a person debugging
    // their own machine asks for them.
    let _unsafe_logging = std::env::var_os("COURIER_LOG_SENSITIVE")
        .and_then(|_| safelog::disable_safe_logging().ok());
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("courier: {e:#}");
            cli::exit_code::of(&e)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Plugins {
            action: Some(PluginsCommand::Check { file, manifest }),
            ..
        } => return cli::plugins::check(file, manifest.as_deref()),
        Command::Plugins {
            action:
                Some(PluginsCommand::New {
                    world,
                    name,
                    content_type,
                    sdk,
                    into,
                }),
            ..
        } => {
            return cli::plugins::new(world, name, content_type.as_deref(), sdk.as_deref(), into);
        }
        Command::Plugins {
            action:
                Some(PluginsCommand::Try {
                    file,
                    input,
                    manifest,
                    config,
                    options,
                }),
            ..
        } => {
            return cli::plugins::try_run(
                file,
                manifest.as_deref(),
                input,
                config.as_deref(),
                options.clone(),
            );
        }
        Command::Plugins {
            action: Some(PluginsCommand::Install { .. }),
            ..
        } => {}
        Command::Plugins { config, .. } => return cli::plugins::list(config),
        _ => {}
    }
    if let Command::Profile(ProfileCommand::Check { file }) = &cli.command {
        return cli::profile::check(file);
    }
    if let Command::Mailbox(MailboxCommand::Serve { dir, listen }) = &cli.command {
        return cli::mailbox::serve(dir, *listen);
    }
    let dir = courier_service::DataDir::resolve(cli.data_dir)?;
    match cli.command {
        Command::Init { name } => cli::identity::init(&dir, &name),
        Command::Link { qr } => cli::identity::link(&dir, qr),
        Command::Contacts(ContactsCommand::Add { link, alias }) => {
            cli::contacts::add(&dir, &link, &alias)
        }
        Command::Contacts(ContactsCommand::List { json }) => cli::contacts::list(&dir, json),
        Command::Contacts(ContactsCommand::Verify { alias, confirm }) => {
            cli::contacts::verify(&dir, &alias, confirm)
        }
        Command::Contacts(ContactsCommand::Alias { alias, new_alias }) => {
            cli::contacts::alias(&dir, &alias, &new_alias)
        }
        Command::Contacts(ContactsCommand::Remove { alias }) => cli::contacts::remove(&dir, &alias),
        Command::Contacts(ContactsCommand::Timer { alias, timer }) => {
            cli::contacts::timer(&dir, &alias, timer.as_deref())
        }
        Command::Contacts(ContactsCommand::Receipts { alias, choice }) => {
            cli::contacts::receipts(&dir, &alias, choice)
        }
        Command::Send {
            alias,
            reply_to,
            content,
        } => cli::conversation::send(&dir, &alias, &content, reply_to.as_deref()),
        Command::React {
            alias,
            message,
            reaction,
        } => cli::conversation::relate(
            &dir,
            &alias,
            RelationKind::Reaction.content_type(),
            &message,
            &reaction,
        ),
        Command::Edit {
            alias,
            message,
            text,
        } => cli::conversation::relate(
            &dir,
            &alias,
            RelationKind::Edit.content_type(),
            &message,
            &text,
        ),
        Command::Delete { alias, message, .. } => cli::conversation::relate(
            &dir,
            &alias,
            RelationKind::Delete.content_type(),
            &message,
            "",
        ),
        Command::Messages {
            alias,
            json,
            mark_read,
            limit,
            before,
            all,
        } => {
            let shown = if all {
                cli::conversation::Shown::All
            } else {
                cli::conversation::Shown::Window {
                    limit: limit as usize,
                    before,
                }
            };
            cli::conversation::list(&dir, &alias, shown, json, mark_read)
        }
        Command::Attachment(AttachmentCommand::Save { msg_id, file }) => {
            cli::conversation::save(&dir, &msg_id, &file)
        }
        Command::Serve {
            config,
            api,
            api_bind,
            api_allow_remote,
            events,
        } => {
            let api = cli::serve::ApiFlags {
                on: api,
                bind: api_bind,
                allow_remote: api_allow_remote,
            };
            cli::serve::run(&dir, config.as_deref(), &api, events)
        }
        Command::Drive(DriveCommand::Export {
            dir: folder,
            config,
        }) => cli::drive::export(&dir, &folder, config.as_deref()),
        Command::Drive(DriveCommand::Import {
            dir: folder,
            config,
        }) => cli::drive::import(&dir, &folder, config.as_deref()),
        Command::Panic { yes } => cli::panic::run(&dir, yes),
        Command::Plugins {
            action:
                Some(PluginsCommand::Install {
                    file,
                    manifest,
                    into_config,
                }),
            ..
        } => cli::plugins::install(&dir, into_config.as_deref(), &file, manifest.as_deref()),
        Command::Group(command) => cli::group::run(&dir, command),
        Command::Mailbox(MailboxCommand::Pair { link }) => cli::mailbox::pair(&dir, &link),
        Command::Mailbox(MailboxCommand::Status) => cli::mailbox::status(&dir),
        Command::Mailbox(MailboxCommand::Unpair) => cli::mailbox::unpair(&dir),
        Command::Plugins { .. }
        | Command::Profile(_)
        | Command::Mailbox(MailboxCommand::Serve { .. }) => {
            unreachable!("handled above")
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_command_s_arguments_are_well_formed() {
        // clap checks names, conflicts and requirements only when a command is parsed; this
        // checks every command at once (two `--reply-to`s under `group post` got past otherwise).
        super::Cli::command().debug_assert();
    }
}
