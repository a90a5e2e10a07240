//! The processes that hold files of a directory open, found through `/proc` (Linux), and stopping
//! them at once: a panic wipe must leave nothing running that could write a key back.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Every process but this one with a file under `dir` open, by pid.
pub fn holding(dir: &Path) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| holds(pid, &dir))
        .collect()
}

fn holds(pid: u32, dir: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        // Gone meanwhile, or another user's: not ours to stop.
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
    fn a_process_holding_a_file_of_the_folder_is_found_and_stopped() {
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
        while !holding(dir.path()).contains(&pid) {
            assert!(
                Instant::now() < deadline,
                "the child never showed as holding the file"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !holding(dir.path()).contains(&std::process::id()),
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
}
