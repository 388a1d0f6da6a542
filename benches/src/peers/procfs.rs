//! What `/proc` says about a process and the machine, and directory sizes.

use std::path::Path;
use std::process::Command;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// utime + stime, seconds.
    pub cpu_secs: f64,
    /// Peak resident set size (`VmHWM`), bytes; 0 once the process is a zombie.
    pub hwm_bytes: u64,
    /// Whether the process has exited and waits to be reaped (state `Z`):
    /// its CPU times are then final.
    pub zombie: bool,
}

/// Clock ticks per second for `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 if unknown).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// Read `/proc/<pid>/stat` and `/proc/<pid>/status`; `None` once the process is gone.
pub fn sample(pid: u32, ticks_per_sec: f64) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (state, cpu_ticks) = parse_stat(&stat)?;
    let hwm_bytes =
        std::fs::read_to_string(format!("/proc/{pid}/status")).ok().and_then(|s| parse_hwm(&s)).unwrap_or(0);
    Some(ProcSample { cpu_secs: cpu_ticks as f64 / ticks_per_sec, hwm_bytes, zombie: state == 'Z' })
}

/// (state, utime + stime in ticks) from the text of `/proc/<pid>/stat`. The
/// command name may hold spaces and parentheses, so fields are counted
/// after the last `)`.
pub fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let state = fields.first()?.chars().next()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((state, utime + stime))
}

/// `VmHWM` in bytes from the text of `/proc/<pid>/status`.
pub fn parse_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Total apparent size (sum of file lengths, like `du -sb`) of the files
/// under `dir`, and their number.
pub fn dir_bytes(dir: &Path) -> std::io::Result<(u64, u64)> {
    let mut bytes = 0;
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                bytes += meta.len();
                files += 1;
            }
        }
    }
    Ok((bytes, files))
}

/// The machine, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub cpus: usize,
    /// CPU model name.
    pub cpu_model: String,
    /// Total memory, bytes.
    pub memory_bytes: u64,
    /// Kernel release.
    pub kernel: String,
    /// Operating system (`PRETTY_NAME`).
    pub os: String,
}

/// Describe this machine.
pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find(|l| l.starts_with("MemTotal:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        .map_or(0, |kb| kb * 1024);
    let kernel =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string())))
        .unwrap_or_default();
    Machine { cpus: std::thread::available_parallelism().map_or(1, |n| n.get()), cpu_model, memory_bytes, kernel, os }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "4242 (victoria (metrics) x) S 1 4242 4242 0 -1 4194560 2587 0 0 0 150 37 0 0 20 0 12 0 88 0";
        assert_eq!(parse_stat(stat), Some(('S', 187)));
        assert_eq!(parse_stat("1 (z) Z 0 0 0 0 0 0 0 0 0 0 5 6"), Some(('Z', 11)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn parses_hwm() {
        let status = "Name:\tprometheus\nVmPeak:\t  900 kB\nVmHWM:\t  204800 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_hwm(status), Some(204_800 * 1024));
        assert_eq!(parse_hwm("Name: x\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = sample(std::process::id(), clock_ticks()).expect("own /proc");
        assert!(me.hwm_bytes > 0 && !me.zombie);
        let dir = std::env::temp_dir().join(format!("tw-procfs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a/b")).expect("mkdir");
        std::fs::write(dir.join("a/b/x"), [0u8; 100]).expect("write");
        std::fs::write(dir.join("y"), [0u8; 23]).expect("write");
        assert_eq!(dir_bytes(&dir).expect("du"), (123, 2));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
