//! The processes that hold files of a directory open, found through `/proc` (Linux), told apart by
//! their executable and their user, and stopping them at once: a panic wipe must leave no Courier
//! running that could write a key back, and must stop nothing else.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A process with a file of the directory open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// The user it runs as.
    pub uid: u32,
    /// Whether its executable is Courier's: this very binary, or one called `courier…`.
    pub courier: bool,
}

/// Every process but this one with a file under `dir` open.
pub fn holding(dir: &Path) -> Vec<Holder> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let ours = executable(Path::new("/proc/self/exe"));
    procs
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| holds(pid, &dir))
        .filter_map(|pid| {
            let uid = std::fs::metadata(format!("/proc/{pid}")).ok()?.uid();
            let exe = Path::new("/proc").join(pid.to_string()).join("exe");
            let courier = is_courier(&exe, ours.as_ref());
            Some(Holder { pid, uid, courier })
        })
        .collect()
}

/// The user this process runs as.
pub fn current_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// The device and inode of the executable behind a `/proc/PID/exe` link.
fn executable(link: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(link).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether the executable behind `link` is this binary, or a file named `courier…` (another build,
/// or a desktop app embedding the node under that name).
fn is_courier(link: &Path, ours: Option<&(u64, u64)>) -> bool {
    if ours.is_some_and(|ours| executable(link).as_ref() == Some(ours)) {
        return true;
    }
    std::fs::read_link(link).is_ok_and(|target| {
        target
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("courier"))
    })
}

fn holds(pid: u32, dir: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        // Gone meanwhile, or another user's that we may not look into.
        return false;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target: PathBuf| target.starts_with(dir))
}

/// Sends each of `pids` SIGKILL, which no process can catch or delay, and waits up to `patience`
/// for them to be gone; the ones still there then.
pub fn kill(pids: &[u32], patience: Duration) -> Vec<u32> {
    for &pid in pids {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            continue;
        };
        // SAFETY: kill(2) takes any pid and signal number and touches no memory of ours.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let until = Instant::now() + patience;
    loop {
        // A killed child stays a zombie until reaped, with its files already closed; only a
        // process that still has files open is still there.
        let left: Vec<u32> = pids.iter().copied().filter(|&pid| has_files(pid)).collect();
        if left.is_empty() || Instant::now() >= until {
            return left;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn has_files(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|mut fds| fds.next().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_holding_a_file_of_the_folder_is_found_by_its_executable_and_user_and_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("held");
        std::fs::write(&file, b"x").unwrap();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("exec 3<\"$0\"; sleep 30")
            .arg(&file)
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        let held = loop {
            if let Some(h) = holding(dir.path()).into_iter().find(|h| h.pid == pid) {
                break h;
            }
            assert!(
                Instant::now() < deadline,
                "the child never showed as holding the file"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(held.uid, current_uid());
        assert!(!held.courier, "a shell is not Courier");
        assert!(
            !holding(dir.path())
                .iter()
                .any(|h| h.pid == std::process::id()),
            "never this process"
        );
        assert_eq!(kill(&[pid], Duration::from_secs(5)), Vec::<u32>::new());
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        let other = tempfile::tempdir().unwrap();
        assert!(holding(other.path()).is_empty());
    }

    #[test]
    fn this_binary_and_one_named_courier_are_courier_and_a_shell_is_not() {
        let ours = executable(Path::new("/proc/self/exe"));
        assert!(is_courier(Path::new("/proc/self/exe"), ours.as_ref()));
        assert!(!is_courier(Path::new("/bin/sh"), ours.as_ref()));
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("courier");
        std::os::unix::fs::symlink("/bin/sh", &named).unwrap();
        let link = dir.path().join("exe");
        std::os::unix::fs::symlink(&named, &link).unwrap();
        assert!(is_courier(&link, None), "a link to a file named courier");
    }
}
