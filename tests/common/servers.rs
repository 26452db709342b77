//! Real Redis and PostgreSQL servers on free loopback ports, each in its own
//! temp folder, started through [`Guarded`] so none outlives the tests.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::free_port;
use super::guard::{self, Guarded, Spawn, TempDir};

/// How many times a server is started on a new port when the one picked by
/// [`free_port`] was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

// ---------------------------------------------------------------------------
// Redis

/// A real `redis-server` on 127.0.0.1 (no persistence), killed on drop.
///
/// The binary is `$OPS_ATOMIC_REDIS_SERVER` or `redis-server` on PATH.
pub struct Redis {
    port: u16,
    password: Option<String>,
    process: Option<Guarded>,
    _dir: TempDir,
}

impl Redis {
    /// Start without a password; returns once it answers PING.
    pub fn start() -> Redis {
        Redis::launch(None, None)
    }

    /// Start with `--requirepass password`; [`Redis::url`] then carries it.
    pub fn start_with_password(password: &str) -> Redis {
        Redis::launch(Some(password), None)
    }

    /// Start on this port (its default, 6379, for `init`'s test); panics
    /// when the port is taken.
    pub fn start_on(port: u16) -> Redis {
        Redis::launch(None, Some(port))
    }

    fn launch(password: Option<&str>, fixed: Option<u16>) -> Redis {
        let program = guard::find_program(
            "redis-server",
            "OPS_ATOMIC_REDIS_SERVER",
            "Install it with `sudo apt-get install -y redis-server` (macOS: `brew install redis`)",
        );
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let dir = TempDir::new("redis");
            let port = fixed.unwrap_or_else(free_port);
            let mut args: Vec<OsString> = [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ]
            .iter()
            .map(OsString::from)
            .collect();
            args.push("--dir".into());
            args.push(dir.path().into());
            if let Some(pw) = password {
                args.push("--requirepass".into());
                args.push(pw.into());
            }
            let process = Guarded::spawn(Spawn {
                name: "redis-server",
                program: &program,
                args,
                stop_signal: "TERM",
                log: &dir.path().join("redis.log"),
                cleanup: None,
                cwd: dir.path(),
                as_server_user: false,
            });
            let mut redis = Redis { port, password: password.map(str::to_string), process: Some(process), _dir: dir };
            if redis.wait_ready() {
                return redis;
            }
            last_log = redis.log();
            // Retry only when the port was taken between free_port() and bind.
            if fixed.is_some() || !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("redis-server did not start:\n{last_log}");
    }

    /// Poll PING until it answers (true) or the process died / 10 s passed.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.process.as_mut().is_some_and(|p| p.exited().is_some()) {
                return false;
            }
            if self.ping().starts_with("+PONG") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer PING within 10 s:\n{}", self.log());
    }

    /// `redis://127.0.0.1:PORT`, or `redis://:PASSWORD@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kill the server now (the port then refuses connections).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.stop();
        }
    }

    /// Send one command over raw RESP (AUTH first when there is a password)
    /// and return the first line of the reply, e.g. `+PONG`; an empty string
    /// when the server cannot be reached.
    pub fn command(&self, args: &[&str]) -> String {
        let Ok(stream) =
            TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], self.port)), Duration::from_secs(1))
        else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut reader = BufReader::new(&stream);
        let mut send = |args: &[&str]| -> String {
            if (&stream).write_all(&resp_command(args)).is_err() {
                return String::new();
            }
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            line.trim_end().to_string()
        };
        if let Some(pw) = &self.password {
            send(&["AUTH", pw]);
        }
        send(args)
    }

    /// [`Redis::command`] with `PING`.
    pub fn ping(&self) -> String {
        self.command(&["PING"])
    }

    /// What redis-server logged so far.
    pub fn log(&self) -> String {
        self.process.as_ref().map(Guarded::log).unwrap_or_default()
    }
}

/// Encode a command as a RESP array of bulk strings.
pub fn resp_command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

// ---------------------------------------------------------------------------
// PostgreSQL

/// A real PostgreSQL cluster: `initdb` into a temp folder, started on a free
/// loopback port with its socket in that folder and `fsync=off`.
///
/// Authentication: `postgres` (superuser) and every other role are trusted,
/// except [`Postgres::PASSWORD_USER`], which must give
/// [`Postgres::PASSWORD`] (scram-sha-256), so a test can check that a wrong
/// password is refused. As root, the cluster runs as the `ops-atomic-test`
/// system user (PostgreSQL refuses root).
///
/// `initdb` takes seconds: use [`Postgres::shared`] unless the test must stop
/// the server or change it; [`Postgres::start`] gives an owned one.
pub struct Postgres {
    port: u16,
    socket_dir: PathBuf,
    process: Option<Guarded>,
    _dir: TempDir,
}

impl Postgres {
    /// The role that needs a password.
    pub const PASSWORD_USER: &'static str = "ops_pw";
    /// Its password (distinctive, so tests can grep outputs for leaks).
    pub const PASSWORD: &'static str = "pg-Pa55-do-not-leak";

    /// One cluster per test binary, started on first use, never dropped: it
    /// is stopped and removed when the test process exits.
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(Postgres::start)
    }

    /// A cluster of one's own, stopped and removed on drop.
    pub fn start() -> Postgres {
        Postgres::launch(None)
    }

    /// Start on this port (its default, 5432, for `init`'s test); panics
    /// when the port is taken.
    pub fn start_on(port: u16) -> Postgres {
        Postgres::launch(Some(port))
    }

    fn launch(fixed: Option<u16>) -> Postgres {
        let bin = pg_bin_dir();
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let dir = guard::server_temp_dir("pg");
            initdb(&bin, dir.path());
            let port = fixed.unwrap_or_else(free_port);
            let data = dir.path().join("data");
            let args: Vec<OsString> = vec![
                "-D".into(),
                data.into(),
                "-p".into(),
                port.to_string().into(),
                "-k".into(),
                dir.path().into(),
                "-c".into(),
                "listen_addresses=127.0.0.1".into(),
                "-c".into(),
                "fsync=off".into(),
                "-c".into(),
                "synchronous_commit=off".into(),
                "-c".into(),
                "full_page_writes=off".into(),
                "-c".into(),
                "shared_buffers=32MB".into(),
            ];
            let process = Guarded::spawn(Spawn {
                name: "postgres",
                program: &bin.join("postgres"),
                args,
                stop_signal: "INT",
                log: &dir.path().join("postgres.log"),
                // The wrapper removes the cluster even when this value is
                // never dropped (the shared instance).
                cleanup: Some(dir.path()),
                cwd: dir.path(),
                as_server_user: true,
            });
            let mut pg = Postgres { port, socket_dir: dir.path().to_path_buf(), process: Some(process), _dir: dir };
            if pg.wait_ready() {
                pg.create_password_user();
                return pg;
            }
            last_log = pg.log();
            if fixed.is_some() || !last_log.contains("already in use") {
                break;
            }
        }
        panic!("postgres did not start:\n{last_log}");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.process.as_mut().is_some_and(|p| p.exited().is_some()) {
                return false;
            }
            if postgres::Client::connect(&self.conninfo(), postgres::NoTls).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("postgres did not accept connections within 60 s:\n{}", self.log());
    }

    fn conninfo(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5", self.port)
    }

    fn create_password_user(&self) {
        let sql = format!(
            "SET password_encryption = 'scram-sha-256'; CREATE ROLE {} LOGIN PASSWORD '{}'",
            Postgres::PASSWORD_USER,
            Postgres::PASSWORD
        );
        self.client().batch_execute(&sql).unwrap_or_else(|e| panic!("create role {}: {e}", Postgres::PASSWORD_USER));
    }

    /// `postgresql://postgres@127.0.0.1:PORT/postgres` (trusted superuser).
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `postgresql://ops_pw:<PASSWORD>@127.0.0.1:PORT/postgres`.
    pub fn password_url(&self) -> String {
        self.url_with_password(Postgres::PASSWORD)
    }

    /// The password user with any password (e.g. a wrong one).
    pub fn url_with_password(&self, password: &str) -> String {
        format!("postgresql://{}:{password}@127.0.0.1:{}/postgres", Postgres::PASSWORD_USER, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Folder of the Unix socket (`-k`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// A superuser connection, to set up tables or roles for a test.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.conninfo(), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to test postgres: {e}\n{}", self.log()))
    }

    /// Stop the server now (fast shutdown); the port then refuses connections.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.stop();
        }
    }

    /// What postgres logged so far.
    pub fn log(&self) -> String {
        self.process.as_ref().map(Guarded::log).unwrap_or_default()
    }
}

/// The PostgreSQL server binaries: `$OPS_ATOMIC_PG_BIN`, else the highest
/// `/usr/lib/postgresql/<version>/bin` holding `postgres` (Debian/Ubuntu),
/// else `pg_config --bindir`, else `postgres` on PATH.
pub fn pg_bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(find_pg_bin_dir).clone()
}

fn find_pg_bin_dir() -> PathBuf {
    const HINT: &str = "Install the server with `sudo apt-get install -y postgresql` (or run scripts/test.sh, which does), or set OPS_ATOMIC_PG_BIN to the folder holding initdb and postgres.";
    let complete = |d: &Path| guard::is_executable(&d.join("postgres")) && guard::is_executable(&d.join("initdb"));
    if let Some(dir) = std::env::var_os("OPS_ATOMIC_PG_BIN") {
        let dir = PathBuf::from(dir);
        assert!(complete(&dir), "OPS_ATOMIC_PG_BIN={} holds no postgres and initdb. {HINT}", dir.display());
        return dir;
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.split('.').map(|p| p.parse().ok()).collect::<Option<Vec<u32>>>()?;
            let bin = e.path().join("bin");
            complete(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && complete(&dir) {
            return dir;
        }
    }
    let on_path = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    on_path.into_iter().find(|d| complete(d)).unwrap_or_else(|| {
        panic!("PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or PATH. {HINT}")
    })
}

fn initdb(bin: &Path, dir: &Path) {
    let data = dir.join("data");
    let mut cmd = Command::new(bin.join("initdb"));
    cmd.arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        .current_dir(dir)
        .env_remove("PGDATA")
        .env_remove("PGPORT")
        .env_remove("PGHOST");
    guard::as_server_user(&mut cmd);
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
    assert!(
        out.status.success(),
        "initdb failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // First match wins: the password user over TCP needs its password.
    let hba = format!(
        "local all all trust\n\
         host all {user} 127.0.0.1/32 scram-sha-256\n\
         host all {user} ::1/128 scram-sha-256\n\
         host all all 127.0.0.1/32 trust\n\
         host all all ::1/128 trust\n",
        user = Postgres::PASSWORD_USER
    );
    let hba_path = data.join("pg_hba.conf");
    fs::write(&hba_path, hba).unwrap_or_else(|e| panic!("write {}: {e}", hba_path.display()));
    if let Some(user) = guard::server_user() {
        guard::chown(&hba_path, user);
    }
}
