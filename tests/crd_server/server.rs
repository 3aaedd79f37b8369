//! A Kubernetes 1.36 CRD server for one test: etcd 3.5 and `apiextensions-apiserver`
//! (both from `scripts/tools.sh install crd-server`) on free loopback ports, with their
//! certificates, kubeconfig, data and logs in a temporary directory.
//!
//! It owns the two processes it starts and nothing else: [`CrdServer`]'s `Drop` kills
//! exactly those pids and reaps them (also when the test panics), and each child is
//! started with `PR_SET_PDEATHSIG`, so it dies with the test thread even if the test
//! binary itself is killed. The server serves only CRDs and custom resources (no
//! discovery, no `/api/v1`, no `/readyz`), so every request goes to a known path.

use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

/// How long etcd and the server may take to answer after start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The binaries the server is made of.
pub struct Binaries {
    pub apiserver: PathBuf,
    pub etcd: PathBuf,
    pub openssl: PathBuf,
}

/// A running server. Dropping it stops both processes and deletes its directory.
pub struct CrdServer {
    /// Started processes, in start order (stopped in reverse).
    procs: Vec<Proc>,
    client: kube::Client,
    /// The server's log, for failure messages.
    pub log: PathBuf,
    /// State directory; removed after the processes are stopped.
    dir: tempfile::TempDir,
}

struct Proc {
    name: &'static str,
    child: Child,
}

/// One HTTP answer: status code and the body as JSON (`Value::Null` when it is not).
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub body: Value,
}

impl Reply {
    /// `message` of a `Status` body (what `kubectl` prints for a refusal).
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

impl CrdServer {
    /// Starts etcd and the server and waits until the server answers on the CRD path.
    pub async fn start(bins: &Binaries) -> anyhow::Result<CrdServer> {
        let dir = tempfile::Builder::new()
            .prefix("sextant-crd-server.")
            .tempdir()?;
        let d = dir.path().to_path_buf();
        pki(&bins.openssl, &d)?;
        let (etcd_port, peer_port, port) = (free_port()?, free_port()?, free_port()?);
        let kubeconfig = d.join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(&d, port))?;
        let mut server = CrdServer {
            procs: Vec::new(),
            client: client(&kubeconfig).await?,
            log: d.join("apiextensions-apiserver.log"),
            dir,
        };
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        server.spawn(
            "etcd",
            &bins.etcd,
            &[
                "--name=crd",
                &format!("--data-dir={}", d.join("etcd").display()),
                &format!("--listen-client-urls={etcd_url}"),
                &format!("--advertise-client-urls={etcd_url}"),
                &format!("--listen-peer-urls={peer_url}"),
                &format!("--initial-advertise-peer-urls={peer_url}"),
                &format!("--initial-cluster=crd={peer_url}"),
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )?;
        let path = |f: &str| d.join(f).display().to_string();
        let kc = kubeconfig.display().to_string();
        server.spawn(
            "apiextensions-apiserver",
            &bins.apiserver,
            &[
                &format!("--etcd-servers={etcd_url}"),
                "--bind-address=127.0.0.1",
                &format!("--secure-port={port}"),
                &format!("--cert-dir={}", path("certs")),
                &format!("--tls-cert-file={}", path("server.crt")),
                &format!("--tls-private-key-file={}", path("server.key")),
                &format!("--client-ca-file={}", path("ca.crt")),
                // No kube-apiserver holds the extension-apiserver-authentication
                // ConfigMap; client certificates are checked against the CA above, and
                // system:masters is always allowed (no SubjectAccessReview is made).
                "--authentication-skip-lookup",
                &format!("--kubeconfig={kc}"),
                &format!("--authentication-kubeconfig={kc}"),
                &format!("--authorization-kubeconfig={kc}"),
                // These need built-in APIs (namespaces, webhook and policy objects)
                // that this server does not serve.
                // Its configuration objects are built-in APIs too.
                "--enable-priority-and-fairness=false",
                "--disable-admission-plugins=NamespaceLifecycle,MutatingAdmissionWebhook,\
                 ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy",
            ],
        )?;
        server.wait_serving().await?;
        Ok(server)
    }

    fn spawn(&mut self, name: &'static str, bin: &Path, args: &[&str]) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log")))?;
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        self.procs.push(Proc { name, child });
        Ok(())
    }

    async fn wait_serving(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            for p in &mut self.procs {
                if let Some(status) = p.child.try_wait()? {
                    bail!(
                        "{} exited with {status} during start-up; its log:\n{}",
                        p.name,
                        tail(&self.dir.path().join(format!("{}.log", p.name)), 40)
                    );
                }
            }
            let last = match self
                .call(
                    "GET",
                    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                    None,
                )
                .await
            {
                Ok(r) if r.code == 200 => return Ok(()),
                Ok(r) => format!("HTTP {}: {}", r.code, r.message()),
                Err(e) => format!("{e:#}"),
            };
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "the CRD server did not serve CRDs within {}s (last: {last}); its log:\n{}",
                    START_TIMEOUT.as_secs(),
                    tail(&self.log, 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// One request with an optional JSON body; any HTTP status is an `Ok`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let bytes = body
            .map(serde_json::to_vec)
            .transpose()?
            .unwrap_or_default();
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(kube::client::Body::from(bytes))?;
        let response = self
            .client
            .send(request)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let code = response.status().as_u16();
        let raw = response.into_body().collect_bytes().await?;
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Ok(Reply { code, body })
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

impl Drop for CrdServer {
    fn drop(&mut self) {
        // The server first, so that it does not log etcd's absence at length.
        while let Some(mut p) = self.procs.pop() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// A port that was free a moment ago (the kernel does not hand it out again soon).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A CA, a serving certificate for 127.0.0.1 and a client certificate in group
/// system:masters, all made with openssl in `d`.
fn pki(openssl: &Path, d: &Path) -> anyhow::Result<()> {
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new(openssl).args(args).current_dir(d).output()?;
        ensure!(
            out.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &key,
        &["-keyout", "ca.key", "-out", "ca.crt"],
        &["-days", "2", "-subj", "/CN=sextant-crd-server-ca"],
    ]
    .concat())?;
    // Extensions make them X.509 v3 certificates: rustls refuses v1 ones.
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )?;
    std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n")?;
    for (name, subject) in [
        ("server", "/CN=127.0.0.1"),
        ("client", "/O=system:masters/CN=sextant-crd-test"),
    ] {
        let ext = format!("{name}.ext");
        let (k, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        run(&[
            &["req"][..],
            &key,
            &["-keyout", &k, "-out", &csr, "-subj", subject],
        ]
        .concat())?;
        let mut sign = vec![
            "x509", "-req", "-in", &csr, "-CA", "ca.crt", "-CAkey", "ca.key",
        ];
        sign.extend([
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &crt,
            "-extfile",
            &ext,
        ]);
        run(&sign)?;
    }
    Ok(())
}

fn kubeconfig_yaml(d: &Path, port: u16) -> String {
    let p = |f: &str| d.join(f).display().to_string();
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: crd\n\
         clusters:\n- name: crd\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {ca}\n\
         users:\n- name: admin\n  user:\n    client-certificate: {crt}\n    client-key: {key}\n\
         contexts:\n- name: crd\n  context: {{cluster: crd, user: admin}}\n",
        ca = p("ca.crt"),
        crt = p("client.crt"),
        key = p("client.key"),
    )
}

async fn client(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(kubeconfig)?,
        &KubeConfigOptions::default(),
    )
    .await?;
    Ok(kube::Client::try_from(config)?)
}

/// The last `lines` lines of a file (at most its last 64 KiB).
fn tail(path: &Path, lines: usize) -> String {
    let mut raw = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
        let _ = f.read_to_end(&mut raw);
    }
    let text = String::from_utf8_lossy(&raw);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
