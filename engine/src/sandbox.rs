//! Where `command` recipes run: a confined process with a fixed environment, a deadline and a
//! bounded record of its output.
//!
//! Each worker of a build uses one *slot* directory, `cache/tmp/w<N>/`, made once and reused
//! by every recipe it runs (creating and deleting directories per node is what made sandboxes
//! slow on real disks):
//!
//! | path         | what                                                                  |
//! |--------------|-----------------------------------------------------------------------|
//! | `root/`      | the recipe's working directory: the pipeline root as the recipe sees it |
//! | `cache`      | the cache outputs (`{cache}/x` is `../cache/x` from `root/`)          |
//! | `out/`       | where the recipe writes its outputs, under flat names (`$out`)        |
//! | `home/`      | `HOME`, emptied after each recipe                                     |
//! | `tmp/`       | `TMPDIR`, emptied after each recipe                                   |
//! | `log`        | stdout and stderr of the recipe (its tail goes into failure messages) |
//!
//! Two ways to give a recipe its inputs, chosen once per process ([`Isolation::current`]):
//! - **Landlock** (Linux 5.13+): `root/` holds a relative symbolic link per top-level name of
//!   the real root, so inputs are read in place, no copy and no link per input; a thread of
//!   the slot restricts itself once with a Landlock ruleset and starts the slot's recipes, which
//!   inherit it: the recipe may write only in `out/`, `home/`, `tmp/` (and `/dev/null`), and may not
//!   signal processes outside its sandbox. Writing an input, the workspace or anything else
//!   fails with "Permission denied".
//! - **Copies** (elsewhere, or `PARITY_SANDBOX=copy`): `root/` and `cache/` are real
//!   directories holding copies of the declared inputs (reflinks where the filesystem has them,
//!   never shared inodes), remade for each recipe. Writes are not confined.
//!
//! Either way `$in` and `$out` are the same strings, so outputs do not depend on the mode.

use std::collections::BTreeSet;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::graph::Output;
use crate::process;
use crate::simple;

/// The environment variable that forces the portable sandbox ([`Isolation::Copies`]).
pub const SANDBOX_ENV: &str = "PARITY_SANDBOX";

/// How `command` recipes are isolated on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Landlock is enforced: writes confined to the sandbox, inputs read in place.
    Landlock {
        /// The Landlock ABI version in use.
        abi: u8,
    },
    /// The portable fallback: inputs copied into the sandbox, writes not confined.
    Copies {
        /// Why Landlock is not used.
        why: String,
    },
}

impl Isolation {
    /// Probed once per process: a throwaway thread restricts itself and reports what the
    /// kernel enforced.
    pub fn current() -> &'static Isolation {
        static CURRENT: OnceLock<Isolation> = OnceLock::new();
        CURRENT.get_or_init(|| {
            if std::env::var(SANDBOX_ENV).is_ok_and(|v| v == "copy") {
                return Isolation::Copies {
                    why: format!("{SANDBOX_ENV}=copy"),
                };
            }
            probe()
        })
    }

    /// One line for `status -v`.
    pub fn describe(&self) -> String {
        match self {
            Isolation::Landlock { abi } => format!(
                "landlock (ABI {abi}): `command` recipes write only to their sandbox; inputs are read in place, read-only"
            ),
            Isolation::Copies { why } => format!(
                "copies ({why}): `command` recipes get private copies of their inputs; their writes are not confined"
            ),
        }
    }
}

#[cfg(target_os = "linux")]
fn probe() -> Isolation {
    use landlock::{ABI, AccessFs, LandlockStatus, Ruleset, RulesetAttr, RulesetStatus};
    let status = std::thread::spawn(|| {
        Ruleset::default()
            .handle_access(AccessFs::from_write(ABI::V1))
            .and_then(|r| r.create())
            .and_then(|r| r.restrict_self())
    })
    .join();
    match status {
        Ok(Ok(s)) if s.ruleset != RulesetStatus::NotEnforced => {
            let abi = match s.landlock {
                LandlockStatus::Available { effective_abi, .. } => effective_abi as u8,
                _ => 1,
            };
            Isolation::Landlock { abi }
        }
        Ok(Ok(s)) => Isolation::Copies {
            why: match s.landlock {
                LandlockStatus::NotEnabled => "landlock is not enabled in this kernel".into(),
                LandlockStatus::NotImplemented => "this kernel has no landlock".into(),
                _ => "landlock is not enforced here".into(),
            },
        },
        Ok(Err(e)) => Isolation::Copies {
            why: format!("landlock failed: {e}"),
        },
        Err(_) => Isolation::Copies {
            why: "the landlock probe panicked".into(),
        },
    }
}

#[cfg(not(target_os = "linux"))]
fn probe() -> Isolation {
    Isolation::Copies {
        why: "landlock exists only on Linux".into(),
    }
}

/// The `PATH` of a recipe unless its config says otherwise.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Default deadline of a recipe.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// `sh`, found once in [`DEFAULT_PATH`].
fn shell() -> &'static Path {
    static SH: OnceLock<PathBuf> = OnceLock::new();
    SH.get_or_init(|| {
        DEFAULT_PATH
            .split(':')
            .map(|d| Path::new(d).join("sh"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("/bin/sh"))
    })
}

/// The environment variable naming a file to which parity appends the id of every node whose
/// rule it starts (one line each), like ninja's log: what really ran, for tests and debugging.
pub const RUN_LOG_ENV: &str = "PARITY_RUN_LOG";

/// Appends `id` to the run log, when [`RUN_LOG_ENV`] names one.
pub(crate) fn log_run(id: &str) {
    if let Some(path) = std::env::var_os(RUN_LOG_ENV).filter(|p| !p.is_empty())
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = std::io::Write::write_all(&mut f, format!("{id}\n").as_bytes());
    }
}

/// How a recipe ended, when it did not exit 0.
#[derive(Debug)]
pub enum Ended {
    /// It exited with this code (or was killed by a signal: `None`).
    Failed(Option<i32>),
    /// It ran past its deadline; its process group was killed.
    TimedOut(Duration),
    /// The build was interrupted; its process group was killed.
    Interrupted,
}

/// The slots of one build, handed to workers one at a time.
pub(crate) struct Pool {
    dir: PathBuf,
    root_rel: String,
    isolation: &'static Isolation,
    free: Mutex<Vec<Slot>>,
    next: AtomicUsize,
    used: AtomicBool,
}

impl Pool {
    /// Slots under `tmp` (`cache/tmp`) for the pipeline root `root`, which `dir` (the
    /// directory holding `cache/`) holds, or not.
    pub(crate) fn new(tmp: PathBuf, dir: &Path, root: &Path) -> Pool {
        // Links in `root/` of a slot point there: relative when the root is inside `dir`, so
        // a workspace can move.
        let root_rel = match root.strip_prefix(dir) {
            Ok(rel) => {
                let parts: Vec<String> = rel
                    .components()
                    .filter(|c| !matches!(c, std::path::Component::CurDir))
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let mut prefix = "../../../../".to_string();
                for p in parts {
                    prefix.push_str(&p);
                    prefix.push('/');
                }
                prefix
            }
            Err(_) => {
                let abs = std::env::current_dir().map_or(root.to_path_buf(), |d| d.join(root));
                format!("{}/", abs.to_string_lossy().trim_end_matches('/'))
            }
        };
        Pool {
            // Absolute: `HOME` and `TMPDIR` are given to recipes that may change directory.
            dir: std::path::absolute(&tmp).unwrap_or(tmp),
            root_rel,
            isolation: Isolation::current(),
            free: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
            used: AtomicBool::new(false),
        }
    }

    /// The isolation the slots use.
    pub(crate) fn isolation(&self) -> &'static Isolation {
        self.isolation
    }

    /// Whether a slot was ever handed out (a recipe ran).
    pub(crate) fn used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }

    /// What slots left by an earlier build must match to be reused: the kind of isolation
    /// and the root their links point to.
    pub(crate) fn tag(&self) -> String {
        let kind = match self.isolation {
            Isolation::Landlock { .. } => "landlock",
            Isolation::Copies { .. } => "copies",
        };
        format!("{kind}\n{}\n", self.root_rel)
    }

    /// A free slot, made on first use.
    pub(crate) fn take(&self) -> Result<Slot> {
        self.used.store(true, Ordering::Relaxed);
        if let Some(slot) = self.free.lock().ok().and_then(|mut f| f.pop()) {
            return Ok(slot);
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Slot::create(
            &self.dir.join(format!("w{n}")),
            &self.root_rel,
            self.isolation,
        )
    }

    /// Gives a slot back after its recipe.
    pub(crate) fn give(&self, slot: Slot) {
        if let Ok(mut f) = self.free.lock() {
            f.push(slot);
        }
    }
}

/// One worker's sandbox directory (see the module docs).
pub struct Slot {
    dir: PathBuf,
    root: PathBuf,
    out: PathBuf,
    home: PathBuf,
    tmp: PathBuf,
    log: std::fs::File,
    /// What links in `root/` point to, before the name (ends with `/`).
    root_rel: String,
    landlock: bool,
    /// Top-level names already linked into `root/` (Landlock mode).
    linked: BTreeSet<String>,
    /// `root/` without symbolic links: the `PWD` a shell would export.
    pwd: PathBuf,
    /// The thread that starts this slot's recipes, confined once (Landlock mode).
    launcher: Option<Launcher>,
    /// Whether the last recipe ran without a shell.
    pub(crate) ran_direct: bool,
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> Error + 'p {
    move |e| Error::io(action, path, e)
}

impl Slot {
    fn create(dir: &Path, root_rel: &str, isolation: &Isolation) -> Result<Slot> {
        let landlock = matches!(isolation, Isolation::Landlock { .. });
        let mut slot = Slot {
            dir: dir.to_path_buf(),
            root: dir.join("root"),
            out: dir.join("out"),
            home: dir.join("home"),
            tmp: dir.join("tmp"),
            log: {
                std::fs::create_dir_all(dir).map_err(io("create", dir))?;
                let path = dir.join("log");
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(io("create", &path))?
            },
            root_rel: root_rel.to_string(),
            landlock,
            linked: BTreeSet::new(),
            pwd: PathBuf::new(),
            launcher: None,
            ran_direct: false,
        };
        for d in [&slot.root, &slot.out, &slot.home, &slot.tmp] {
            std::fs::create_dir_all(d).map_err(io("create", d))?;
        }
        slot.pwd = std::fs::canonicalize(&slot.root).map_err(io("resolve", &slot.root))?;
        if landlock {
            symlink("../../out", &dir.join("cache"))?;
            slot.launcher = Some(Launcher::start(&slot)?);
        } else {
            let cache = dir.join("cache");
            std::fs::create_dir_all(&cache).map_err(io("create", &cache))?;
        }
        Ok(slot)
    }

    /// The recipe's working directory (the root as it sees it).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the input called `name` (`path` or `{cache}/path`) is, seen from the slot.
    pub fn path(&self, name: &str) -> PathBuf {
        fsutil::name_path(&self.root, &self.dir.join("cache"), name)
    }

    /// Where output `k` of the node (`o`) is written: a flat name in `out/`, the same for
    /// every node in every slot, so `$out` never depends on the worker.
    pub fn output_path(&self, k: usize, o: &Output) -> PathBuf {
        let base = o.path.rsplit('/').next().unwrap_or(&o.path);
        self.out.join(format!("{k}-{base}"))
    }

    /// Makes the inputs visible at their names: in Landlock mode, links to the real root's
    /// top-level entries (once per name); otherwise fresh copies.
    pub(crate) fn prepare(&mut self, inputs: &[(String, PathBuf)]) -> Result<()> {
        if self.landlock {
            for (name, _) in inputs {
                if name.starts_with("{cache}/") {
                    continue;
                }
                let top = name.split('/').next().unwrap_or(name);
                if self.linked.contains(top) {
                    continue;
                }
                let target = format!("{}{top}", self.root_rel);
                symlink(&target, &self.root.join(top))?;
                self.linked.insert(top.to_string());
            }
            return Ok(());
        }
        let cache = self.dir.join("cache");
        for d in [&self.root, &cache] {
            fsutil::remove_any(d).map_err(io("remove", d))?;
            std::fs::create_dir_all(d).map_err(io("create", d))?;
        }
        for (name, from) in inputs {
            let to = self.path(name);
            let parent = fsutil::parent_dir(&to);
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
            fsutil::copy_tree(from, &to)?;
        }
        Ok(())
    }

    /// Runs `script` in `root/` with exactly `vars` plus `HOME` and `TMPDIR`, stdin from
    /// `/dev/null`, stdout and stderr to `log`, in its own process group, confined (Landlock
    /// mode), until it exits, `timeout` passes or `cancel` is set (then the whole group is
    /// killed). A simple command runs directly ([`crate::simple`]), anything else with
    /// `sh -c`. `Ok(())` when it exited 0.
    pub(crate) fn run(
        &mut self,
        script: &str,
        vars: &[(String, String)],
        timeout: Duration,
        cancel: &AtomicBool,
    ) -> Result<std::result::Result<(), Ended>> {
        let log_path = self.dir.join("log");
        self.log.set_len(0).map_err(io("truncate", &log_path))?;
        self.log
            .seek(SeekFrom::Start(0))
            .map_err(io("rewind", &log_path))?;
        let path = vars.iter().find(|(k, _)| k == "PATH");
        let path = path.map_or(DEFAULT_PATH, |(_, v)| v.as_str());
        let direct = match simple::shell_always() {
            true => None,
            false => simple::parse(script)
                .and_then(|s| Some((simple::resolve(&s.argv[0], path, &self.root)?, s))),
        };
        let recipe = Recipe {
            script: script.to_string(),
            direct,
            vars: vars.to_vec(),
            root: self.root.clone(),
            pwd: self.pwd.clone(),
            home: self.home.clone(),
            tmp: self.tmp.clone(),
            out: self.log.try_clone().map_err(io("open", &log_path))?,
            err: self.log.try_clone().map_err(io("open", &log_path))?,
        };
        let spawned = match &self.launcher {
            Some(launcher) => launcher.spawn(recipe),
            None => recipe.spawn(),
        };
        let (running, direct) = spawned.map_err(Error::Usage)?;
        self.ran_direct = direct;
        let status = running
            .wait(Some(timeout), Some(cancel))
            .map_err(io("wait for", shell()))?;
        Ok(match status {
            process::Outcome::Exited(s) if s.success() => Ok(()),
            process::Outcome::Exited(s) => Err(Ended::Failed(s.code())),
            process::Outcome::TimedOut => Err(Ended::TimedOut(timeout)),
            process::Outcome::Cancelled => Err(Ended::Interrupted),
        })
    }

    /// The last lines of the recipe's output (at most 20 lines of the last 16 KiB).
    pub(crate) fn tail(&mut self) -> String {
        process::tail(&mut self.log, 16 << 10, 20)
    }

    /// After a recipe: anything in `out/` that is not one of `declared` is reported and
    /// deleted, and `home/` and `tmp/` are emptied. Returns what the recipe wrote without
    /// declaring it.
    pub(crate) fn clean(&mut self, declared: &[PathBuf]) -> Result<Vec<String>> {
        let mut undeclared = Vec::new();
        for entry in std::fs::read_dir(&self.out).map_err(io("read", &self.out))? {
            let entry = entry.map_err(io("read", &self.out))?;
            let path = entry.path();
            if !declared.contains(&path) {
                undeclared.push(entry.file_name().to_string_lossy().into_owned());
            }
            fsutil::remove_any(&path).map_err(io("remove", &path))?;
        }
        for d in [&self.home, &self.tmp] {
            for entry in std::fs::read_dir(d).map_err(io("read", d))? {
                let path = entry.map_err(io("read", d))?.path();
                fsutil::remove_any(&path).map_err(io("remove", &path))?;
            }
        }
        undeclared.sort();
        Ok(undeclared)
    }
}

/// One recipe to start, with all it needs: built by the worker, started by the slot's
/// launcher thread (or the worker itself when there is none).
struct Recipe {
    script: String,
    /// The program and the parsed command, when it is simple.
    direct: Option<(PathBuf, simple::Simple)>,
    vars: Vec<(String, String)>,
    root: PathBuf,
    pwd: PathBuf,
    home: PathBuf,
    tmp: PathBuf,
    out: std::fs::File,
    err: std::fs::File,
}

impl Recipe {
    /// Starts the simple command directly if it is one and it can be; otherwise, or when the
    /// program or its `>` file cannot be opened, `sh -c` (which then says why, as it would).
    /// Also says whether it started the command directly.
    fn spawn(self) -> std::result::Result<(process::Running, bool), String> {
        let env = |cmd: &mut Command| {
            cmd.current_dir(&self.root)
                .env_clear()
                .envs(self.vars.iter().map(|(k, v)| (k, v)))
                .env("HOME", &self.home)
                .env("TMPDIR", &self.tmp)
                .stdin(Stdio::null());
        };
        if let Some((program, simple)) = &self.direct {
            let mut cmd = Command::new(program);
            #[cfg(unix)]
            std::os::unix::process::CommandExt::arg0(&mut cmd, &simple.argv[0]);
            cmd.args(&simple.argv[1..]);
            env(&mut cmd);
            // What a shell exports of its own.
            cmd.env("PWD", &self.pwd);
            let stdout = match &simple.stdout {
                None => self.out.try_clone(),
                Some(file) => std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(self.root.join(file)),
            };
            if let (Ok(stdout), Ok(stderr)) = (stdout, self.err.try_clone()) {
                cmd.stdout(stdout).stderr(stderr);
                if let Ok(running) = process::spawn(&mut cmd) {
                    return Ok((running, true));
                }
            }
        }
        let mut cmd = Command::new(shell());
        cmd.arg("-c").arg(&self.script);
        env(&mut cmd);
        cmd.stdout(self.out).stderr(self.err);
        process::spawn(&mut cmd)
            .map(|running| (running, false))
            .map_err(|e| format!("cannot start `{}`: {e}", shell().display()))
    }
}

/// A reply to the worker waiting for its recipe to start.
type Started = std::sync::mpsc::SyncSender<std::result::Result<(process::Running, bool), String>>;

/// A slot's long-lived thread that restricted itself with the slot's Landlock ruleset once
/// and starts its recipes, which inherit the restriction; the rest of parity does not have it.
/// One per slot instead of one per recipe: a thread and a ruleset cost more than the recipe's
/// own start.
struct Launcher {
    jobs: std::sync::mpsc::Sender<(Recipe, Started)>,
}

impl Launcher {
    #[cfg(target_os = "linux")]
    fn start(slot: &Slot) -> Result<Launcher> {
        use landlock::{
            ABI, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
        };
        let abi = ABI::V6;
        let handled = AccessFs::from_write(abi) & !AccessFs::IoctlDev;
        let file_rights = AccessFs::WriteFile | AccessFs::Truncate;
        let dirs = [slot.out.clone(), slot.home.clone(), slot.tmp.clone()];
        let files = [PathBuf::from("/dev/null"), slot.dir.join("log")];
        let (jobs, rx) = std::sync::mpsc::channel::<(Recipe, Started)>();
        let restrict = move || -> std::result::Result<(), String> {
            let fail = |e: &dyn std::fmt::Display| format!("cannot confine the recipe: {e}");
            let mut ruleset = Ruleset::default()
                .handle_access(handled)
                .and_then(|r| r.scope(Scope::Signal))
                .and_then(|r| r.create())
                .map_err(|e| fail(&e))?;
            for d in &dirs {
                let fd = PathFd::new(d).map_err(|e| fail(&e))?;
                ruleset = ruleset
                    .add_rule(PathBeneath::new(fd, handled))
                    .map_err(|e| fail(&e))?;
            }
            for f in &files {
                let fd = PathFd::new(f).map_err(|e| fail(&e))?;
                ruleset = ruleset
                    .add_rule(PathBeneath::new(fd, file_rights))
                    .map_err(|e| fail(&e))?;
            }
            ruleset.restrict_self().map_err(|e| fail(&e))?;
            Ok(())
        };
        std::thread::Builder::new()
            .name("parity-launcher".into())
            .spawn(move || {
                let confined = restrict();
                for (recipe, started) in rx {
                    let _ = started.send(match &confined {
                        Ok(()) => recipe.spawn(),
                        Err(e) => Err(e.clone()),
                    });
                }
            })
            .map_err(io("start a thread for", &slot.dir))?;
        Ok(Launcher { jobs })
    }

    /// Only Landlock slots have a launcher, and Landlock exists only on Linux.
    #[cfg(not(target_os = "linux"))]
    fn start(_: &Slot) -> Result<Launcher> {
        Err(Error::Internal("a launcher without Landlock".into()))
    }

    /// Starts `recipe` from the confined thread.
    fn spawn(&self, recipe: Recipe) -> std::result::Result<(process::Running, bool), String> {
        let (started, reply) = std::sync::mpsc::sync_channel(1);
        self.jobs
            .send((recipe, started))
            .map_err(|_| "the recipe launcher has stopped".to_string())?;
        reply
            .recv()
            .map_err(|_| "the recipe launcher has stopped".to_string())?
    }
}

fn symlink(target: &str, link: &Path) -> Result<()> {
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(target, link);
    #[cfg(not(unix))]
    let made: std::io::Result<()> = Err(std::io::Error::other("symbolic links need Unix"));
    match made {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("link", link, e)),
    }
}

/// Moves `cache/tmp` aside and deletes it, unless the last build left it clean for slots of
/// the same kind (then they are reused as they are). A build killed with `kill -9` may have
/// left recipes running there: they keep their (deleted) directories and never see new ones.
pub(crate) fn sweep(tmp: &Path, tag: &str) -> Result<()> {
    let clean = tmp.join(".clean");
    let reusable = std::fs::read(&clean).is_ok_and(|t| t == tag.as_bytes());
    match std::fs::remove_file(&clean) {
        Ok(()) if reusable => return Ok(()),
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("remove", &clean, e)),
    }
    let cache = fsutil::parent_dir(tmp);
    if std::fs::symlink_metadata(tmp).is_ok() {
        let aside = cache.join(format!(
            "tmp-stale-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        std::fs::rename(tmp, &aside).map_err(|e| Error::io("move aside", tmp, e))?;
    }
    // This one and any an earlier sweep could not finish.
    if let Ok(entries) = std::fs::read_dir(cache) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("tmp-stale-") {
                let _ = fsutil::remove_any(&e.path());
            }
        }
    }
    Ok(())
}

/// Marks `cache/tmp` as left clean, for slots of kind `tag`, by a build whose recipes have
/// all ended.
pub(crate) fn mark_clean(tmp: &Path, tag: &str) {
    if tmp.is_dir() {
        let _ = std::fs::write(tmp.join(".clean"), tag.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace with `a.txt` and an executable `script.sh` without `#!`, a pool over it and
    /// one slot prepared for both.
    fn slot_over(dir: &Path) -> (Pool, Slot) {
        std::fs::write(dir.join("a.txt"), "a\n").unwrap();
        let script = dir.join("script.sh");
        std::fs::write(&script, "echo from the script > ../out/0-b\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let pool = Pool::new(dir.join("cache/tmp"), dir, dir);
        let mut slot = pool.take().unwrap();
        let inputs = ["a.txt", "script.sh"].map(|name| (name.to_string(), dir.join(name)));
        slot.prepare(&inputs).unwrap();
        (pool, slot)
    }

    #[test]
    fn a_simple_command_runs_without_a_shell_and_anything_else_with_one() {
        let dir = tempfile::tempdir().unwrap();
        let (_pool, mut slot) = slot_over(dir.path());
        let vars = [("PATH".to_string(), DEFAULT_PATH.to_string())];
        let cancel = AtomicBool::new(false);
        let out = slot.dir.join("out/0-b");
        let mut run = |script: &str| {
            let ended = slot.run(script, &vars, DEFAULT_TIMEOUT, &cancel).unwrap();
            assert!(ended.is_ok(), "{script}: {ended:?}");
            let text = std::fs::read_to_string(&out).unwrap();
            std::fs::remove_file(&out).unwrap();
            (slot.ran_direct, text)
        };
        assert_eq!(run("cp a.txt ../out/0-b"), (true, "a\n".into()));
        assert_eq!(run("cat a.txt a.txt > ../out/0-b"), (true, "a\na\n".into()));
        // The shell's `echo` turns `\t` into a tab; coreutils' would not.
        assert_eq!(run("echo 'x\\ty' > ../out/0-b"), (false, "x\ty\n".into()));
        assert_eq!(
            run("cat a.txt | tr a b > ../out/0-b"),
            (false, "b\n".into())
        );
        // A script without `#!` cannot be started directly: the shell runs it, as it would.
        assert_eq!(run("./script.sh"), (false, "from the script\n".into()));
        assert_eq!(
            run("printenv PWD HOME > ../out/0-b"),
            (
                true,
                format!(
                    "{}\n{}\n",
                    std::fs::canonicalize(dir.path().join("cache/tmp/w0/root"))
                        .unwrap()
                        .display(),
                    std::path::absolute(dir.path().join("cache/tmp/w0/home"))
                        .unwrap()
                        .display()
                )
            )
        );
    }

    #[test]
    fn a_simple_command_the_shell_must_explain_goes_to_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let (_pool, mut slot) = slot_over(dir.path());
        let vars = [("PATH".to_string(), DEFAULT_PATH.to_string())];
        let cancel = AtomicBool::new(false);
        let ended = slot
            .run("no-such-program-x a.txt", &vars, DEFAULT_TIMEOUT, &cancel)
            .unwrap();
        assert!(matches!(ended, Err(Ended::Failed(Some(127)))), "{ended:?}");
        assert!(!slot.ran_direct);
        assert!(slot.tail().contains("not found"), "{}", slot.tail());
        // A `>` the sandbox refuses: the shell reports it, as it would have.
        let ended = slot
            .run("cat a.txt > a.txt", &vars, DEFAULT_TIMEOUT, &cancel)
            .unwrap();
        if matches!(Isolation::current(), Isolation::Landlock { .. }) {
            assert!(matches!(ended, Err(Ended::Failed(Some(2)))), "{ended:?}");
            assert!(!slot.ran_direct);
            assert!(slot.tail().contains("cannot create"), "{}", slot.tail());
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
            "a\n"
        );
    }
}
