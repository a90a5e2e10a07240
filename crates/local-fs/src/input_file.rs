//! Reading a file the user names (an image to send, a config) with a hard size limit: only regular
//! files, checked before reading, and read with a cap so a file that grows meanwhile stays bounded.

use courier_error::{ErrorKind, HasKind};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;

/// Why a named file was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputFileError {
    /// The file system refused.
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    /// A device, FIFO, socket or directory: it could be endless or block forever.
    #[error("it is {0}, not a regular file; give the path of a file")]
    NotAFile(&'static str),
    /// Larger than its reader takes.
    #[error("it is {}, over the limit of {}; use a smaller file", size_text(*.size), size_text(*.limit))]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A stream (standard input) went on past the limit.
    #[error("it goes on past the limit of {}; send something smaller", size_text(*.limit))]
    StreamTooLarge {
        /// The limit.
        limit: u64,
    },
    /// It grew past the limit while it was read.
    #[error("it grew past the limit of {} while it was read; wait until whatever writes it is done", size_text(*.limit))]
    Grew {
        /// The limit.
        limit: u64,
    },
}

/// Reads the regular file at `path`, refusing anything else and anything over `limit` bytes before
/// reading it.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, InputFileError> {
    // The path is checked first so a FIFO is never opened (opening one blocks until a writer comes).
    regular(&std::fs::metadata(path)?)?;
    let file = open_nonblocking(path, 0)?;
    read_checked(file, limit)
}

/// As [`read_limited`], but a symbolic link is refused, never followed: for a folder someone else
/// filled (a drive handed over), where a link, or a file swapped for one after it was listed, could
/// lead anywhere (`/dev/zero`).
#[cfg(unix)]
pub fn read_limited_no_follow(path: &Path, limit: u64) -> Result<Vec<u8>, InputFileError> {
    regular(&std::fs::symlink_metadata(path)?)?;
    let file = open_nonblocking(path, libc::O_NOFOLLOW).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            InputFileError::NotAFile("a symbolic link")
        } else {
            e.into()
        }
    })?;
    read_checked(file, limit)
}

/// Reads the open `file` after checking, on the descriptor itself, that it is a regular file within
/// `limit`; and reads at most one byte past the limit whatever it grows to.
fn read_checked(file: File, limit: u64) -> Result<Vec<u8>, InputFileError> {
    // The open file, not the path: the path may have been swapped for something else in between.
    let meta = file.metadata()?;
    regular(&meta)?;
    if meta.len() > limit {
        return Err(InputFileError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(InputFileError::Grew { limit });
    }
    Ok(data)
}

/// Reads `stream` (standard input, a pipe) to its end, refusing it once it passes `limit` bytes: a
/// stream has no size to check first, so at most one byte over the limit is read.
pub fn read_stream_limited(stream: impl Read, limit: u64) -> Result<Vec<u8>, InputFileError> {
    let mut data = Vec::new();
    stream
        .take(limit.saturating_add(1))
        .read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(InputFileError::StreamTooLarge { limit });
    }
    Ok(data)
}

#[cfg(unix)]
fn open_nonblocking(path: &Path, flags: i32) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking so that a FIFO swapped in after the check cannot hang the open.
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | flags)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path, _flags: i32) -> std::io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

fn regular(meta: &std::fs::Metadata) -> Result<(), InputFileError> {
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    Err(InputFileError::NotAFile(describe(kind)))
}

#[cfg(unix)]
fn describe(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn describe(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// `12.5 MiB`, or bytes below one KiB.
fn size_text(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / MIB),
    }
}

impl HasKind for InputFileError {
    fn kind(&self) -> ErrorKind {
        match self {
            InputFileError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            _ => ErrorKind::InvalidInput,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 64 << 20;

    #[test]
    fn a_stream_is_read_to_its_end_but_never_past_the_limit() {
        assert_eq!(read_stream_limited(&b"hello"[..], 5).unwrap(), b"hello");
        let endless = std::io::repeat(b'x');
        let err = read_stream_limited(endless, 1024).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it goes on past the limit of 1.0 KiB; send something smaller"
        );
    }

    #[test]
    fn a_file_under_the_limit_reads_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("note.wav");
        std::fs::write(&path, b"RIFF....").unwrap();
        assert_eq!(read_limited(&path, LIMIT).unwrap(), b"RIFF....");
        assert_eq!(read_limited(&path, 8).unwrap().len(), 8);
    }

    #[test]
    fn an_endless_device_a_fifo_and_a_directory_are_refused_without_being_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for (path, kind) in [
            (Path::new("/dev/zero"), "a character device"),
            (fifo.as_path(), "a FIFO (named pipe)"),
            (dir.path(), "a directory"),
        ] {
            // A FIFO with no writer would block forever if it were opened.
            let err = read_limited(path, LIMIT).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("it is {kind}, not a regular file; give the path of a file")
            );
        }
    }

    #[test]
    fn a_sparse_file_over_the_limit_is_refused_by_its_size_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.jpg");
        File::create(&path).unwrap().set_len(1 << 30).unwrap();
        let started = std::time::Instant::now();
        let err = read_limited(&path, LIMIT).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is 1024.0 MiB, over the limit of 64.0 MiB; use a smaller file"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "refused from its size, not read"
        );
    }

    #[test]
    fn a_file_that_reads_longer_than_its_size_is_cut_at_the_limit() {
        // Files in /proc say they are empty and read on, like a file still being written.
        let err = read_limited(Path::new("/proc/self/maps"), 16).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it grew past the limit of 16 bytes while it was read; wait until whatever writes it is done"
        );
    }

    #[test]
    fn on_a_folder_someone_else_filled_a_link_is_refused_even_to_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("stream");
        std::fs::write(&real, b"a stream").unwrap();
        assert_eq!(read_limited_no_follow(&real, LIMIT).unwrap(), b"a stream");
        for (name, target) in [("zero", Path::new("/dev/zero")), ("alias", real.as_path())] {
            let link = dir.path().join(name);
            std::os::unix::fs::symlink(target, &link).unwrap();
            let err = read_limited_no_follow(&link, LIMIT).unwrap_err();
            assert_eq!(
                err.to_string(),
                "it is a symbolic link, not a regular file; give the path of a file",
                "{name}"
            );
            assert!(read_limited(&link, LIMIT).is_ok() == (name == "alias"));
        }
        let err = read_limited_no_follow(Path::new("/dev/zero"), LIMIT).unwrap_err();
        assert!(matches!(
            err,
            InputFileError::NotAFile("a character device")
        ));
    }

    #[test]
    fn a_missing_file_says_so() {
        let err = read_limited(Path::new("/nonexistent/cat.jpg"), LIMIT).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot read it: No such file"),
            "{err}"
        );
    }
}
