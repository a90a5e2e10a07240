//! Whether overwriting a file in place removes the old bytes from the disk where a folder is.
//! Courier erases by destroying keys: it overwrites its small key file in place. That removes the old
//! keys on file systems that write a file's blocks in place (ext4 in its default `data=ordered`
//! mode, ext2/3, XFS, tmpfs); not on copy-on-write or log-structured ones (btrfs, ZFS, bcachefs,
//! F2FS, NILFS), nor on ext4 mounted `data=journal` (the journal keeps a copy), nor under snapshots.
//! Flash storage (SSDs, SD cards, phones) may keep old copies of any block in its controller
//! whatever the file system does.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What can be said of erasure in one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erasure {
    /// Overwriting in place removes the old bytes, as far as the file system goes.
    InPlace {
        /// The file system's name.
        file_system: &'static str,
    },
    /// Old bytes can stay after an overwrite, for the reason given.
    Kept {
        /// The file system's name.
        file_system: &'static str,
        /// Why old copies stay.
        why: &'static str,
    },
}

/// Magic numbers of `statfs(2)` (linux/magic.h) and what each means for erasure.
const FILE_SYSTEMS: &[(i64, &str, Option<&str>)] = &[
    (0xEF53, "ext4", None),
    (0x5846_5342, "xfs", None),
    (0x0102_1994, "tmpfs", None),
    (
        0x9123_683E,
        "btrfs",
        Some("btrfs writes every change to new blocks (copy-on-write) and may keep snapshots"),
    ),
    (
        0x2FC1_2FC1,
        "zfs",
        Some("ZFS writes every change to new blocks (copy-on-write) and may keep snapshots"),
    ),
    (
        0xCA45_1A4E,
        "bcachefs",
        Some("bcachefs writes every change to new blocks (copy-on-write)"),
    ),
    (
        0xF2F5_2010,
        "f2fs",
        Some("F2FS writes every change to new blocks (log-structured)"),
    ),
    (
        0x3434,
        "nilfs2",
        Some("NILFS writes every change to new blocks and keeps checkpoints"),
    ),
    (
        0x794C_7630,
        "overlayfs",
        Some("an overlay copies files up and may keep the lower copy"),
    ),
];

/// What the file system holding `dir` does with overwritten bytes; `None` if it cannot be told.
pub fn assess(dir: &Path) -> Option<Erasure> {
    let path = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs(2) fills the zeroed struct it is given and reads the NUL-terminated path.
    let magic = unsafe {
        let mut stat: libc::statfs = std::mem::zeroed();
        if libc::statfs(path.as_ptr(), &mut stat) != 0 {
            return None;
        }
        stat.f_type as i64
    };
    let &(_, file_system, why) = FILE_SYSTEMS.iter().find(|(m, ..)| *m == magic)?;
    if let Some(why) = why {
        return Some(Erasure::Kept { file_system, why });
    }
    if file_system == "ext4" && journals_data(dir) {
        return Some(Erasure::Kept {
            file_system,
            why: "this ext4 is mounted data=journal, so its journal keeps copies of file contents",
        });
    }
    Some(Erasure::InPlace { file_system })
}

/// Whether the mount holding `dir` journals file data (`data=journal`).
fn journals_data(dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    // The longest mount point that holds `dir` is its mount; its super options follow " - ".
    mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let point = Path::new(fields.get(4)?);
            let options = line.split(" - ").nth(1)?.split(' ').nth(2)?;
            dir.starts_with(point)
                .then(|| (point.as_os_str().len(), options.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .is_some_and(|(_, options)| options.split(',').any(|o| o == "data=journal"))
}

/// Whether the block device under `dir` says it is not a spinning disk (an SSD, an SD card, flash):
/// its controller may keep old copies of blocks that were overwritten.
pub fn on_flash(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return false;
    };
    let dev = meta.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let queue = format!("/sys/dev/block/{major}:{minor}");
    // A partition's queue is its disk's, one folder up.
    [
        format!("{queue}/queue/rotational"),
        format!("{queue}/../queue/rotational"),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .is_some_and(|r| r.trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_that_is_not_there_is_not_told() {
        assert_eq!(assess(Path::new("/no/such/folder")), None);
    }

    #[test]
    fn tmpfs_is_in_place() {
        if Path::new("/dev/shm").is_dir() {
            assert_eq!(
                assess(Path::new("/dev/shm")),
                Some(Erasure::InPlace {
                    file_system: "tmpfs"
                })
            );
        }
    }
}
