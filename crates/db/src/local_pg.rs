//! Zero-setup private PostgreSQL cluster: `initdb` + `pg_ctl` on a data directory of our own,
//! reachable only through a unix socket placed inside that directory (no TCP, no port clashes).
//!
//! Used by the server and the tests when `DATABASE_URL` is unset. Synchronous: it only runs the
//! PostgreSQL command-line tools.
#![warn(missing_docs)]

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tracing::{debug, info};

/// Port of the server; with TCP off it only names the socket file `.s.PGSQL.5432`.
const PORT: &str = "5432";
/// Linux `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
/// How long to wait for a server to accept connections, in seconds.
const READY_TIMEOUT_SECS: u64 = 30;
/// OS user the server runs as when we are root, and the database superuser.
const PG_USER: &str = "postgres";
/// Debian's home of the versioned server bin directories.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
/// What a server bin directory must contain.
const SERVER_BINARIES: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Everything that can go wrong while finding, creating, starting or stopping a cluster.
#[derive(Debug, thiserror::Error)]
pub enum LocalPgError {
    /// No directory holding `initdb`, `pg_ctl` and `postgres` was found.
    #[error(
        "no PostgreSQL server binaries found: install PostgreSQL server binaries (e.g. `apt-get install postgresql`) or set DATABASE_URL to an existing database"
    )]
    BinariesNotFound,
    /// `CRM_PG_BIN_DIR` is set to a directory without the server binaries.
    #[error(
        "CRM_PG_BIN_DIR={} lacks initdb, pg_ctl or postgres: point it at the server bin directory (e.g. /usr/lib/postgresql/15/bin) or unset it",
        .0.display()
    )]
    BadBinDir(PathBuf),
    /// A file-system operation on the path failed.
    #[error("{}: {}", .0.display(), .1)]
    Io(PathBuf, #[source] io::Error),
    /// A command (first field) could not be run or failed; the second field says how.
    #[error("`{0}` failed: {1}")]
    Command(String, String),
    /// Running as root, the `postgres` OS user cannot enter this parent of the data directory.
    #[error(
        "the `postgres` OS user cannot enter {}, a parent of the data directory: run `chmod o+x {}` or put the data directory elsewhere (e.g. under /tmp)",
        .0.display(), .0.display()
    )]
    ParentNotTraversable(PathBuf),
    /// The socket path inside the data directory (and its length) exceeds the unix-socket limit.
    #[error(
        "socket path {} is {} bytes, over the {MAX_SOCKET_PATH}-byte unix-socket limit: use a shorter data directory path",
        .0.display(), .1
    )]
    SocketPathTooLong(PathBuf, usize),
    /// The server in the data directory did not accept connections in time (with the log tail).
    #[error(
        "the server in {} did not accept connections within {READY_TIMEOUT_SECS}s; the end of its server.log:\n{}",
        .0.display(), .1
    )]
    NotReady(PathBuf, String),
    /// `stop_and_remove_when_process_exits` was called on a cluster not started as throwaway.
    #[error("refusing to delete {} on exit: it was not started with `throwaway: true`", .0.display())]
    NotThrowaway(PathBuf),
}

/// Where the server binaries live: `$CRM_PG_BIN_DIR` if set, else the directory of
/// `postgres`/`initdb` on `PATH` (symlinks resolved), else `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/<version>/bin`. It must contain `initdb`, `pg_ctl` and `postgres`.
pub fn find_bin_dir() -> Result<PathBuf, LocalPgError> {
    let env_dir = std::env::var_os("CRM_PG_BIN_DIR");
    let path = std::env::var_os("PATH").unwrap_or_default();
    resolve_bin_dir(env_dir, &path, "pg_config", Path::new(DEBIAN_ROOT))
}

fn resolve_bin_dir(
    env_dir: Option<OsString>,
    path: &OsStr,
    pg_config: &str,
    versions_root: &Path,
) -> Result<PathBuf, LocalPgError> {
    if let Some(dir) = env_dir.filter(|d| !d.is_empty()).map(PathBuf::from) {
        return match has_server_binaries(&dir) {
            true => Ok(dir),
            false => Err(LocalPgError::BadBinDir(dir)),
        };
    }
    // Debian may put symlinks on PATH; the real directory also holds pg_isready.
    let on_path = std::env::split_paths(path)
        .flat_map(|dir| [dir.join("postgres"), dir.join("initdb")])
        .filter_map(|exe| Some(exe.canonicalize().ok()?.parent()?.to_path_buf()));
    let from_pg_config = std::iter::once_with(|| {
        let out = output(Command::new(pg_config).arg("--bindir")).ok()?;
        let dir = PathBuf::from(OsStr::from_bytes(out.stdout.trim_ascii()));
        out.status.success().then_some(dir)
    });
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(versions_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let parts = name.to_str()?.split('.').map(|part| part.parse().ok());
            Some((parts.collect::<Option<_>>()?, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    on_path
        .chain(from_pg_config.flatten())
        .chain(versions.into_iter().rev().map(|(_, dir)| dir))
        .find(|dir| has_server_binaries(dir))
        .ok_or(LocalPgError::BinariesNotFound)
}

fn has_server_binaries(dir: &Path) -> bool {
    SERVER_BINARIES.iter().all(|exe| dir.join(exe).is_file())
}

/// A fresh, empty, short, unique directory `/tmp/crm-pg-<pid>-<n>` for a throwaway test cluster.
pub fn throwaway_dir() -> Result<PathBuf, LocalPgError> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = PathBuf::from(format!("/tmp/crm-pg-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            // Left behind by an earlier process that had our pid: take the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(LocalPgError::Io(dir, e)),
        }
    }
}

/// What [`LocalPg::start`] should run.
#[derive(Debug, Clone)]
pub struct LocalPgOptions {
    /// Cluster data directory (created if missing). The server's unix socket is placed in it too.
    pub data_dir: PathBuf,
    /// Throwaway cluster (tests): fsync, synchronous_commit and full_page_writes off, and no
    /// sync after initdb. Never for the dev server's data directory.
    pub throwaway: bool,
}

/// A running private cluster, started or reused by [`LocalPg::start`].
#[derive(Debug)]
pub struct LocalPg {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    throwaway: bool,
    /// Whether this handle started the server (and so may stop it).
    started_here: bool,
    /// `Some("postgres")` when we are root: initdb and pg_ctl refuse to run as root.
    run_as: Option<&'static str>,
}

impl LocalPg {
    /// Initialise the cluster if the data directory has none (`initdb -U postgres --auth=trust
    /// -E UTF8`, locale C.UTF-8 or C), start it unless already running (then reuse it) and wait
    /// until it accepts connections. The server listens only on a unix socket in the data
    /// directory (port 5432, `max_connections=200`). As root, the data directory is chowned to
    /// `postgres` and the tools run through `runuser -u postgres --`.
    pub fn start(opts: LocalPgOptions) -> Result<LocalPg, LocalPgError> {
        let began = Instant::now();
        let bin_dir = find_bin_dir()?;
        let data_dir = std::path::absolute(&opts.data_dir)
            .map_err(|e| LocalPgError::Io(opts.data_dir.clone(), e))?;
        let socket = data_dir.join(format!(".s.PGSQL.{PORT}"));
        let len = socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(LocalPgError::SocketPathTooLong(socket, len));
        }
        let run_as = is_root()?.then_some(PG_USER);
        std::fs::create_dir_all(&data_dir).map_err(|e| LocalPgError::Io(data_dir.clone(), e))?;
        let throwaway = opts.throwaway;
        let mut pg = LocalPg {
            bin_dir,
            data_dir,
            throwaway,
            started_here: false,
            run_as,
        };
        if let Some(user) = run_as {
            pg.check_parents_traversable(user)?;
            let owner = format!("{user}:");
            run(Command::new("chown").arg(owner).arg(&pg.data_dir))?;
        }
        let created = !pg.data_dir.join("PG_VERSION").exists();
        if created {
            pg.initdb()?;
        }
        if !pg.is_running()? {
            match run(&mut pg.pg_ctl_start()) {
                Ok(_) => pg.started_here = true,
                // Another process may have started it since our status check.
                Err(_) if pg.is_running()? => {}
                Err(LocalPgError::Command(cmd, detail)) => {
                    let detail = format!("{detail}\nend of server.log:\n{}", pg.log_tail());
                    return Err(LocalPgError::Command(cmd, detail));
                }
                Err(e) => return Err(e),
            }
        }
        pg.wait_until_ready()?;
        let action = match (created, pg.started_here) {
            (true, _) => "created and started",
            (false, true) => "started",
            (false, false) => "reused already running",
        };
        let (dir, url) = (pg.data_dir.display(), pg.database_url("postgres"));
        let elapsed_ms = began.elapsed().as_millis();
        info!(data_dir = %dir, %url, elapsed_ms, "{action} local PostgreSQL cluster");
        Ok(pg)
    }

    /// Connection URL for `database` on this cluster, accepted by libpq (psql) and tokio-postgres:
    /// `postgresql://postgres@/<db>?host=<percent-encoded data dir>`. The host part is left empty
    /// on purpose: tokio-postgres would try a `localhost` host (TCP) before the socket directory.
    pub fn database_url(&self, database: &str) -> String {
        let db = percent_encode(database.as_bytes());
        let host = percent_encode(self.data_dir.as_os_str().as_bytes());
        format!("postgresql://{PG_USER}@/{db}?host={host}")
    }

    /// The cluster's data directory (absolute).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stop the cluster (`pg_ctl stop -m fast`) if this handle started it; a no-op if it reused
    /// a server someone else started.
    pub fn stop(&self) -> Result<(), LocalPgError> {
        let dir = self.data_dir.display();
        if !self.started_here {
            debug!(data_dir = %dir, "not stopping a cluster this handle did not start");
            return Ok(());
        }
        match run(self.pg_ctl("stop").args(["-m", "fast", "-w", "-t", "30"])) {
            Ok(_) => {}
            Err(_) if !self.is_running()? => {}
            Err(e) => return Err(e),
        }
        info!(data_dir = %dir, "stopped local PostgreSQL cluster");
        Ok(())
    }

    /// For throwaway test clusters: spawn a detached watchdog that, once this process has exited
    /// (however it exits), stops the cluster (`-m immediate`) and deletes its data directory.
    pub fn stop_and_remove_when_process_exits(&self) -> Result<(), LocalPgError> {
        self.spawn_watchdog(std::process::id()).map(drop)
    }

    /// For throwaway clusters shared by several processes (the test binaries of one `cargo
    /// test` run): spawn a detached watchdog that stops the cluster and deletes its data
    /// directory once no process has held `users` (a lock file each user holds with a shared
    /// `flock` for its lifetime) for `idle_secs` seconds in a row. The watchdog holds `users`
    /// exclusively while it stops and deletes, so a process that comes then waits and starts a
    /// fresh cluster. At most one watchdog runs per data directory (`<users>.watchdog` lock).
    pub fn stop_and_remove_when_unused(
        &self,
        users: &Path,
        idle_secs: u32,
    ) -> Result<Child, LocalPgError> {
        if !self.throwaway {
            return Err(LocalPgError::NotThrowaway(self.data_dir.clone()));
        }
        // fd 8 keeps the watchdog alone; fd 9 is the users' lock, taken exclusively only to
        // look (and released at once) until the cluster has been idle long enough. fd 8 is let
        // go before the teardown: no user can come in before it ends, and the next one must be
        // able to start a new watchdog.
        let script = r#"users=$1 dir=$2 idle_max=$3; shift 3
            exec 8>>"$users.watchdog"; flock -n 8 || exit 0
            exec 9>>"$users"; idle=0
            while :; do
                sleep 1
                if flock -n -x 9; then
                    idle=$((idle + 1))
                    if [ "$idle" -ge "$idle_max" ]; then
                        flock -u 8; "$@" stop -D "$dir" -m immediate -w; rm -rf "$dir"; exit 0
                    fi
                    flock -u 9
                else
                    idle=0
                fi
            done"#;
        let idle = idle_secs.to_string();
        self.spawn_detached(
            script,
            [users.as_os_str(), self.data_dir.as_os_str(), idle.as_ref()],
        )
    }

    fn spawn_watchdog(&self, pid: u32) -> Result<Child, LocalPgError> {
        if !self.throwaway {
            return Err(LocalPgError::NotThrowaway(self.data_dir.clone()));
        }
        // The pid, the data dir and the pg_ctl command come in as arguments: no quoting needed.
        let script = r#"pid=$1 dir=$2; shift 2; while kill -0 "$pid" 2>/dev/null; do sleep 1; done
            "$@" stop -D "$dir" -m immediate -w; rm -rf "$dir""#;
        let pid = pid.to_string();
        self.spawn_detached(script, [pid.as_ref(), self.data_dir.as_os_str()])
    }

    /// Runs the watchdog `script` with `args` followed by the `pg_ctl` command (as `"$@"` after
    /// the script's shifts), detached: null stdio so `cargo test` is not kept waiting on its
    /// output pipes, an own process group so a Ctrl-C aimed at the test run does not kill the
    /// watchdog before it cleans up.
    fn spawn_detached<'a>(
        &self,
        script: &str,
        args: impl IntoIterator<Item = &'a OsStr>,
    ) -> Result<Child, LocalPgError> {
        let pg_ctl = self.pg_cmd("pg_ctl");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script, "sh"]).args(args);
        cmd.arg(pg_ctl.get_program()).args(pg_ctl.get_args());
        let null = Stdio::null;
        cmd.stdin(null()).stdout(null()).stderr(null());
        cmd.current_dir("/").process_group(0);
        cmd.spawn().map_err(|e| not_run(&cmd, e))
    }

    /// A command running a server binary, as the `postgres` user when we are root.
    fn pg_cmd(&self, program: &str) -> Command {
        let exe = self.bin_dir.join(program);
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        // Our cwd may be unreadable to the postgres user, and the tools complain about that.
        cmd.current_dir("/");
        cmd
    }

    /// `pg_ctl <action> -D <data dir>`.
    fn pg_ctl(&self, action: &str) -> Command {
        let mut cmd = self.pg_cmd("pg_ctl");
        cmd.args([action, "-D"]).arg(&self.data_dir);
        cmd
    }

    fn check_parents_traversable(&self, user: &str) -> Result<(), LocalPgError> {
        let mut parents: Vec<&Path> = self.data_dir.ancestors().skip(1).collect();
        parents.reverse();
        let script = r#"for d in "$@"; do [ -x "$d" ] || { printf %s "$d"; exit 1; }; done"#;
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", user, "--", "sh", "-c", script, "sh"]);
        cmd.args(parents);
        let out = output(cmd.current_dir("/"))?;
        match (out.status.success(), out.stdout.is_empty()) {
            (true, _) => Ok(()),
            (false, false) => {
                let dir = PathBuf::from(OsString::from_vec(out.stdout));
                Err(LocalPgError::ParentNotTraversable(dir))
            }
            (false, true) => Err(failure(format!("{cmd:?}"), &out)),
        }
    }

    fn initdb(&self) -> Result<(), LocalPgError> {
        let locales = output(Command::new("locale").arg("-a")).map(|o| o.stdout);
        let locales = String::from_utf8_lossy(&locales.unwrap_or_default()).to_lowercase();
        let c_utf8 = locales.lines().any(|l| l == "c.utf8" || l == "c.utf-8");
        let mut cmd = self.pg_cmd("initdb");
        cmd.arg("-D").arg(&self.data_dir);
        cmd.args(["-U", PG_USER, "--auth=trust", "-E", "UTF8"]);
        let locale = if c_utf8 { "C.UTF-8" } else { "C" };
        cmd.arg(format!("--locale={locale}"));
        if self.throwaway {
            cmd.arg("--no-sync");
        }
        run(&mut cmd).map(drop)
    }

    fn pg_ctl_start(&self) -> Command {
        // Passed on every start rather than written at initdb, so reused data dirs get them too.
        // pg_ctl hands this string to /bin/sh, hence the quoting.
        let settings = "-c listen_addresses= -c max_connections=200 -c unix_socket_directories=";
        let mut opts = OsString::from(format!("-p {PORT} {settings}"));
        opts.push(sh_quote(self.data_dir.as_os_str()));
        if self.throwaway {
            opts.push(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let mut cmd = self.pg_ctl("start");
        let log = self.data_dir.join("server.log");
        cmd.args(["-w", "-t", "30", "-l"]).arg(log);
        cmd.arg("-o").arg(opts);
        cmd
    }

    /// `pg_ctl status`: exit 0 means running, 3 means not running.
    fn is_running(&self) -> Result<bool, LocalPgError> {
        let mut cmd = self.pg_ctl("status");
        match output(&mut cmd)?.status.code() {
            Some(0) => Ok(true),
            Some(3) => Ok(false),
            _ => run(&mut cmd).map(|_| true),
        }
    }

    fn wait_until_ready(&self) -> Result<(), LocalPgError> {
        let began = Instant::now();
        loop {
            let mut cmd = Command::new(self.bin_dir.join("pg_isready"));
            cmd.args(["-q", "-p", PORT, "-U", PG_USER, "-h"]);
            cmd.arg(&self.data_dir);
            if output(&mut cmd).is_ok_and(|out| out.status.success()) {
                return Ok(());
            }
            if began.elapsed() > Duration::from_secs(READY_TIMEOUT_SECS) {
                let dir = self.data_dir.clone();
                return Err(LocalPgError::NotReady(dir, self.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read(self.data_dir.join("server.log")).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

fn is_root() -> Result<bool, LocalPgError> {
    Ok(run(Command::new("id").arg("-u"))?.stdout.trim_ascii() == b"0")
}

/// Runs `cmd` to completion with stdin closed; only failing to run it is an error.
fn output(cmd: &mut Command) -> Result<Output, LocalPgError> {
    debug!(command = ?cmd, "running");
    let out = cmd.stdin(Stdio::null()).output();
    out.map_err(|e| not_run(cmd, e))
}

/// Runs `cmd` to completion; failing to run it or a non-zero exit is an error.
fn run(cmd: &mut Command) -> Result<Output, LocalPgError> {
    let out = output(cmd)?;
    match out.status.success() {
        true => Ok(out),
        false => Err(failure(format!("{cmd:?}"), &out)),
    }
}

/// The error for a command that could not be run at all.
fn not_run(cmd: &Command, e: io::Error) -> LocalPgError {
    LocalPgError::Command(format!("{cmd:?}"), e.to_string())
}

/// The error for a command that exited unsuccessfully: its status, stderr and stdout.
fn failure(command: String, out: &Output) -> LocalPgError {
    let mut detail = out.status.to_string();
    for stream in [&out.stderr, &out.stdout] {
        let text = String::from_utf8_lossy(stream);
        if !text.trim().is_empty() {
            detail = format!("{detail}: {}", text.trim());
        }
    }
    LocalPgError::Command(command, detail)
}

/// Single-quotes `s` for `sh`.
fn sh_quote(s: &OsStr) -> OsString {
    let parts: Vec<&[u8]> = s.as_bytes().split(|&b| b == b'\'').collect();
    OsString::from_vec([&b"'"[..], &parts.join(&b"'\\''"[..]), b"'"].concat())
}

/// Percent-encodes every byte that is not an RFC 3986 unreserved character.
fn percent_encode(bytes: &[u8]) -> String {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    let encode = |b: u8| match unreserved(b) {
        true => char::from(b).to_string(),
        false => format!("%{b:02X}"),
    };
    bytes.iter().map(|&b| encode(b)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn opts(data_dir: PathBuf) -> LocalPgOptions {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        LocalPgOptions {
            data_dir,
            throwaway: true,
        }
    }

    fn throwaway() -> LocalPg {
        let pg = LocalPg::start(opts(throwaway_dir().unwrap())).unwrap();
        pg.stop_and_remove_when_process_exits().unwrap();
        pg
    }

    fn psql(url: &str, sql: &str) -> String {
        let out = Command::new("psql").args([url, "-XAtqc", sql]).output();
        let out = out.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn starts_with_our_settings_and_answers_psql() {
        let pg = throwaway();
        assert!(pg.started_here);
        let url = pg.database_url("postgres");
        let dir = pg.data_dir().to_str().unwrap().replace('/', "%2F");
        assert_eq!(url, format!("postgresql://postgres@/postgres?host={dir}"));
        assert_eq!(psql(&url, "select 1"), "1");
        let show = "select concat_ws('|', current_setting('listen_addresses'), \
            current_setting('max_connections'), current_setting('fsync'))";
        assert_eq!(psql(&url, show), "|200|off");
        pg.stop().unwrap();
        assert!(!pg.is_running().unwrap());
    }

    #[test]
    fn second_start_reuses_and_restart_keeps_data() {
        let first = throwaway();
        let url = first.database_url("postgres");
        let second = LocalPg::start(opts(first.data_dir.clone())).unwrap();
        assert!(!second.started_here);
        second.stop().unwrap(); // a no-op: `first` started the server
        let keeper = LocalPg {
            throwaway: false,
            ..second
        };
        let refused = keeper.stop_and_remove_when_process_exits();
        assert!(matches!(refused, Err(LocalPgError::NotThrowaway(_))));
        psql(
            &url,
            "create table kept (x int); insert into kept values (42)",
        );
        first.stop().unwrap();
        assert!(!first.is_running().unwrap());
        let again = LocalPg::start(opts(first.data_dir.clone())).unwrap();
        assert!(again.started_here);
        assert_eq!(psql(&url, "select x from kept"), "42");
        again.stop().unwrap();
        again.stop().unwrap(); // stopping a stopped cluster is fine
    }

    #[test]
    fn finds_bin_dir_on_path_or_under_usr_lib_postgresql() {
        assert!(has_server_binaries(&find_bin_dir().unwrap()));
        let debian = Path::new("/usr/lib/postgresql/15/bin");
        let (root, none, no_path) = (
            Path::new("/usr/lib/postgresql"),
            "/nonexistent",
            OsStr::new(""),
        );
        // PATH and pg_config out of the way: the /usr/lib/postgresql fallback alone.
        assert_eq!(resolve_bin_dir(None, no_path, none, root).unwrap(), debian);
        // This machine has /usr/local/bin/postgres -> /usr/lib/postgresql/15/bin/postgres.
        let path = OsStr::new("/nonexistent:/usr/local/bin:/usr/bin");
        let found = resolve_bin_dir(None, path, none, Path::new(none));
        assert_eq!(found.unwrap(), debian);
        let err = resolve_bin_dir(None, no_path, none, Path::new(none)).unwrap_err();
        assert!(matches!(err, LocalPgError::BinariesNotFound));
        let advice = "install PostgreSQL server binaries (e.g. `apt-get install postgresql`) \
            or set DATABASE_URL to an existing database";
        assert!(err.to_string().ends_with(advice), "{err}");
        let err = resolve_bin_dir(Some(none.into()), no_path, none, root).unwrap_err();
        assert!(matches!(err, LocalPgError::BadBinDir(_)));
        // Numeric order, and only complete directories count.
        let fake = throwaway_dir().unwrap();
        for (version, exes) in [("9.6", 3), ("10", 3), ("16", 2), ("latest", 3)] {
            let bin = fake.join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            for exe in ["postgres", "initdb", "pg_ctl"].into_iter().take(exes) {
                std::fs::write(bin.join(exe), "").unwrap();
            }
        }
        let found = resolve_bin_dir(None, no_path, none, &fake);
        std::fs::remove_dir_all(&fake).unwrap();
        assert_eq!(found.unwrap(), fake.join("10/bin"));
    }

    #[test]
    fn bad_data_dirs_give_clear_errors() {
        let too_long = PathBuf::from(format!("/tmp/{}", "x".repeat(100)));
        let err = LocalPg::start(opts(too_long)).unwrap_err();
        assert!(
            matches!(err, LocalPgError::SocketPathTooLong(_, 119)),
            "{err}"
        );
        if !is_root().unwrap() {
            return; // only root runs the server as another user
        }
        let locked = throwaway_dir().unwrap();
        run(Command::new("chmod").arg("0700").arg(&locked)).unwrap();
        let err = LocalPg::start(opts(locked.join("data"))).unwrap_err();
        std::fs::remove_dir_all(&locked).unwrap();
        let hint = format!("chmod o+x {}", locked.display());
        assert!(err.to_string().contains(&hint), "{err}");
        assert!(matches!(err, LocalPgError::ParentNotTraversable(dir) if dir == locked));
    }

    #[test]
    fn watchdog_stops_and_removes_after_watched_process_exits() {
        let pg = LocalPg::start(opts(throwaway_dir().unwrap())).unwrap();
        let pid_file = std::fs::read_to_string(pg.data_dir.join("postmaster.pid")).unwrap();
        let postmaster = pid_file.lines().next().unwrap().to_owned();
        let mut watched = Command::new("sleep").arg("60").spawn().unwrap();
        let mut watchdog = pg.spawn_watchdog(watched.id()).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        assert!(pg.is_running().unwrap(), "watchdog acted too early");
        watched.kill().unwrap();
        watched.wait().unwrap(); // a zombie would still pass `kill -0`
        let began = Instant::now();
        while watchdog.try_wait().unwrap().is_none() && began.elapsed().as_secs() < 10 {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            !pg.data_dir.exists(),
            "still there after {:?}",
            began.elapsed()
        );
        // The orphaned postmaster may linger as a zombie, which counts as stopped.
        let stat = std::fs::read_to_string(format!("/proc/{postmaster}/stat"));
        let stat = stat.unwrap_or_default();
        let state = stat.rsplit(") ").next().unwrap_or_default();
        assert!(
            stat.is_empty() || state.starts_with(['Z', 'X']),
            "alive: {stat}"
        );
    }

    #[test]
    fn shared_cluster_is_removed_only_once_nobody_uses_it() {
        let pg = LocalPg::start(opts(throwaway_dir().unwrap())).unwrap();
        let users = pg.data_dir.with_extension("users");
        let user = std::fs::File::create(&users).unwrap();
        user.lock_shared().unwrap();
        let first = pg.stop_and_remove_when_unused(&users, 1).unwrap();
        let second = pg.stop_and_remove_when_unused(&users, 1).unwrap();
        // Of two watchdogs for one directory, one steps aside at once.
        let mut watchdogs = [first, second];
        std::thread::sleep(Duration::from_millis(2500));
        let running: Vec<bool> = watchdogs
            .iter_mut()
            .map(|w| w.try_wait().unwrap().is_none())
            .collect();
        assert_eq!(running.iter().filter(|r| **r).count(), 1, "{running:?}");
        let [first, second] = watchdogs;
        let mut watchdog = if running[0] { first } else { second };
        assert!(pg.is_running().unwrap(), "stopped while in use");
        drop(user);
        let began = Instant::now();
        while watchdog.try_wait().unwrap().is_none() && began.elapsed().as_secs() < 10 {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            !pg.data_dir.exists(),
            "still there after {:?}",
            began.elapsed()
        );
        // The next user waits for the teardown, then gets the lock.
        let user = std::fs::File::open(&users).unwrap();
        user.lock_shared().unwrap();
        drop(user);
        std::fs::remove_file(&users).unwrap();
        std::fs::remove_file(users.with_extension("users.watchdog")).unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tokio_postgres_connects_with_the_url() {
        use tokio_postgres::{NoTls, config::Host};
        let pg = throwaway();
        let url = pg.database_url("postgres");
        let config: tokio_postgres::Config = url.parse().unwrap();
        // Only the socket directory: no TCP host to be tried first.
        assert_eq!(config.get_hosts(), [Host::Unix(pg.data_dir.clone())]);
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(connection);
        let row = client.query_one("select 1::int4", &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 1);
    }
}
