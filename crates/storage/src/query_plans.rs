//! The plans SQLite makes for the hot queries, pinned: each must reach its rows through the index
//! named here, never by scanning a table or sorting what it read, so that its cost follows what it
//! returns and not how much history is stored (#27). A query changed so that its index no longer
//! serves it fails here, not in a year of someone's messages.

use super::activity::{ARRIVED, ARRIVED_AT, CHANGED, IN_FLIGHT, MARK, UNACKED};
use super::contact_store::{CONTACTS_CHANGE, MET_CONTACTS};
use super::conversation::{EXPIRED_SEND_KEYS, NEWEST_QUEUED};
use super::database::Database;
use super::disappearing::EXPIRED;
use super::group_expiry::GROUP_EXPIRED;
use super::group_relations::{GROUP_RELATIONS_TO, RELATIONS_AFTER};
use super::groups::{HELD_COUNT, HELD_FOR, RECORDS_AFTER, RECORDS_BEFORE, REPLIES, SHOWN_AFTER};
use super::receipts::{MARK_SEEN, NEWEST_UNSEEN, UNSEEN, UNSEEN_SHOWN};
use super::relations::{RELATIONS_TO, TARGET_OF};
use super::sync_store::{DUE, STORE_INCOMING};
use super::window::{ID_RANGE, NEWER, OLDER, ONE, query};
use crate::Passphrase;

/// The plan of `sql`, one line per step, as `EXPLAIN QUERY PLAN` words them.
fn plan(db: &Database, sql: &str) -> Vec<String> {
    let mut statement = db
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let count = statement.parameter_count();
    let nulls = vec![rusqlite::types::Null; count];
    statement
        .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// What is wrong with `sql`'s plan: an index of `indexes` it does not read through, a table it
/// scans, rows it sorts after reading them (allowed where `merge_sort`: a compound of limited parts
/// merges the few rows its parts returned).
fn faults(db: &Database, sql: &str, indexes: &[&str], merge_sort: bool) -> Vec<String> {
    let steps = plan(db, sql);
    let mut faults: Vec<String> = indexes
        .iter()
        .filter(|index| {
            !steps.iter().any(|s| {
                s.contains(&format!("INDEX {index} ")) || s.ends_with(&format!("INDEX {index}"))
            })
        })
        .map(|index| format!("does not use {index}"))
        .collect();
    for step in &steps {
        // A compound's parts are co-routines it reads back (`SCAN (subquery-N)`), and a scalar
        // query's one row is `SCAN CONSTANT ROW`: neither is a table.
        let table = !step.contains(" INDEX ")
            && !step.contains("(subquery-")
            && step != "SCAN CONSTANT ROW";
        if step.starts_with("SCAN ") && table {
            faults.push(format!("scans: {step}"));
        }
        if step.starts_with("USE TEMP B-TREE") && !merge_sort {
            faults.push(format!("sorts: {step}"));
        }
    }
    faults
}

/// `sql`'s plan has no fault.
fn pinned(db: &Database, name: &str, sql: &str, indexes: &[&str], merge_sort: bool) {
    let faults = faults(db, sql, indexes, merge_sort);
    assert!(
        faults.is_empty(),
        "{name}: {faults:?} in the plan\n  {}",
        plan(db, sql).join("\n  ")
    );
}

#[test]
fn every_hot_query_reaches_its_rows_through_an_index_and_sorts_nothing_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = Passphrase::for_new_database("a long enough passphrase".into()).unwrap();
    let db = Database::open(&dir.path().join("courier.db"), &passphrase).unwrap();

    // A page of a conversation: each direction read newest (or oldest) first from the cursor, at
    // most a page; only the two pages' rows are merged.
    let shown = ["outgoing_shown", "incoming_shown"];
    pinned(&db, "older window", &query(OLDER), &shown, true);
    // What relates to a message shown: its replies, reactions, edits and retraction.
    pinned(
        &db,
        "relations to",
        &query(RELATIONS_TO),
        &["outgoing_relations", "incoming_relations"],
        false,
    );
    pinned(&db, "target of", TARGET_OF, &[], false);
    pinned(&db, "newer window", &query(NEWER), &shown, true);
    pinned(
        &db,
        "one message",
        &query(ONE),
        &["sqlite_autoindex_outgoing_1", "sqlite_autoindex_incoming_1"],
        false,
    );
    // A message named by an id prefix: the range of ids it names, per contact, through the key.
    pinned(
        &db,
        "id prefix",
        &query(ID_RANGE),
        &["sqlite_autoindex_outgoing_1", "sqlite_autoindex_incoming_1"],
        false,
    );
    // A send: the newest timestamp to the contact, and week-old send keys.
    pinned(
        &db,
        "newest queued",
        NEWEST_QUEUED,
        &["outgoing_timestamp"],
        false,
    );
    pinned(
        &db,
        "expired send keys",
        EXPIRED_SEND_KEYS,
        &["send_keys_age"],
        false,
    );
    // A sync session: what is due, in queue order, among the unacked only; storing an arrival.
    pinned(&db, "due", DUE, &["outgoing_unacked"], false);
    pinned(
        &db,
        "store incoming",
        STORE_INCOMING,
        &["incoming_received_seq"],
        false,
    );
    // The event feed: what arrived and what changed since its mark, and the mark itself.
    pinned(
        &db,
        "activity mark",
        MARK,
        &["incoming_received_seq", "outgoing_changed"],
        false,
    );
    pinned(&db, "arrived", ARRIVED, &["incoming_received_seq"], false);
    // The one the feed tells, read by its row.
    pinned(&db, "arrived entry", &query(ARRIVED_AT), &[], false);
    assert!(
        plan(&db, &query(ARRIVED_AT))
            .iter()
            .all(|step| step.contains("USING INTEGER PRIMARY KEY (rowid=?)")),
        "the arrival is read by its row: {:?}",
        plan(&db, &query(ARRIVED_AT))
    );
    pinned(&db, "changed", CHANGED, &["outgoing_changed"], false);
    pinned(&db, "unacked", UNACKED, &["outgoing_unacked"], false);
    pinned(&db, "in flight", IN_FLIGHT, &["outgoing_in_flight"], false);
    // A page or a send names its conversation by alias: one contact read, not every contact.
    pinned(
        &db,
        "met contact",
        &format!("{MET_CONTACTS} AND alias = ?1"),
        &["sqlite_autoindex_contacts_1"],
        false,
    );
    // An unseen count is one kept row, found by its contact; marking seen reaches the unseen only.
    pinned(&db, "unseen", UNSEEN, &[], false);
    assert!(
        plan(&db, UNSEEN)
            .iter()
            .any(|s| s == "SEARCH unseen_counts USING INTEGER PRIMARY KEY (rowid=?)"),
        "unseen: {:?}",
        plan(&db, UNSEEN)
    );
    // A watcher's look asks whether the contacts changed: one kept row.
    pinned(&db, "contacts change", CONTACTS_CHANGE, &[], false);
    assert_eq!(
        plan(&db, CONTACTS_CHANGE),
        ["SEARCH contact_changes USING INTEGER PRIMARY KEY (rowid=?)"]
    );
    pinned(&db, "mark seen", MARK_SEEN, &["incoming_unseen"], false);
    // What a read receipt names, and how far a mark reaches, among the unseen only too.
    pinned(
        &db,
        "newest unseen",
        NEWEST_UNSEEN,
        &["incoming_unseen"],
        false,
    );
    pinned(
        &db,
        "unseen shown",
        UNSEEN_SHOWN,
        &["incoming_unseen"],
        false,
    );
    // A group: its records after a position (a window, a relay), before one, a thread, and what is
    // held back, each among that group's rows of that kind only.
    pinned(
        &db,
        "group records",
        RECORDS_AFTER,
        &["group_records_order"],
        false,
    );
    pinned(
        &db,
        "group records before",
        RECORDS_BEFORE,
        &["group_records_shown"],
        false,
    );
    pinned(
        &db,
        "group shown after",
        SHOWN_AFTER,
        &["group_records_shown"],
        false,
    );
    pinned(
        &db,
        "group thread",
        REPLIES,
        &["group_records_thread"],
        false,
    );
    // What names a post: its reactions, edits and deletion.
    pinned(
        &db,
        "group relations to",
        GROUP_RELATIONS_TO,
        &["group_records_relations"],
        false,
    );
    pinned(
        &db,
        "group relations after",
        RELATIONS_AFTER,
        &["group_records_order"],
        false,
    );
    pinned(
        &db,
        "group held for",
        HELD_FOR,
        &["group_records_held"],
        false,
    );
    pinned(
        &db,
        "group held count",
        HELD_COUNT,
        &["group_records_held"],
        false,
    );
    // Disappearing messages: those due, among those with a time only.
    pinned(
        &db,
        "expired",
        EXPIRED,
        &["outgoing_expiry", "incoming_expiry"],
        false,
    );
    pinned(
        &db,
        "group posts expired",
        GROUP_EXPIRED,
        &["group_records_expiry"],
        false,
    );
}

#[test]
fn a_scan_a_sort_and_a_missing_index_are_each_a_fault() {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = Passphrase::for_new_database("a long enough passphrase".into()).unwrap();
    let db = Database::open(&dir.path().join("courier.db"), &passphrase).unwrap();
    let scan = "SELECT id FROM outgoing WHERE body = ?1 ORDER BY fallback";
    assert_eq!(
        faults(&db, scan, &["outgoing_shown"], false).len(),
        3,
        "{:?}",
        plan(&db, scan)
    );
    assert_eq!(faults(&db, scan, &[], true).len(), 1);
}
