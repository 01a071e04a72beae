//! Operations a command runs on a workspace, with what they must hold while they run: the
//! build lock (`cache/lock`), which serializes builds of one workspace (`status` needs none).

use std::path::Path;

use crate::error::{Error, Result};

/// The build lock of a workspace, held until dropped. A second `parity build` waits for it;
/// a crashed build's lock is released by the kernel with its file descriptor.
#[derive(Debug)]
pub struct BuildLock {
    _file: std::fs::File,
}

impl BuildLock {
    /// Takes the lock of the workspace whose cache is `cache_dir` (`cache/lock`, created). If
    /// another build holds it: with `wait`, calls `on_wait` with the lock's path and waits;
    /// without, returns `None`.
    pub fn acquire(
        cache_dir: &Path,
        wait: bool,
        on_wait: &mut dyn FnMut(&Path),
    ) -> Result<Option<BuildLock>> {
        std::fs::create_dir_all(cache_dir).map_err(|e| Error::io("create", cache_dir, e))?;
        let path = cache_dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) if !wait => return Ok(None),
            Err(std::fs::TryLockError::WouldBlock) => {
                on_wait(&path);
                file.lock().map_err(|e| Error::io("lock", &path, e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        Ok(Some(BuildLock { _file: file }))
    }
}
