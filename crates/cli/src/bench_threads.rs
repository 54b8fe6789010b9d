//! CPU time of a server process's threads by what they serve, user and kernel
//! apart: the benchmark's servers share one process (mocks, gateway, bare proxy),
//! and their threads are named for it (`gateway-0`, `mock-openai-1`,
//! `ledger-writer`, `proxy-0`, `trivial-0`). The driver's is read as its whole
//! process ([`process`]): its VU threads end with each run. Read from Linux's
//! `/proc`; elsewhere there is none.

use std::collections::{BTreeMap, BTreeSet};

use crate::bench::{Rounds, WrkLoad, median};

/// Clock ticks per second of `/proc`'s CPU times (`USER_HZ`): 100 on every
/// architecture this builds for.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time, user and kernel apart: seconds from [`by_group`], µs per request
/// from [`per_request`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Cpu {
    /// In the process's own code.
    pub user: f64,
    /// In the kernel on its behalf (socket reads and writes, wake-ups).
    pub kernel: f64,
}

/// CPU time the threads of process `pid` have used so far, by group: a thread's
/// name without its trailing `-N` (`gateway-0` and `gateway-1` are `gateway`).
/// `None` where `/proc` has no such process (not Linux, or the process is gone).
pub(crate) fn by_group(pid: u32) -> Option<BTreeMap<String, Cpu>> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut groups: BTreeMap<String, Cpu> = BTreeMap::new();
    for task in tasks.flatten() {
        // a thread that ended since the listing is left out
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if let Some((name, cpu)) = parse_stat(&stat) {
            let total = groups.entry(group(name).to_owned()).or_default();
            total.user += cpu.user;
            total.kernel += cpu.kernel;
        }
    }
    Some(groups)
}

/// CPU time process `pid` has used so far, its ended threads' included; `None`
/// where `/proc` has no such process.
pub(crate) fn process(pid: u32) -> Option<Cpu> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(_, cpu)| cpu)
}

/// Prints each load's CPU per request by thread group (the mock's, the gateway's
/// and its ledger writer's, the bare proxy's, the trivial handler's, the
/// driver), user and kernel apart, as medians of the rounds: what a
/// process-wide figure mixes, since the mock behind a proxy does not cost what it
/// costs alone. A group is left out where both parts round to zero; nothing is
/// printed where `/proc` gave no reading.
pub(crate) fn print(title: &str, loads: &[(&str, &[BTreeMap<String, Cpu>])]) {
    if loads.iter().any(|(_, rounds)| rounds.is_empty()) {
        return;
    }
    let width = loads.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    outln!("  {title}, user + kernel µs (medians):");
    for (name, rounds) in loads {
        let groups: BTreeSet<&String> = rounds.iter().flat_map(BTreeMap::keys).collect();
        let used: Vec<String> = groups
            .into_iter()
            .filter_map(|group| {
                let of = |part: fn(&Cpu) -> f64| {
                    let each: Vec<f64> = rounds
                        .iter()
                        .map(|round| round.get(group).map_or(0.0, part))
                        .collect();
                    median(&each).unwrap_or(0.0)
                };
                let (user, kernel) = (of(|c| c.user), of(|c| c.kernel));
                (user.max(kernel) >= 0.05).then(|| format!("{group} {user:.1} + {kernel:.1}"))
            })
            .collect();
        outln!("    {name:<width$} {}", used.join(", "));
    }
}

/// The CPU per request of the wrk loads' server threads, as [`print`] prints it.
pub(crate) fn print_wrk(loads: &[WrkLoad<'_>], measured: &[Rounds]) {
    let rows: Vec<(&str, &[BTreeMap<String, Cpu>])> = loads
        .iter()
        .zip(measured)
        .map(|((name, ..), m)| (*name, m.threads.as_slice()))
        .collect();
    print("CPU per request by the server's threads", &rows);
}

/// A thread's name and CPU time from its `/proc/…/stat` line: `tid (name) state
/// …`, where the name may hold spaces and parentheses, and user and kernel time are
/// the 14th and 15th fields, in clock ticks.
fn parse_stat(line: &str) -> Option<(&str, Cpu)> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let name = line.get(open + 1..close)?;
    // the fields after the name start at the 3rd (state)
    let mut fields = line.get(close + 1..)?.split_ascii_whitespace().skip(11);
    let mut ticks = || fields.next()?.parse::<u64>().ok();
    let (user, kernel) = (ticks()?, ticks()?);
    Some((
        name,
        Cpu {
            user: user as f64 / TICKS_PER_SECOND,
            kernel: kernel as f64 / TICKS_PER_SECOND,
        },
    ))
}

/// A thread's group: its name without a trailing `-N`.
fn group(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, index)) if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) => {
            base
        }
        _ => name,
    }
}

/// What each group used between two readings, per request, µs (user, kernel);
/// groups that used under 0.05 µs a request are left out.
pub(crate) fn per_request(
    before: &BTreeMap<String, Cpu>,
    after: &BTreeMap<String, Cpu>,
    requests: f64,
) -> BTreeMap<String, Cpu> {
    let micros = |seconds: f64| seconds * 1e6 / requests;
    after
        .iter()
        .map(|(name, end)| {
            let start = before.get(name).copied().unwrap_or_default();
            let used = Cpu {
                user: micros((end.user - start.user).max(0.0)),
                kernel: micros((end.kernel - start.kernel).max(0.0)),
            };
            (name.clone(), used)
        })
        .filter(|(_, used)| requests > 0.0 && used.user + used.kernel >= 0.05)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_the_name_and_its_user_and_kernel_time() {
        let line = "4242 (mock-openai-1) S 1 4242 4242 0 -1 4194624 2617 0 0 0 \
                    1722 1201 0 0 20 0 2 0 123 0 0 18446744073709551615";
        let (name, cpu) = parse_stat(line).unwrap();
        assert_eq!(name, "mock-openai-1");
        assert_eq!(
            cpu,
            Cpu {
                user: 17.22,
                kernel: 12.01
            }
        );
        // a name may hold spaces and parentheses
        let odd = "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 300 5 0 0 20 0 1 0 9 0 0 0";
        let (name, cpu) = parse_stat(odd).unwrap();
        assert_eq!((name, cpu.user, cpu.kernel), ("a (b) c", 3.0, 0.05));
        assert!(parse_stat("7 (cut) R 1 7").is_none());
        assert!(parse_stat("no name at all").is_none());
    }

    #[test]
    fn threads_are_grouped_by_name_without_their_index() {
        assert_eq!(group("gateway-0"), "gateway");
        assert_eq!(group("mock-openai-12"), "mock-openai");
        assert_eq!(group("ledger-writer"), "ledger-writer");
        assert_eq!(group("tokio-rt-worker"), "tokio-rt-worker");
        assert_eq!(group("trailing-"), "trailing-");
        assert_eq!(group("7"), "7");
    }

    #[test]
    fn use_between_readings_is_per_request_and_idle_groups_are_left_out() {
        let reading = |pairs: &[(&str, f64, f64)]| -> BTreeMap<String, Cpu> {
            pairs
                .iter()
                .map(|(n, user, kernel)| {
                    let cpu = Cpu {
                        user: *user,
                        kernel: *kernel,
                    };
                    ((*n).to_owned(), cpu)
                })
                .collect()
        };
        let before = reading(&[("gateway", 1.0, 0.5), ("idle", 2.0, 1.0)]);
        let after = reading(&[
            ("gateway", 1.5, 0.75),
            ("idle", 2.0, 1.0),
            ("new", 0.01, 0.0),
        ]);
        let used = per_request(&before, &after, 10_000.0);
        assert_eq!(used.keys().collect::<Vec<_>>(), ["gateway", "new"]);
        assert_eq!(
            used["gateway"],
            Cpu {
                user: 50.0,
                kernel: 25.0
            }
        );
        assert!(per_request(&before, &after, 0.0).is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_threads_are_read_by_name() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("bench-probe-3".into())
            .spawn(move || {
                // a thread takes its name as it starts, not when spawn returns
                started.send(()).unwrap();
                rx.recv()
            })
            .unwrap();
        running.recv().unwrap();
        let groups = by_group(std::process::id()).unwrap();
        assert!(groups.contains_key("bench-probe"), "{groups:?}");
        tx.send(()).unwrap();
        worker.join().unwrap().unwrap();
        assert!(by_group(u32::MAX).is_none());
        // the process's own figure keeps what its ended threads used
        let spun = std::thread::spawn(|| {
            let used = || {
                let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
                parse_stat(&stat).map_or(0.0, |(_, cpu)| cpu.user + cpu.kernel)
            };
            while used() < 0.05 {
                std::hint::spin_loop();
            }
        });
        spun.join().unwrap();
        let threads: f64 = by_group(std::process::id())
            .unwrap()
            .values()
            .map(|c| c.user + c.kernel)
            .sum();
        let whole = process(std::process::id()).unwrap();
        assert!(whole.user + whole.kernel > threads, "{whole:?} {threads}");
        assert!(process(u32::MAX).is_none());
    }
}
