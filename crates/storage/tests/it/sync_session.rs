//! One duplex sync session between two stores, in memory: the protocol over real databases.

use courier_proto::sync::record::Record;
use courier_proto::sync::session::{Mode, Session, SyncStore};

/// Runs one duplex sync session between two conversations over an in-memory link until both are quiet.
/// `reaches_b` and `reaches_a` decide whether each record gets through (a dropped link, a crash before
/// acks leave). Returns how many message records `a` sent.
pub fn sync_session(
    a: &mut impl SyncStore,
    b: &mut impl SyncStore,
    now: u64,
    mut reaches_b: impl FnMut(&Record) -> bool,
    mut reaches_a: impl FnMut(&Record) -> bool,
) -> usize {
    let (mut sa, mut sb) = (Session::new(Mode::Duplex), Session::new(Mode::Duplex));
    let (mut to_b, mut to_a) = (sa.start(a, now).unwrap(), sb.start(b, now).unwrap());
    let mut sent = 0;
    while !to_a.is_empty() || !to_b.is_empty() {
        sent += to_b
            .iter()
            .filter(|r| matches!(r, Record::Message(_)))
            .count();
        let replies_to_a: Vec<Record> = to_b
            .drain(..)
            .filter(|r| reaches_b(r))
            .flat_map(|r| sb.handle(r, b, now).unwrap())
            .collect();
        let replies_to_b: Vec<Record> = to_a
            .drain(..)
            .filter(|r| reaches_a(r))
            .flat_map(|r| sa.handle(r, a, now).unwrap())
            .collect();
        to_a = replies_to_a;
        to_b = replies_to_b;
    }
    sent
}
