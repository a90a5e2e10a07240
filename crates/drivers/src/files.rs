//! Files: reads the streams a drive (or a spool folder) holds, each file as one accepted channel.
//!
//! A scan lists the granted directory off the node's thread and hands the node every file it has not
//! read before in this run: the file's bytes on a new channel, then its close. The node recognises
//! each stream by its tag or leaves it; this driver never deletes, moves or changes a file, so a
//! stick a stranger handed over is left as it came. Writing is the plugin's, through the `files`
//! capability.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::handover::{InFlight, hand_over};
use crate::lock;
use courier_io::{
    ChannelId, ChannelIds, Driver, DriverContext, DriverError, DriverEvent, IoRequest,
    MAX_FILE_BYTES, Sink, TransportIndex,
};
use courier_local_fs::input_file::read_limited_no_follow;

/// A file as last read: the same name, length and time are not read twice.
type Seen = Arc<Mutex<HashSet<(PathBuf, u64, Option<SystemTime>)>>>;

/// The files driver of one node.
pub struct FilesDriver {
    runtime: tokio::runtime::Handle,
    sink: Sink,
    ids: ChannelIds,
    seen: Seen,
    in_flight: Arc<InFlight>,
}

impl std::fmt::Debug for FilesDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesDriver").finish_non_exhaustive()
    }
}

impl FilesDriver {
    /// A driver on the node's runtime.
    pub fn new(cx: DriverContext) -> Self {
        FilesDriver {
            runtime: cx.runtime,
            sink: cx.sink,
            ids: cx.ids,
            seen: Seen::default(),
            in_flight: Arc::default(),
        }
    }
}

impl Driver for FilesDriver {
    fn name(&self) -> &'static str {
        "files"
    }

    fn handles(&self, request: &IoRequest) -> bool {
        matches!(request, IoRequest::FilesScan { .. })
    }

    fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        _tags: &[String],
    ) -> Result<(), DriverError> {
        let IoRequest::FilesScan { dir } = request else {
            return Err(DriverError(format!(
                "the files driver was handed {request:?}"
            )));
        };
        let (sink, ids, seen) = (self.sink.clone(), self.ids.clone(), self.seen.clone());
        let in_flight = self.in_flight.clone();
        // Blocking: a slow stick must not stall the node's sockets.
        self.runtime
            .spawn_blocking(move || scan(transport, &dir, &sink, &ids, &seen, &in_flight));
        Ok(())
    }

    fn write(&mut self, _channel: ChannelId, _data: Vec<u8>) -> bool {
        // A read file is one way: nothing is answered on it.
        false
    }

    fn close(&mut self, channel: ChannelId) {
        self.in_flight.leave(channel);
    }

    fn shutdown(&mut self) {}
}

/// Whether a directory entry may hold a stream: not hidden, not a write still under way, not over
/// the size one stream can have.
fn may_be_stream(name: &str, len: u64) -> bool {
    !name.starts_with('.') && !name.ends_with('~') && len > 0 && len <= MAX_FILE_BYTES as u64
}

fn scan(
    transport: TransportIndex,
    dir: &Path,
    sink: &Sink,
    ids: &ChannelIds,
    seen: &Seen,
    in_flight: &InFlight,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            sink(DriverEvent::Scanned {
                transport,
                files: 0,
                error: Some(format!("cannot list {}: {e}", dir.display())),
            });
            return;
        }
    };
    let mut found: Vec<(Option<SystemTime>, String, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let meta = entry.metadata().ok().filter(|m| m.is_file())?;
            let name = entry.file_name().into_string().ok()?;
            may_be_stream(&name, meta.len()).then(|| (meta.modified().ok(), name, meta.len()))
        })
        .collect();
    // Oldest first, so streams are read in the order they were written where the drive keeps times.
    found.sort();
    let mut files = 0;
    for (modified, name, len) in found {
        let key = (dir.join(&name), len, modified);
        if !lock(seen).insert(key.clone()) {
            continue;
        }
        // Read only once the node has room for it: memory holds a few files, not the folder.
        let channel = ids.next();
        in_flight.enter(channel);
        // Not followed if it was swapped for a link after the listing, checked on the opened file,
        // and never read past one stream's size.
        let data = match read_limited_no_follow(&key.0, MAX_FILE_BYTES as u64) {
            Ok(data) => data,
            Err(e) => {
                tracing::warn!(
                    "skipped {} on the drive: {}",
                    safelog::sensitive(&name),
                    safelog::sensitive(&e)
                );
                in_flight.leave(channel);
                lock(seen).remove(&key);
                continue;
            }
        };
        hand_over(sink, transport, channel, Some(name), &data);
        files += 1;
    }
    sink(DriverEvent::Scanned {
        transport,
        files,
        error: None,
    });
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// A driver on a real runtime whose events land in a channel.
    fn driver() -> (
        FilesDriver,
        mpsc::Receiver<DriverEvent>,
        tokio::runtime::Runtime,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let cx = DriverContext {
            sink: Arc::new(move |e| lock(&tx).send(e).unwrap()),
            ids: ChannelIds::default(),
            runtime: runtime.handle().clone(),
        };
        (FilesDriver::new(cx), rx, runtime)
    }

    /// Scans `dir` and returns the names read with their bytes, and the count the scan reported.
    fn scan_once(
        driver: &mut FilesDriver,
        rx: &mpsc::Receiver<DriverEvent>,
        dir: &Path,
    ) -> (Vec<(String, Vec<u8>)>, usize) {
        let request = IoRequest::FilesScan { dir: dir.into() };
        assert!(driver.handles(&request));
        driver.carry_out(TransportIndex(3), request, &[]).unwrap();
        let mut read: Vec<(ChannelId, String, Vec<u8>, bool)> = Vec::new();
        loop {
            match rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap() {
                DriverEvent::Accepted {
                    transport: TransportIndex(3),
                    channel,
                    name: Some(name),
                } => read.push((channel, name, Vec::new(), false)),
                DriverEvent::Received { channel, data } => {
                    let file = read.iter_mut().find(|f| f.0 == channel).unwrap();
                    assert!(!file.3, "no bytes after the close");
                    file.2.extend(data);
                }
                DriverEvent::Closed { channel } => {
                    read.iter_mut().find(|f| f.0 == channel).unwrap().3 = true;
                    // As the node does once it has read a file.
                    driver.close(channel);
                }
                DriverEvent::Scanned {
                    transport: TransportIndex(3),
                    files,
                    error: None,
                } => {
                    assert!(read.iter().all(|f| f.3), "every file closed before the end");
                    return (read.into_iter().map(|f| (f.1, f.2)).collect(), files);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn a_scan_hands_over_the_next_file_only_once_the_node_closed_one_of_the_last_two() {
        let (mut driver, rx, _runtime) = driver();
        let dir = tempfile::tempdir().unwrap();
        for i in 0..4 {
            std::fs::write(dir.path().join(format!("f{i}")), [i as u8; 10]).unwrap();
        }
        driver
            .carry_out(
                TransportIndex(3),
                IoRequest::FilesScan {
                    dir: dir.path().into(),
                },
                &[],
            )
            .unwrap();
        let mut closed = Vec::new();
        let next = |rx: &mpsc::Receiver<DriverEvent>| {
            rx.recv_timeout(std::time::Duration::from_millis(500))
        };
        // Two files come whole; the third waits.
        while closed.len() < 2 {
            if let DriverEvent::Closed { channel } = next(&rx).unwrap() {
                closed.push(channel);
            }
        }
        assert!(
            next(&rx).is_err(),
            "a third file came before the node closed one"
        );
        driver.close(closed[0]);
        assert!(matches!(next(&rx).unwrap(), DriverEvent::Accepted { .. }));
        // The node reads on: the scan ends.
        loop {
            match next(&rx).unwrap() {
                DriverEvent::Closed { channel } => driver.close(channel),
                DriverEvent::Scanned { files, .. } => break assert_eq!(files, 4),
                _ => {}
            }
        }
    }

    #[test]
    fn a_scan_reads_each_new_file_once_in_pieces_and_leaves_every_file_where_it_was() {
        let (mut driver, rx, _runtime) = driver();
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        std::fs::write(dir.path().join("a1"), &big).unwrap();
        std::fs::write(dir.path().join(".hidden"), b"x").unwrap();
        std::fs::write(dir.path().join("b2.partial~"), b"half").unwrap();
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        std::fs::write(dir.path().join("huge"), vec![1; MAX_FILE_BYTES + 1]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();

        let (read, files) = scan_once(&mut driver, &rx, dir.path());
        assert_eq!(read, [("a1".to_owned(), big.clone())]);
        assert_eq!(files, 1);

        let (again, files) = scan_once(&mut driver, &rx, dir.path());
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(files, 0);

        std::fs::write(dir.path().join("c3"), b"new").unwrap();
        let (later, _) = scan_once(&mut driver, &rx, dir.path());
        assert_eq!(later, [("c3".to_owned(), b"new".to_vec())]);

        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [".hidden", "a1", "b2.partial~", "c3", "empty", "huge", "sub"]
        );
    }

    #[test]
    fn a_folder_that_cannot_be_listed_is_reported_not_panicked_on() {
        let (mut driver, rx, _runtime) = driver();
        let missing = PathBuf::from("/nonexistent/courier-drive");
        driver
            .carry_out(
                TransportIndex(0),
                IoRequest::FilesScan { dir: missing },
                &[],
            )
            .unwrap();
        match rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap() {
            DriverEvent::Scanned {
                files: 0,
                error: Some(error),
                ..
            } => assert!(
                error.contains("cannot list /nonexistent/courier-drive"),
                "{error}"
            ),
            other => panic!("unexpected {other:?}"),
        }
        assert!(!driver.handles(&IoRequest::MdnsWithdraw));
    }
}
