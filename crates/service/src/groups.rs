//! Private groups: making one, inviting contacts, answering an invitation, posting any installed
//! content type, reading a window of the group (posts with their authors, replies by parent,
//! membership changes), leaving, removing a member and dissolving. The rules are the protocol's
//! (`courier_proto::group`); the records and their sync are the database's.

use courier_proto::group::record::{GROUP_CHUNK_TYPE, MAX_POST_BODY};
use courier_proto::group::sealed::{
    Content as SealedContent, SEAL_OVERHEAD, SEALED_FALLBACK, SEALED_POST_FALLBACK, SEALED_TYPE,
    SEALED_VERSION, seal,
};
use courier_proto::group::{
    Ended, GroupError, GroupId, Kind, MemberKey, MemberPublic, Record, RecordId,
};
use courier_proto::sync::attachment::split_as;
use courier_proto::sync::record::{Message, MessageId};
use courier_proto::sync::relation::{self, RelationKind};
use courier_proto::sync::timer::Timer;
use courier_storage::{
    Content, Direction, Draft, Group, Payload, RelationRefused, Standing, StorageError,
};

use crate::Service;
use crate::attachment::{Attachment, id_range, write_new};
use crate::content::{compose, relation_shown, summary};
use crate::error::ServiceError;
use crate::service::now_ms;

/// The fewest hex digits of a group's or a post's id that name it.
const MIN_ID_PREFIX: usize = 8;

/// Where we stand in a group, as a list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStanding {
    /// A contact invited us; we have not answered.
    Invited,
    /// We declined the invitation.
    Declined,
    /// We accepted; the creator's record that adds us has not reached us yet.
    Joining,
    /// We are a member.
    Member,
    /// We left.
    Left,
    /// The creator removed us.
    Removed,
    /// The creator dissolved it.
    Dissolved,
}

impl GroupStanding {
    /// Its name in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStanding::Invited => "invited",
            GroupStanding::Declined => "declined",
            GroupStanding::Joining => "joining",
            GroupStanding::Member => "member",
            GroupStanding::Left => "left",
            GroupStanding::Removed => "removed",
            GroupStanding::Dissolved => "dissolved",
        }
    }
}

/// One group as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    /// Its id.
    pub id: GroupId,
    /// Its name, as its creator chose it.
    pub name: String,
    /// Where we stand.
    pub standing: GroupStanding,
    /// Whether we made it (only its creator invites, removes and dissolves).
    pub ours: bool,
    /// The contact who invited us, if one did.
    pub invited_by: Option<String>,
    /// Its current members, as far as we know.
    pub members: usize,
    /// How long a post stays on each member's device after it arrives, as the creator set it.
    pub timer: Timer,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSummary {
    /// The name they chose for this group.
    pub name: String,
    /// The first 8 bytes of their key in this group, in hex (two members may share a name).
    pub key: String,
    /// Whether they made the group.
    pub creator: bool,
    /// Whether it is us.
    pub us: bool,
    /// `member`, `left` or `removed`.
    pub state: &'static str,
    /// The contact we sync the group with who is this member, if there is one.
    pub contact: Option<String>,
}

/// What a record of a group says, as its window shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// A post.
    Post {
        /// The post it replies to, if any.
        parent: Option<RecordId>,
        /// Its content type.
        content_type: String,
        /// One line: the plugin's summary, else the author's fallback, else the type in brackets.
        summary: String,
        /// Its payload's size, once all of it is here (an attachment's chunks may still be
        /// arriving).
        bytes: Option<usize>,
        /// Its reactions: each member's latest, by name, with whether it is ours.
        reactions: Vec<GroupReaction>,
        /// Its author's edits' texts, oldest first: the last is what it says now.
        edits: Vec<String>,
    },
    /// The creator added `member` (the creator's first record adds the creator: the group began).
    Added {
        /// The name the new member chose.
        member: String,
    },
    /// The author left.
    Left,
    /// The creator removed `member`.
    Removed {
        /// Their name.
        member: String,
    },
    /// The creator dissolved the group.
    Dissolved,
    /// The creator set how long posts stay.
    Timer(Timer),
}

/// A member's reaction to a group's post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReaction {
    /// The member's name in the group.
    pub author: String,
    /// Whether it is ours.
    pub ours: bool,
    /// An emoji or a short word.
    pub reaction: String,
}

/// One accepted record of a group, with its author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupItem {
    /// Its id.
    pub id: RecordId,
    /// Its author's name in the group.
    pub author: String,
    /// Whether we wrote it.
    pub ours: bool,
    /// The author's clock, Unix ms.
    pub time_ms: u64,
    /// What it says.
    pub event: GroupEvent,
}

/// Which records of a group to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupWindow<'a> {
    /// The newest `limit`, or those just before the record `before` (an id or 8+ hex digits).
    Newest {
        /// List those older than this one.
        before: Option<&'a str>,
        /// How many at most.
        limit: usize,
    },
    /// A thread: the post `root` and its replies, oldest first.
    Thread {
        /// The post the thread starts at.
        root: &'a str,
        /// How many replies at most.
        limit: usize,
    },
}

/// Some of a group's records, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPage {
    /// The records asked for.
    pub items: Vec<GroupItem>,
    /// The oldest listed, if older ones exist: pass it as `before` for those.
    pub older: Option<RecordId>,
}

/// A post we wrote, accepted and queued to the members we sync the group with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// Its id.
    pub id: RecordId,
    /// What a member without the content type's plugin sees instead.
    pub fallback: String,
}

impl Service {
    /// Makes a group called `name`, with us its creator, known in it as `our_name`.
    pub fn create_group(
        &mut self,
        name: &str,
        our_name: &str,
    ) -> Result<GroupSummary, ServiceError> {
        let id = self.db.create_group(name, our_name, now_ms())??;
        self.group_summary(&id)
    }

    /// Every group we were invited to, belong to or did, oldest first.
    pub fn groups(&mut self) -> Result<Vec<GroupSummary>, ServiceError> {
        let ids: Vec<GroupId> = self
            .db
            .groups()?
            .into_iter()
            .map(|g| g.descriptor.id())
            .collect();
        ids.iter().map(|id| self.group_summary(id)).collect()
    }

    /// The group `reference` names (its name, if only one group has it, or 8+ hex digits of
    /// its id) as a list shows it.
    pub fn group(&mut self, reference: &str) -> Result<GroupSummary, ServiceError> {
        let id = self.find_group(reference)?.descriptor.id();
        self.group_summary(&id)
    }

    /// Invites the contact `alias` into our group `reference`; they join when they accept.
    pub fn invite_to_group(&mut self, reference: &str, alias: &str) -> Result<(), ServiceError> {
        let group = self.find_group(reference)?;
        let contact = self.conversation_contact(alias)?;
        let id = group.descriptor.id();
        if !self.db.invite_to_group(&id, contact, now_ms())? {
            return Err(match self.group_summary(&id)?.standing {
                GroupStanding::Member => GroupError::NotTheCreator("invite members").into(),
                GroupStanding::Dissolved => GroupError::Dissolved.into(),
                _ => GroupError::NotAMember.into(),
            });
        }
        Ok(())
    }

    /// Accepts the invitation into `reference` as `our_name`, or declines it (`None`).
    pub fn answer_group_invitation(
        &mut self,
        reference: &str,
        our_name: Option<&str>,
    ) -> Result<GroupSummary, ServiceError> {
        let id = self.find_group(reference)?.descriptor.id();
        if !self.db.answer_group(&id, our_name, now_ms())?? {
            return Err(ServiceError::NoInvitation(reference.to_owned()));
        }
        self.group_summary(&id)
    }

    /// Everyone ever added to `reference`, in the order they were added.
    pub fn group_members(&mut self, reference: &str) -> Result<Vec<MemberSummary>, ServiceError> {
        let group = self.find_group(reference)?;
        let id = group.descriptor.id();
        let us = group.key.as_ref().map(MemberKey::public);
        let peers = self.db.group_peers(&id)?;
        let aliases = self.aliases()?;
        Ok(self
            .db
            .group_members(&id)?
            .into_iter()
            .map(|(key, member)| MemberSummary {
                key: hex::encode(&key.0[..8]),
                creator: key == group.descriptor.creator,
                us: Some(key) == us,
                state: match member.ended {
                    None => "member",
                    Some(Ended::Left(_)) => "left",
                    Some(Ended::Removed { .. }) => "removed",
                },
                contact: peers
                    .iter()
                    .find(|(_, k)| *k == key)
                    .and_then(|(c, _)| aliases.get(c).cloned()),
                name: member.name,
            })
            .collect())
    }

    /// Posts `input` as `content_type` (prepared by its plugin, with `options` over the
    /// config's settings) in `reference`, replying to the post `reply_to` if given; it is on
    /// disk and queued to the members we sync with when this returns.
    pub fn post_to_group(
        &mut self,
        reference: &str,
        content_type: &str,
        input: &[u8],
        options: &[(String, String)],
        reply_to: Option<&str>,
    ) -> Result<Posted, ServiceError> {
        let (id, key) = self.our_membership(reference)?;
        let parent = reply_to
            .map(|prefix| self.find_record(&id, prefix))
            .transpose()?;
        let draft = self.group_draft(content_type, input, options)?;
        self.publish_post(reference, &id, &key, parent, draft)
    }

    /// Reacts to, edits or deletes for everyone (`content_type` says which) the post `target`
    /// (8+ hex digits of its id) of `reference`; `input` is the kind's own (an emoji, the new
    /// text, nothing). An edit or a deletion is of our own post only; every member's device
    /// applies it as it arrives, and a deletion erases the post there as a disappearing post is.
    pub fn relate_in_group(
        &mut self,
        reference: &str,
        content_type: &str,
        target: &str,
        input: &[u8],
    ) -> Result<Posted, ServiceError> {
        let kind = match RelationKind::of(content_type) {
            Some(RelationKind::Reply) => return Err(ServiceError::GroupReplyByThread),
            Some(kind) => kind,
            None => return Err(ServiceError::NotARelation(content_type.to_owned())),
        };
        let (id, key) = self.our_membership(reference)?;
        let target = self.find_record(&id, target)?;
        let record = self
            .db
            .group_record(&target)?
            .ok_or_else(|| ServiceError::NoSuchMessage(hex::encode(target.0)))?;
        let refused = |refused: RelationRefused| {
            ServiceError::from(StorageError::Relation {
                kind: kind.as_str(),
                refused,
            })
        };
        // A post the group shows: not a membership change, not gone, no reaction or edit.
        if !matches!(record.body.kind, Kind::Post { .. })
            || !self.db.group_post_shown(&id, &target)?
        {
            return Err(refused(RelationRefused::UnknownTarget));
        }
        if self
            .db
            .group_relation(&target)?
            .is_some_and(|(k, _)| k != RelationKind::Reply)
        {
            return Err(refused(RelationRefused::RelationTarget));
        }
        if kind.own_only() && record.body.author != key.public() {
            return Err(refused(RelationRefused::NotTheSender(kind.as_str())));
        }
        let sealed = matches!(&record.body.kind,
            Kind::Post { content_type, .. } if content_type == SEALED_TYPE);
        if kind == RelationKind::Delete && !sealed {
            return Err(ServiceError::UnsealedPost);
        }
        let mut draft = self.group_draft(content_type, input, &[])?;
        draft.payload = relation::payload(&MessageId(target.0), &draft.payload);
        let posted = self.publish_post(reference, &id, &key, None, draft)?;
        if kind == RelationKind::Delete {
            // What it takes back goes now, not at the node's next sweep.
            self.db.sweep_expired(now_ms())?;
        }
        Ok(posted)
    }

    /// `input` as `content_type`'s plugin prepares it for a group (with `options` over the
    /// config's settings), in our newest version: members' versions are not known, and one who
    /// reads none shows the fallback.
    fn group_draft(
        &mut self,
        content_type: &str,
        input: &[u8],
        options: &[(String, String)],
    ) -> Result<Draft, ServiceError> {
        let plugins = self.plugins()?;
        let all = plugins.options_for(content_type, options)?;
        let plugin = plugins.message_type(content_type)?;
        let limit = plugin.description().max_input_bytes;
        if input.len() as u64 > limit {
            return Err(ServiceError::InputTooLarge {
                content_type: content_type.to_owned(),
                size: input.len() as u64,
                limit,
            });
        }
        Ok(compose(plugin, input, &all, &[])?.0)
    }

    /// Publishes `draft` as our post in group `id` (`reference`), replying to `parent`: sealed,
    /// so that its content can be erased while its record stays in our chain (when it is deleted
    /// for everyone, or its lifetime, the group's timer or this profile's longest, ends).
    fn publish_post(
        &mut self,
        reference: &str,
        id: &GroupId,
        key: &MemberKey,
        parent: Option<RecordId>,
        draft: Draft,
    ) -> Result<Posted, ServiceError> {
        let now = now_ms();
        let longest = self.plugins()?.policy().longest_timer();
        let timer = self.find_group(reference)?.timer;
        let lifetime = if timer.within(longest) {
            timer
        } else {
            longest
        };
        // The sealed content's own encoding adds its fields' lengths and version (16 at most).
        let room =
            MAX_POST_BODY - SEAL_OVERHEAD - 16 - draft.fallback.len() - draft.content_type.len();
        // What one record cannot carry goes as an attachment: chunks beside it, its manifest in
        // it, as a conversation sends one.
        let (content_type, type_version, body) = if draft.payload.len() > room {
            let (manifest, chunks) = split_as(
                &draft.payload,
                &draft.content_type,
                draft.version,
                now,
                GROUP_CHUNK_TYPE,
            )
            .map_err(|e| ServiceError::PostTooLarge {
                size: draft.payload.len(),
                why: e.to_string(),
            })?;
            self.db.keep_group_chunks(&chunks)?;
            (manifest.content_type, manifest.type_version, manifest.body)
        } else {
            (draft.content_type, draft.version, draft.payload)
        };
        let content = SealedContent {
            content_type,
            type_version,
            fallback: draft.fallback.clone(),
            body,
        };
        let (body, sealing_key) = seal(id, &content, lifetime, now);
        self.db.keep_group_chunks(&[sealing_key])?;
        let fallback = match lifetime.secs() {
            Some(_) => SEALED_FALLBACK,
            None => SEALED_POST_FALLBACK,
        };
        let kind = Kind::Post {
            parent,
            content_type: SEALED_TYPE.into(),
            type_version: SEALED_VERSION,
            fallback: fallback.into(),
            body,
        };
        let record = self.publish_at(id, key, kind, now)?;
        Ok(Posted {
            id: record,
            fallback: draft.fallback,
        })
    }

    /// A window of `reference`'s accepted records, oldest first.
    pub fn group_window(
        &mut self,
        reference: &str,
        window: GroupWindow<'_>,
    ) -> Result<GroupPage, ServiceError> {
        let group = self.find_group(reference)?;
        let id = group.descriptor.id();
        let (records, older) = match window {
            GroupWindow::Newest { before, limit } => {
                let before = match before {
                    Some(prefix) => {
                        let record = self.find_record(&id, prefix)?;
                        self.db.group_record_position(&id, &record)?
                    }
                    None => None,
                };
                let limit = limit.max(1);
                // One more than asked says whether older ones exist.
                let mut records = self.db.group_records_before(&id, before, limit + 1)?;
                let more = records.len() > limit;
                if more {
                    records.remove(0);
                }
                let older = more.then(|| records.first().map(|(_, r)| r.id)).flatten();
                (records, older)
            }
            GroupWindow::Thread { root, limit } => {
                let root = self.find_record(&id, root)?;
                let mut records: Vec<_> = self
                    .db
                    .group_record(&root)?
                    .into_iter()
                    .map(|r| (0, r))
                    .collect();
                records.extend(self.db.group_replies(&id, &root, 0, limit.max(1))?);
                (records, None)
            }
        };
        let items = self.group_items(&group, records)?;
        Ok(GroupPage { items, older })
    }

    /// The whole payload of the post `post` in `reference`, checked by its plugin if one is
    /// installed (a posted image opens as is).
    pub fn group_post_content(
        &mut self,
        reference: &str,
        post: &str,
    ) -> Result<Attachment, ServiceError> {
        let id = self.find_group(reference)?.descriptor.id();
        let record = self.find_record(&id, post)?;
        let found = match self.db.group_record(&record)? {
            Some(record) => self.db.group_post(&record)?,
            None => None,
        };
        let Some(found) = found else {
            return Err(ServiceError::NoSuchMessage(post.to_owned()));
        };
        self.checked(found.content, Direction::Incoming)
    }

    /// Writes the content of post `post` in `reference` to `file`, a new file only its owner
    /// reads; an existing file is never overwritten.
    pub fn save_group_post(
        &mut self,
        reference: &str,
        post: &str,
        file: &std::path::Path,
    ) -> Result<Attachment, ServiceError> {
        let attachment = self.group_post_content(reference, post)?;
        write_new(file, &attachment.bytes)?;
        Ok(attachment)
    }

    /// Leaves `reference`: our last record in it; nothing new reaches us after it. The creator
    /// dissolves instead.
    pub fn leave_group(&mut self, reference: &str) -> Result<(), ServiceError> {
        let (id, key) = self.our_membership(reference)?;
        self.publish(&id, &key, Kind::Leave)?;
        self.db.set_group_standing(&id, Standing::Left, None)?;
        Ok(())
    }

    /// Removes the member called `name` (or whose key starts with those hex digits) from our
    /// group `reference`: every member stops offering them anything new and refuses what they
    /// write after what we have of theirs now.
    pub fn remove_from_group(&mut self, reference: &str, name: &str) -> Result<(), ServiceError> {
        let (id, key) = self.our_membership(reference)?;
        let current: Vec<MemberPublic> = self
            .db
            .group_members(&id)?
            .into_iter()
            .filter(|(k, m)| {
                m.ended.is_none() && (m.name == name || hex::encode(k.0).starts_with(name))
            })
            .map(|(k, _)| k)
            .collect();
        let member = match current.as_slice() {
            [one] => *one,
            [] => return Err(ServiceError::NoSuchMember(name.to_owned())),
            _ => return Err(ServiceError::AmbiguousMember(name.to_owned())),
        };
        // The cut: their latest record here is the last of theirs that stands.
        let last = self.db.group_head(&id, &member)?;
        self.publish(&id, &key, Kind::Remove { member, last })?;
        Ok(())
    }

    /// Sets how long each post of our group `reference` stays on each member's device after it
    /// arrives there (as the profile admits): posts written after it are sealed, and erased then.
    pub fn set_group_timer(&mut self, reference: &str, timer: Timer) -> Result<(), ServiceError> {
        let (id, key) = self.our_membership(reference)?;
        self.plugins()?.policy().admit_timer(timer)?;
        self.publish(
            &id,
            &key,
            Kind::Timer {
                secs: timer.secs().unwrap_or(0),
            },
        )?;
        Ok(())
    }

    /// Dissolves our group `reference`: nothing more is taken in it, by anyone.
    pub fn dissolve_group(&mut self, reference: &str) -> Result<(), ServiceError> {
        let (id, key) = self.our_membership(reference)?;
        self.publish(&id, &key, Kind::Dissolve)?;
        Ok(())
    }

    /// Every group we know, by id, with the position of its latest accepted record: where a
    /// watcher starts.
    pub(crate) fn group_positions(&self) -> Result<Vec<(GroupId, u64)>, ServiceError> {
        let mut positions = Vec::new();
        for group in self.db.groups()? {
            let id = group.descriptor.id();
            positions.push((id, self.db.group_position(&id)?));
        }
        Ok(positions)
    }

    /// Group `id`'s name, and the records accepted after position `after` (at most `limit`)
    /// with the position of the last.
    pub(crate) fn group_news(
        &mut self,
        id: &GroupId,
        after: u64,
        limit: usize,
    ) -> Result<(String, Vec<GroupItem>, u64), ServiceError> {
        let group = self
            .db
            .group(id)?
            .ok_or(courier_storage::StorageError::UnknownGroup)?;
        let records = self.db.group_shown_after(id, after, limit)?;
        let last = records.last().map_or(after, |(seq, _)| *seq);
        let items = self.group_items(&group, records)?;
        Ok((group.descriptor.name, items, last))
    }

    /// Post `post` of group `id` as its window shows it now (with its reactions and edits); `None`
    /// once it is gone, or if it is no post the group shows.
    pub(crate) fn group_post_now(
        &mut self,
        id: &GroupId,
        post: &RecordId,
    ) -> Result<Option<GroupItem>, ServiceError> {
        if !self.db.group_post_shown(id, post)? {
            return Ok(None);
        }
        let (Some(group), Some(record)) = (self.db.group(id)?, self.db.group_record(post)?) else {
            return Ok(None);
        };
        Ok(self.group_items(&group, vec![(0, record)])?.pop())
    }

    /// Signs `kind` as our next record in `id`, takes it and queues it to the members we sync
    /// with; its id.
    fn publish(
        &mut self,
        id: &GroupId,
        key: &MemberKey,
        kind: Kind,
    ) -> Result<RecordId, ServiceError> {
        self.publish_at(id, key, kind, now_ms())
    }

    /// [`Self::publish`] at `now_ms`.
    fn publish_at(
        &mut self,
        id: &GroupId,
        key: &MemberKey,
        kind: Kind,
        now_ms: u64,
    ) -> Result<RecordId, ServiceError> {
        let body = self.db.next_group_body(id, key.public(), now_ms, kind)?;
        let record = Record::sign(key, body)?;
        let record_id = record.id;
        self.db.publish_group_record(record)??;
        Ok(record_id)
    }

    /// The group `reference` names and our key in it, refusing one we are no member of now.
    fn our_membership(&self, reference: &str) -> Result<(GroupId, MemberKey), ServiceError> {
        let group = self.find_group(reference)?;
        let id = group.descriptor.id();
        if group.dissolved {
            return Err(GroupError::Dissolved.into());
        }
        let (Some(key), Standing::Member) = (group.key, group.standing) else {
            return Err(GroupError::NotAMember.into());
        };
        let members = self.db.group_members(&id)?;
        match members.iter().find(|(k, _)| *k == key.public()) {
            Some((_, m)) if m.ended.is_none() => Ok((id, key)),
            Some(_) => Err(GroupError::NotAMember.into()),
            // What we write before our add arrives would wait unseen at every member.
            None => Err(ServiceError::NotJoinedYet(reference.to_owned())),
        }
    }

    /// The group `reference` names: the only one called that, or the one whose id starts with
    /// those 8+ hex digits.
    fn find_group(&self, reference: &str) -> Result<Group, ServiceError> {
        let lower = reference.to_ascii_lowercase();
        let by_prefix =
            lower.len() >= MIN_ID_PREFIX && lower.chars().all(|c| c.is_ascii_hexdigit());
        let mut found: Vec<Group> = self
            .db
            .groups()?
            .into_iter()
            .filter(|g| {
                g.descriptor.name == reference
                    || (by_prefix && hex::encode(g.descriptor.id().0).starts_with(&lower))
            })
            .collect();
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(ServiceError::NoSuchGroup(reference.to_owned())),
            count => Err(ServiceError::AmbiguousGroup {
                reference: reference.to_owned(),
                count,
            }),
        }
    }

    /// The accepted record of group `id` that `prefix` (8+ hex digits) names.
    fn find_record(&self, id: &GroupId, prefix: &str) -> Result<RecordId, ServiceError> {
        let prefix = prefix.to_ascii_lowercase();
        let (first, last) = id_range(&prefix)
            .filter(|_| prefix.len() >= MIN_ID_PREFIX)
            .ok_or_else(|| ServiceError::BadMessageId(prefix.clone()))?;
        let mut found = self.db.group_records_between(id, &first.0, &last.0, 2)?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(ServiceError::NoSuchMessage(prefix)),
            count => Err(ServiceError::AmbiguousMessageId { prefix, count }),
        }
    }

    /// Group `id` as a list shows it.
    fn group_summary(&mut self, id: &GroupId) -> Result<GroupSummary, ServiceError> {
        let group = self
            .db
            .group(id)?
            .ok_or(courier_storage::StorageError::UnknownGroup)?;
        let members = self.db.group_members(id)?;
        let us = group.key.as_ref().map(MemberKey::public);
        let ours = members.iter().find(|(k, _)| Some(*k) == us);
        let removed = ours.is_some_and(|(_, m)| matches!(m.ended, Some(Ended::Removed { .. })));
        let standing = match group.standing {
            _ if group.dissolved => GroupStanding::Dissolved,
            Standing::Member if removed => GroupStanding::Removed,
            Standing::Member if ours.is_none() => GroupStanding::Joining,
            Standing::Member => GroupStanding::Member,
            Standing::Invited => GroupStanding::Invited,
            Standing::Declined => GroupStanding::Declined,
            Standing::Left => GroupStanding::Left,
        };
        let invited_by = match group.invited_by {
            Some(contact) => Some(self.alias_of(contact)?),
            None => None,
        };
        Ok(GroupSummary {
            id: *id,
            name: group.descriptor.name.clone(),
            standing,
            ours: us == Some(group.descriptor.creator),
            invited_by,
            members: members.iter().filter(|(_, m)| m.ended.is_none()).count(),
            timer: group.timer,
        })
    }

    /// The reactions (each member's latest, by `names`) and its author's edits (oldest first) of
    /// post `post` of `group`, written by `author`: those that keep their kind's rule.
    fn related(
        &mut self,
        group: &GroupId,
        post: &RecordId,
        author: &MemberPublic,
        names: &[(MemberPublic, String)],
        us: Option<MemberPublic>,
    ) -> Result<(Vec<GroupReaction>, Vec<String>), ServiceError> {
        let (mut reactions, mut edits) = (Vec::new(), Vec::<String>::new());
        for (kind, record) in self.db.group_relations_to(group, post)? {
            let Some(found) = self.db.group_post(&record)? else {
                continue;
            };
            let Payload::Complete(payload) = found.content.payload else {
                continue;
            };
            let message = Message {
                timestamp_ms: record.body.timestamp_ms,
                content_type: found.content.content_type,
                type_version: found.content.version,
                fallback: found.fallback,
                body: payload,
            };
            let Some(said) = relation_shown(self.plugins()?, &message) else {
                continue;
            };
            let by = record.body.author;
            match kind {
                // Oldest first: a member's later reaction replaces their earlier one.
                RelationKind::Reaction => {
                    let name = names
                        .iter()
                        .find(|(k, _)| *k == by)
                        .map_or_else(|| "[unknown]".to_owned(), |(_, n)| n.clone());
                    reactions.retain(|r: &GroupReaction| r.author != name);
                    reactions.push(GroupReaction {
                        author: name,
                        ours: us == Some(by),
                        reaction: said,
                    });
                }
                RelationKind::Edit if by == *author => edits.push(said),
                _ => {}
            }
        }
        Ok((reactions, edits))
    }

    /// `group`'s `records` as a window shows them, with their authors' names.
    fn group_items(
        &mut self,
        group: &Group,
        records: Vec<(u64, Record)>,
    ) -> Result<Vec<GroupItem>, ServiceError> {
        let names: Vec<(MemberPublic, String)> = self
            .db
            .group_members(&group.descriptor.id())?
            .into_iter()
            .map(|(k, m)| (k, m.name))
            .collect();
        let us = group.key.as_ref().map(MemberKey::public);
        Ok(records
            .into_iter()
            .map(|(_, record)| self.group_item(record, &names, us))
            .collect())
    }

    /// `record` as a window shows it, its author and any member it names by `names`.
    fn group_item(
        &mut self,
        record: Record,
        names: &[(MemberPublic, String)],
        us: Option<MemberPublic>,
    ) -> GroupItem {
        let name = |key: &MemberPublic| {
            names
                .iter()
                .find(|(k, _)| k == key)
                .map_or_else(|| "[unknown]".to_owned(), |(_, n)| n.clone())
        };
        let post = self.db.group_post(&record);
        let body = record.body;
        let event = match body.kind {
            Kind::Post {
                parent,
                content_type,
                type_version,
                fallback,
                ..
            } => {
                let (fallback, content) = match post {
                    Ok(Some(post)) => (post.fallback, post.content),
                    Ok(None) | Err(_) => (
                        fallback,
                        Content {
                            content_type: content_type.clone(),
                            version: type_version,
                            payload: Payload::Damaged(match post {
                                Err(e) => e.to_string(),
                                _ => "no post".into(),
                            }),
                        },
                    ),
                };
                let bytes = match &content.payload {
                    Payload::Complete(whole) => Some(whole.len()),
                    _ => None,
                };
                let direction = if us == Some(body.author) {
                    Direction::Outgoing
                } else {
                    Direction::Incoming
                };
                let summary = match self.plugins() {
                    Ok(plugins) => summary(plugins, &content, &fallback, direction),
                    // No plugins load (a broken config): the author's own line still shows.
                    Err(_) => fallback,
                };
                let (reactions, edits) = self
                    .related(&body.group, &record.id, &body.author, names, us)
                    .unwrap_or_default();
                GroupEvent::Post {
                    parent,
                    content_type: content.content_type,
                    summary,
                    bytes,
                    reactions,
                    edits,
                }
            }
            Kind::Add { member, .. } => GroupEvent::Added {
                member: name(&member),
            },
            Kind::Leave => GroupEvent::Left,
            Kind::Remove { member, .. } => GroupEvent::Removed {
                member: name(&member),
            },
            Kind::Dissolve => GroupEvent::Dissolved,
            Kind::Timer { secs } => GroupEvent::Timer(if secs == 0 {
                Timer::OFF
            } else {
                Timer::of_secs(secs).unwrap_or(Timer::OFF)
            }),
        };
        GroupItem {
            id: record.id,
            author: name(&body.author),
            ours: us == Some(body.author),
            time_ms: body.timestamp_ms,
            event,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::service::testing::initialised;

    fn kind<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> ErrorKind {
        result.unwrap_err().kind()
    }

    #[test]
    fn alice_makes_a_group_and_is_its_only_member_named_as_she_chose() {
        let (_root, mut service) = initialised();
        let made = service.create_group("Newsroom", "ali").unwrap();
        assert_eq!(
            (made.name.as_str(), made.standing, made.ours, made.members),
            ("Newsroom", GroupStanding::Member, true, 1)
        );
        assert_eq!(service.groups().unwrap(), std::slice::from_ref(&made));
        // By name, or by 8+ hex digits of its id, in either case.
        let prefix = hex::encode(made.id.0)[..8].to_ascii_uppercase();
        assert_eq!(service.group(&prefix).unwrap(), made);
        let members = service.group_members("Newsroom").unwrap();
        assert_eq!(members.len(), 1);
        assert!(members[0].creator && members[0].us && members[0].state == "member");
        assert_eq!(members[0].name, "ali");
        let page = service
            .group_window(
                "Newsroom",
                GroupWindow::Newest {
                    before: None,
                    limit: 10,
                },
            )
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(
            page.items[0].event,
            GroupEvent::Added {
                member: "ali".into()
            }
        );
        assert!(page.items[0].ours && page.older.is_none());
    }

    #[test]
    fn unknown_ambiguous_and_unfit_references_are_refused_with_their_kind() {
        let (_root, mut service) = initialised();
        service.create_group("Union", "alice").unwrap();
        service.create_group("Union", "alice").unwrap();
        assert_eq!(kind(service.group("Union")), ErrorKind::InvalidInput);
        assert_eq!(kind(service.group("Medics")), ErrorKind::NotFound);
        assert_eq!(
            kind(service.group("0123")),
            ErrorKind::NotFound,
            "too short an id"
        );
        let id = hex::encode(service.groups().unwrap()[0].id.0);
        assert_eq!(
            kind(service.invite_to_group(&id[..12], "bob")),
            ErrorKind::NotFound,
            "no contact bob"
        );
        assert_eq!(
            kind(service.remove_from_group(&id[..12], "nobody")),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(service.answer_group_invitation(&id[..12], Some("a"))),
            ErrorKind::NotFound,
            "nobody invited us"
        );
        assert_eq!(
            kind(service.group_window(
                &id[..12],
                GroupWindow::Thread {
                    root: "zz",
                    limit: 5
                }
            )),
            ErrorKind::InvalidInput
        );
        assert!(matches!(
            service.create_group("", "alice"),
            Err(ServiceError::Group(GroupError::Malformed { .. }))
        ));
        // A name for us the rules refuse leaves no group behind, half made.
        assert_eq!(
            kind(service.create_group("Medics", "")),
            ErrorKind::InvalidInput
        );
        assert_eq!(kind(service.group("Medics")), ErrorKind::NotFound);
    }

    #[test]
    fn the_creator_cannot_leave_and_after_dissolving_nobody_writes() {
        let (_root, mut service) = initialised();
        service.create_group("Medics", "alice").unwrap();
        assert!(matches!(
            service.leave_group("Medics"),
            Err(ServiceError::Group(GroupError::Malformed { .. }))
        ));
        assert_eq!(
            kind(service.remove_from_group("Medics", "alice")),
            ErrorKind::InvalidInput
        );
        service.dissolve_group("Medics").unwrap();
        assert_eq!(
            service.group("Medics").unwrap().standing,
            GroupStanding::Dissolved
        );
        assert!(matches!(
            service.dissolve_group("Medics"),
            Err(ServiceError::Group(GroupError::Dissolved))
        ));
        let page = service
            .group_window(
                "Medics",
                GroupWindow::Newest {
                    before: None,
                    limit: 1,
                },
            )
            .unwrap();
        assert_eq!(page.items[0].event, GroupEvent::Dissolved);
        // One older record exists: the window says where it starts.
        assert!(page.older.is_some());
        let before = hex::encode(page.older.unwrap().0);
        let older = service
            .group_window(
                "Medics",
                GroupWindow::Newest {
                    before: Some(&before[..10]),
                    limit: 5,
                },
            )
            .unwrap();
        assert_eq!(older.items.len(), 1);
        assert!(older.older.is_none());
    }
}
