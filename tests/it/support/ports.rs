//! Loopback ports for the real servers the tests start, without bind-then-release races.
//!
//! nginx, sshd and git daemon cannot pick a port themselves and report it, so a port is chosen
//! first and the server binds it afterwards. Between the two, anyone may take it (another test
//! of this run, another engineer's test run on the same machine). Three things make that safe:
//!
//! - [`port`] hands out each port once per process, from a counter over a range below the
//!   kernel's ephemeral range (where `bind(:0)` and outgoing connections never land), starting
//!   at an offset derived from the process id so that concurrent test runs rarely overlap;
//! - [`retry`] starts a server again on fresh ports when its start failed because a port was
//!   taken (its log says "Address already in use");
//! - readiness is checked with [`listens`]: *our* child process holds a listening socket on
//!   the port, so a stranger that took the port is never mistaken for our server.
//!
//! A port that must refuse connections (a dead site) comes from [`refused_port`]: a socket
//! bound but never listening, held for the test's lifetime, so nothing else can take it.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};

/// Ports handed out by [`port`]: below the Linux default ephemeral range (32768–60999).
const RANGE: std::ops::Range<u32> = 20_000..32_000;

/// How often a server start is tried on fresh ports before the test gives up.
const ATTEMPTS: usize = 8;

/// A port on 127.0.0.1 that no server of this process was given before and that is free right
/// now. It may still be taken before the server binds it: start servers through [`retry`].
pub fn port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let span = RANGE.end - RANGE.start;
    let offset = std::process::id().wrapping_mul(7_919) % span;
    let _ = NEXT.compare_exchange(u32::MAX, offset, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = u16::try_from(RANGE.start + n % span).expect("port in range");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            THIEF.with_borrow_mut(|thief| thief.visit(port));
            return port;
        }
    }
    panic!("no free port in {RANGE:?} on 127.0.0.1");
}

thread_local! {
    static THIEF: RefCell<Thief> = const { RefCell::new(Thief { pending: 0, loot: Vec::new() }) };
}

/// Takes ports right after [`port`] chose them, on this thread only: what another process
/// does in the race that [`retry`] must survive. For the support's own tests.
struct Thief {
    pending: usize,
    /// Held until the thread ends.
    loot: Vec<std::net::TcpListener>,
}

impl Thief {
    fn visit(&mut self, port: u16) {
        if self.pending > 0 {
            self.pending -= 1;
            self.loot
                .push(std::net::TcpListener::bind(("127.0.0.1", port)).expect("steal"));
        }
    }
}

/// Makes the next `count` ports that [`port`] hands out on this thread taken (listened on by
/// someone else) before the caller can bind them.
pub fn steal_next(count: usize) {
    THIEF.with_borrow_mut(|thief| thief.pending += count);
}

/// The ports taken on this thread by [`steal_next`].
pub fn stolen() -> Vec<u16> {
    THIEF.with_borrow(|thief| {
        thief
            .loot
            .iter()
            .filter_map(|l| Some(l.local_addr().ok()?.port()))
            .collect()
    })
}

/// Why a server start failed in a way that a start on other ports may fix.
#[derive(Debug)]
pub struct PortTaken(pub String);

/// Whether a server's log or error output says that it could not bind its port.
pub fn taken(log: &str) -> bool {
    log.contains("Address already in use")
}

/// Runs `start` (which picks fresh ports with [`port`] each time) until it does not fail with
/// [`PortTaken`]; panics after a few attempts.
#[track_caller]
pub fn retry<T>(what: &str, mut start: impl FnMut() -> Result<T, PortTaken>) -> T {
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        match start() {
            Ok(server) => return server,
            Err(PortTaken(detail)) => last = detail,
        }
    }
    panic!("{what} found its port taken {ATTEMPTS} times; last: {last}");
}

/// A port on 127.0.0.1 that refuses every connection while this value lives: a socket is bound
/// to it but never listens, so no server (nor any other test) can bind it meanwhile.
pub struct RefusedPort {
    _socket: tokio::net::TcpSocket,
    pub port: u16,
}

/// A fresh [`RefusedPort`].
#[track_caller]
pub fn refused_port() -> RefusedPort {
    // Without SO_REUSEADDR (the default of a new socket), so that no server's bind succeeds.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let port = socket.local_addr().expect("addr").port();
    RefusedPort {
        _socket: socket,
        port,
    }
}

/// Whether process `pid` holds a socket listening on TCP `port` (any local address).
pub fn listens(pid: u32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            let target = target.to_string_lossy();
            target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .is_some_and(|inode| inodes.contains(inode))
        })
    })
}

/// The inodes of the sockets listening on `port`, from `/proc/net/tcp{,6}`.
fn listening_inodes(port: u16) -> HashSet<String> {
    let want = format!(":{port:04X}");
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl, local address, remote address, state (0A: LISTEN), ..., inode (10th).
            if f.len() > 9 && f[1].ends_with(&want) && f[3] == "0A" {
                inodes.insert(f[9].to_owned());
            }
        }
    }
    inodes
}

#[test]
fn a_refused_port_refuses_and_no_server_can_take_it() {
    let refused = refused_port();
    let err = std::net::TcpStream::connect(("127.0.0.1", refused.port)).expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    // std sets SO_REUSEADDR on listeners, as nginx, sshd and git daemon do.
    assert!(std::net::TcpListener::bind(("127.0.0.1", refused.port)).is_err());
}
