//! Files and folders only their owner can use, whatever the umask: everything Courier keeps is
//! encrypted, but who talks to whom shows in sizes and times too.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

/// Read and write for the owner only.
pub const FILE_MODE: u32 = 0o600;
/// Read, write and enter for the owner only.
pub const DIR_MODE: u32 = 0o700;

/// Options that create a file with [`FILE_MODE`] (a umask only takes bits away).
pub fn file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// Creates `dir` and any missing parents with [`DIR_MODE`].
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// Gives the existing file or folder at `path` the owner-only mode of its kind; nothing if missing.
pub fn restrict(path: &Path) -> io::Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
        if meta.permissions().mode() & 0o777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}
