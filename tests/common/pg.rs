//! A real PostgreSQL for tests: Debian's `postgresql` binaries, a cluster made with `initdb` in
//! a temp dir and started with `pg_ctl`, listening on a Unix socket in that dir only (no TCP
//! port, so no port race), stopped on drop. The server refuses to run as root: when the tests
//! run as root, the cluster is made and run as the unprivileged `postgres` user.
//!
//! Skipped (with a note) when the binaries are not installed, failed when they are missing
//! under `CI=true` (`.ci/run` installs `postgresql`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where Debian puts the server binaries (`/usr/lib/postgresql/<major>/bin`).
fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// Whether a PostgreSQL server can be started. Missing binaries panic under `CI=true`.
pub fn require_pg() -> bool {
    if bin_dir().is_some() {
        return true;
    }
    let msg = "PostgreSQL server binaries not installed (apt-get install postgresql)";
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and {msg}");
    eprintln!("note: skipping this test: {msg}");
    false
}

/// `(uid, gid)` of the `postgres` user when running as root.
fn run_as() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let out = Command::new("id").args(["-u", "postgres"]).output().ok()?;
    let uid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    let out = Command::new("id").args(["-g", "postgres"]).output().ok()?;
    let gid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some((uid, gid))
}

/// A running PostgreSQL cluster.
pub struct Pg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    databases: AtomicUsize,
}

impl Pg {
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.user {
            c.uid(uid).gid(gid);
        }
        c.env("LC_ALL", "C").env_remove("PGDATA");
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The socket directory (the `host` of a connection string).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// initdb + pg_ctl start; panics with the server's log when it does not come up.
    pub fn start() -> Pg {
        let bin = bin_dir().expect("require_pg() first");
        let dir = tempfile::Builder::new().prefix("shipwatch-pg").tempdir().unwrap();
        let user = run_as();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let pg = Pg { dir, bin, user, databases: AtomicUsize::new(0) };
        let out = pg
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"])
            .arg(pg.data())
            .output()
            .expect("run initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c port=5432 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            pg.socket_dir().display()
        );
        let log = pg.dir.path().join("server.log");
        let out = pg
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(pg.data())
            .arg("-l")
            .arg(&log)
            .args(["-o", &opts, "start"])
            .output()
            .expect("run pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        pg
    }

    /// A connection string for database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("host={} port=5432 user=postgres dbname={db}", self.socket_dir().display())
    }

    /// A new, empty database; its connection string.
    pub fn database(&self) -> String {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::SeqCst));
        let mut c = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).expect("connect");
        c.batch_execute(&format!("CREATE DATABASE {name}")).expect("create database");
        self.url(&name)
    }

    /// A client of database `url` (for a test's own SQL).
    pub fn client(url: &str) -> postgres::Client {
        postgres::Client::connect(url, postgres::NoTls).expect("connect")
    }
}

impl Pg {
    /// Stop the server now (immediate shutdown).
    pub fn stop(&self) {
        let _ = self.command("pg_ctl").args(["-m", "immediate", "-D"]).arg(self.data()).arg("stop").output();
    }

    /// One server for the whole test binary, stopped when the process exits; None when
    /// PostgreSQL is not installed (see [`require_pg`]).
    pub fn shared() -> Option<&'static Pg> {
        static SHARED: std::sync::OnceLock<Pg> = std::sync::OnceLock::new();
        extern "C" fn stop_shared() {
            if let Some(pg) = SHARED.get() {
                pg.stop();
                let _ = std::fs::remove_dir_all(pg.dir.path());
            }
        }
        if !require_pg() {
            return None;
        }
        Some(SHARED.get_or_init(|| {
            // SAFETY: registers a plain extern "C" function, run once at process exit.
            unsafe { libc::atexit(stop_shared) };
            Pg::start()
        }))
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.stop();
    }
}
