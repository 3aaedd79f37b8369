//! Fault injection on the local control plane: restart kube-apiserver in place.
//!
//! The restarted process gets exactly the command line and environment of the one
//! it replaces (read from /proc), writes to the same log, and its pid replaces the
//! old one in the pid file, so `e2e/cluster.sh down` still stops exactly it. Only
//! possible on the local control plane; against an external cluster the callers
//! say so and do not run.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::Cluster;
use crate::cluster::{Source, state_dir};

/// Whether this cluster is the local control plane this harness can restart.
pub fn is_local(cluster: &Cluster) -> bool {
    matches!(cluster.source(), Source::File(p) if p.starts_with(state_dir()))
        && state_dir().join("run/kube-apiserver.pid").exists()
}

fn read_nul_separated(path: PathBuf) -> anyhow::Result<Vec<String>> {
    let raw = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(raw
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}

/// Whether a process runs (a zombie, exited but not yet reaped, does not).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Stops kube-apiserver (SIGTERM to the pid in its pid file), keeps it down for
/// `down_for`, then starts it again the same way. Returns once it was restarted
/// (not necessarily ready).
pub async fn restart_apiserver(down_for: Duration) -> anyhow::Result<()> {
    let pid_file = state_dir().join("run/kube-apiserver.pid");
    let pid: u32 = std::fs::read_to_string(&pid_file)?.trim().parse()?;
    let argv = read_nul_separated(PathBuf::from(format!("/proc/{pid}/cmdline")))?;
    let env = read_nul_separated(PathBuf::from(format!("/proc/{pid}/environ")))?;
    let Some((program, args)) = argv.split_first() else {
        bail!("empty command line of pid {pid}")
    };
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()?;
    anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
    for i in 0..300 {
        if !alive(pid) {
            break;
        }
        if i == 200 {
            // Graceful termination waits for long requests; do not wait forever.
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(!alive(pid), "kube-apiserver {pid} did not stop");
    tokio::time::sleep(down_for).await;
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .open(state_dir().join("logs/kube-apiserver.log"))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().filter_map(|kv| kv.split_once('=')))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let child = cmd.spawn().context("restarting kube-apiserver")?;
    std::fs::write(&pid_file, format!("{}\n", child.id()))?;
    Ok(())
}
