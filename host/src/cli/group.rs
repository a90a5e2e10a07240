//! `group …`: private groups, over the service (the database opened here, not through a running
//! node's API).

use std::path::{Path, PathBuf};

use anyhow::Result;
use courier_api::json::{GroupEntry, GroupEntryKind};
use courier_service::{DataDir, GroupWindow, RelationKind, for_terminal};

use super::conversation::{Content, print_saved, utc};
use super::unlock;

/// What `courier group` does.
#[derive(clap::Subcommand)]
pub enum GroupCommand {
    /// Makes a group, with you its creator; invite contacts into it with `group invite`.
    Create {
        /// The group's name, as every member sees it.
        name: String,
        /// The name the members see you by.
        #[arg(long = "as", value_name = "NAME")]
        join_as: String,
    },
    /// Lists the groups you were invited to, belong to, or did.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Invites a contact into a group you made; they join when they accept.
    Invite {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// The contact's alias.
        alias: String,
    },
    /// Accepts an invitation into a group.
    Accept {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// The name the members see you by (each group its own: no name or key links you across
        /// groups).
        #[arg(long = "as", value_name = "NAME")]
        join_as: String,
    },
    /// Declines an invitation into a group.
    Decline {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
    },
    /// Lists everyone ever added to a group, and where each stands.
    Members {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Posts into a group: any installed message type, as `send` takes it.
    Post {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// The post this one replies to (8+ hex digits of its id, as `group read` shows).
        #[arg(long, value_name = "ID")]
        reply_to: Option<String>,
        #[command(flatten)]
        content: Box<Content>,
    },
    /// Reacts to a post: one emoji or a short word; a later reaction to it replaces yours.
    React {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// The post (8+ hex digits of its id, as `group read` shows).
        post: String,
        /// The reaction, e.g. 👍.
        reaction: String,
    },
    /// Replaces the text of one of your posts, for every member (the edits stay listed).
    Edit {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// Your post (8+ hex digits of its id).
        post: String,
        /// The new text.
        #[arg(long)]
        text: String,
    },
    /// Takes one of your posts back: with --for-everyone each member's device erases it, as a
    /// disappearing post is erased.
    Delete {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// Your post (8+ hex digits of its id).
        post: String,
        /// For every member (the only kind there is: say it, so it is not done by mistake).
        #[arg(long, required = true)]
        for_everyone: bool,
    },
    /// Lists a group's newest posts and changes of who is in it (or a thread).
    Read {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// How many at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Those just older than this record.
        #[arg(long, value_name = "ID", conflicts_with = "thread")]
        before: Option<String>,
        /// A thread instead: this post and its replies.
        #[arg(long, value_name = "ID")]
        thread: Option<String>,
        /// Print JSON, one object per record in an array.
        #[arg(long)]
        json: bool,
    },
    /// Writes a post's content (an image, a voice note) to a new file.
    Save {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// The post (8+ hex digits of its id).
        post: String,
        /// Where to write it; an existing file is never overwritten.
        file: PathBuf,
    },
    /// Leaves a group: nothing new reaches you after it.
    Leave {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
    },
    /// Removes a member from a group you made: nobody offers them anything new, and what they
    /// write from now on is refused by every member. What they already had stays with them.
    Remove {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// The member's name, or the first hex digits of their key (`group members`).
        member: String,
    },
    /// Dissolves a group you made: no member takes anything more in it.
    Dissolve {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
    },
    /// Shows how long posts stay after they arrive, or sets it for a group you made: each
    /// member's device erases a post written after it that long after it arrived there.
    Timer {
        /// The group's name, or 8+ hex digits of its id.
        group: String,
        /// `off`, or 1 minute to 365 days: `30m`, `12h`, `7d`.
        timer: Option<String>,
    },
}

/// Runs `command` on the data directory `dir`.
pub fn run(dir: &DataDir, command: GroupCommand) -> Result<()> {
    let mut service = unlock::open(dir)?;
    match command {
        GroupCommand::Create { name, join_as } => {
            let group = service.create_group(&name, &join_as)?;
            println!(
                "made group {} ({})",
                for_terminal(&group.name),
                short(&group.id.0)
            );
        }
        GroupCommand::List { json } => {
            let groups: Vec<_> = service
                .groups()?
                .into_iter()
                .map(courier_api::group_json)
                .collect();
            if json {
                println!("{}", serde_json::to_string(&groups)?);
            } else if groups.is_empty() {
                println!("no groups yet");
            }
            for g in groups.iter().filter(|_| !json) {
                println!(
                    "{} {:<9} {} member(s) {}{}",
                    &g.id[..16],
                    g.standing,
                    g.members,
                    for_terminal(&g.name),
                    g.invited_by
                        .as_deref()
                        .map(|by| format!(" (invited by {})", for_terminal(by)))
                        .unwrap_or_default()
                );
            }
        }
        GroupCommand::Invite { group, alias } => {
            service.invite_to_group(&group, &alias)?;
            println!("invited {alias}; they join when they accept");
        }
        GroupCommand::Accept { group, join_as } => {
            let g = service.answer_group_invitation(&group, Some(&join_as))?;
            println!("joined {}", for_terminal(&g.name));
        }
        GroupCommand::Decline { group } => {
            let g = service.answer_group_invitation(&group, None)?;
            println!("declined {}", for_terminal(&g.name));
        }
        GroupCommand::Members { group, json } => {
            let members: Vec<_> = service
                .group_members(&group)?
                .into_iter()
                .map(courier_api::group_member_json)
                .collect();
            if json {
                println!("{}", serde_json::to_string(&members)?);
                return Ok(());
            }
            for m in members {
                println!(
                    "{} {:<8} {}{}{}{}",
                    m.key,
                    m.state,
                    for_terminal(&m.name),
                    if m.creator { " (creator)" } else { "" },
                    if m.us { " (you)" } else { "" },
                    m.contact
                        .map(|c| format!(" (your contact {})", for_terminal(&c)))
                        .unwrap_or_default()
                );
            }
        }
        GroupCommand::Post {
            group,
            reply_to,
            content,
        } => {
            let request = content.request();
            let limit = service
                .plugins()?
                .message_type(request.content_type)?
                .description()
                .max_input_bytes;
            let input = request.input.read(limit)?;
            let posted = service.post_to_group(
                &group,
                request.content_type,
                &input,
                &request.options,
                reply_to.as_deref(),
            )?;
            println!("posted {}", short(&posted.id.0));
        }
        GroupCommand::Read {
            group,
            limit,
            before,
            thread,
            json,
        } => {
            let window = match &thread {
                Some(root) => GroupWindow::Thread { root, limit },
                None => GroupWindow::Newest {
                    before: before.as_deref(),
                    limit,
                },
            };
            let page = courier_api::group_entries_json(service.group_window(&group, window)?);
            if json {
                println!("{}", serde_json::to_string(&page.entries)?);
                return Ok(());
            }
            if page.entries.is_empty() {
                println!("nothing in {group:?} yet");
            }
            for entry in &page.entries {
                println!("{}", line(entry));
            }
        }
        GroupCommand::Save { group, post, file } => save(&mut service, &group, &post, &file)?,
        GroupCommand::Leave { group } => {
            service.leave_group(&group)?;
            println!("left {group}");
        }
        GroupCommand::Remove { group, member } => {
            service.remove_from_group(&group, &member)?;
            println!("removed {member}; what they already had stays with them");
        }
        GroupCommand::Dissolve { group } => {
            service.dissolve_group(&group)?;
            println!("dissolved {group}");
        }
        GroupCommand::React {
            group,
            post,
            reaction,
        } => {
            let kind = RelationKind::Reaction.content_type();
            service.relate_in_group(&group, kind, &post, reaction.as_bytes())?;
            println!("reacted to {post}");
        }
        GroupCommand::Edit { group, post, text } => {
            let kind = RelationKind::Edit.content_type();
            service.relate_in_group(&group, kind, &post, text.as_bytes())?;
            println!("edited {post} for every member");
        }
        GroupCommand::Delete { group, post, .. } => {
            let kind = RelationKind::Delete.content_type();
            service.relate_in_group(&group, kind, &post, b"")?;
            println!("deleted {post} for every member");
        }
        GroupCommand::Timer { group, timer: None } => {
            println!("{}", service.group(&group)?.timer);
        }
        GroupCommand::Timer {
            group,
            timer: Some(text),
        } => {
            let timer: courier_service::Timer =
                text.parse().map_err(courier_service::ServiceError::from)?;
            service.set_group_timer(&group, timer)?;
            match timer.secs() {
                None => println!("posts in {group} no longer disappear; members will be told"),
                Some(_) => println!(
                    "posts in {group} now disappear {timer} after they arrive; members will be told"
                ),
            }
        }
    }
    Ok(())
}

/// Writes post `post`'s content to `file`, a new file only its owner reads.
fn save(
    service: &mut courier_service::Service,
    group: &str,
    post: &str,
    file: &Path,
) -> Result<()> {
    let saved = service.save_group_post(group, post, file)?;
    print_saved(&saved, file);
    Ok(())
}

/// One record of a group as a line: when, its id, who, and what (members wrote every name and
/// summary: no escape code reaches the terminal).
fn line(entry: &GroupEntry) -> String {
    let what = match entry.kind {
        GroupEntryKind::Post => {
            let reply = entry
                .parent
                .as_deref()
                .map(|p| format!("↩ {} ", &p[..16]))
                .unwrap_or_default();
            // The latest edit is what it says now; reactions follow, each with its author.
            let said = entry
                .edits
                .last()
                .map(|e| format!("{e} (edited)"))
                .unwrap_or_else(|| entry.summary.clone().unwrap_or_default());
            let reactions: String = entry
                .reactions
                .iter()
                .map(|r| format!(" [{} {}]", r.reaction, r.author))
                .collect();
            format!("{reply}{said}{reactions}")
        }
        GroupEntryKind::Added if entry.member.as_deref() == Some(entry.author.as_str()) => {
            "made the group".to_owned()
        }
        GroupEntryKind::Added => format!("added {}", entry.member.as_deref().unwrap_or("")),
        GroupEntryKind::Removed => format!("removed {}", entry.member.as_deref().unwrap_or("")),
        GroupEntryKind::Left => "left".to_owned(),
        GroupEntryKind::Dissolved => "dissolved the group".to_owned(),
        GroupEntryKind::Timer => match entry.timer.as_deref() {
            Some("off") | None => "turned disappearing posts off".to_owned(),
            Some(timer) => format!("set posts to disappear {timer} after they arrive"),
        },
    };
    format!(
        "{} {} {}: {}",
        utc(entry.time_ms),
        &entry.id[..16],
        for_terminal(&entry.author),
        for_terminal(&what)
    )
}

/// The first 16 hex digits of an id.
fn short(id: &[u8; 32]) -> String {
    hex::encode(&id[..8])
}
