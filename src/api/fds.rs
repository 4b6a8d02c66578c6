//! The file-descriptor budget of the listener: at start the soft `RLIMIT_NOFILE` is raised to
//! the hard limit, and `server.max_connections` is lowered if needed so that a reserve (the
//! larger of 1,024 and a quarter of the limit, at most half of it) always stays for everything
//! but connections: probes, the store, notifiers, logs. The choice is logged.

/// The reserve of file descriptors kept for everything but connections, out of `limit`.
pub fn reserve(limit: u64) -> u64 {
    (limit / 4).max(1024).min(limit / 2)
}

/// The connection cap that fits `limit` descriptors: `wanted`, or fewer to keep the reserve.
pub fn fitting(wanted: usize, limit: u64) -> usize {
    let room = usize::try_from(limit - reserve(limit)).unwrap_or(usize::MAX);
    wanted.min(room).max(1)
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit: `(before, now)`.
#[cfg(unix)]
fn raise_nofile() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct we pass, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = lim.rlim_cur;
    // An unlimited hard limit: ask for what Linux allows by default (fs.nr_open).
    let target = if lim.rlim_max == libc::RLIM_INFINITY { 1 << 20 } else { lim.rlim_max };
    if target > before {
        let raised = libc::rlimit { rlim_cur: target, rlim_max: lim.rlim_max };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok((before, target));
        }
    }
    Ok((before, before))
}

#[cfg(not(unix))]
fn raise_nofile() -> std::io::Result<(u64, u64)> {
    Err(std::io::Error::other("no RLIMIT_NOFILE on this platform"))
}

/// The connection cap for `wanted`, after raising the descriptor limit; logged.
pub fn connection_cap(wanted: usize) -> usize {
    let (before, limit) = match raise_nofile() {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the file-descriptor limit; server.max_connections used as is");
            return wanted;
        }
    };
    let cap = fitting(wanted, limit);
    let reserve = reserve(limit);
    if cap < wanted {
        tracing::warn!(
            nofile = limit,
            reserve,
            "server.max_connections {wanted} does not fit the file-descriptor limit {limit} with {reserve} kept \
             for probes, the store and notifiers; serving at most {cap} connections (raise `ulimit -n`)"
        );
    }
    tracing::info!(nofile = limit, raised_from = before, reserve, max_connections = cap, "file descriptors");
    cap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_stays_whatever_max_connections_asks() {
        assert_eq!(reserve(20_000), 5_000);
        assert_eq!(fitting(4096, 20_000), 4096);
        assert_eq!(reserve(4096), 1024);
        assert_eq!(fitting(4096, 4096), 3072, "clamped to keep 1,024");
        assert_eq!(reserve(1024), 512, "at most half");
        assert_eq!(fitting(4096, 1024), 512);
        assert_eq!(fitting(4096, 0), 1);
    }
}
