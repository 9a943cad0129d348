//! The systemd unit, `systemd/vmaild.service`, and its sandbox:
//!
//! - `systemd-analyze verify` finds nothing to say about it (nor about the
//!   shipped drop-in example of an IP allow list);
//! - `systemd-analyze security --offline=yes` rates it 1.9 or less (the
//!   number is parsed from the "Overall exposure level" line);
//! - every system call vmaild makes, traced with strace while it starts,
//!   notifies systemd, serves its metrics, picks up and delivers jobs (over STARTTLS with an
//!   OAuth2 token fetched over HTTPS, from a name resolved by the system,
//!   when the real servers of `tests/run.sh` are there; in capture mode
//!   otherwise), reloads on SIGHUP and drains on SIGTERM, is in the unit's
//!   `SystemCallFilter=` set as systemd itself expands it;
//! - the unit runs under a real systemd: `unit-in-nspawn.sh` boots this
//!   machine's root (through an overlay) in systemd-nspawn and drives
//!   vmaild.service there (ready, two deliveries, reload, stop), with the
//!   real servers too when they are there.
//!
//! The tools come from Debian (`packaging/install-tools.sh`, run here when
//! they are missing and this is root); a test that cannot have them says so
//! and passes without checking.

use crate::common::{SHORT, is_root, tempdir};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use vmail_packaging_tests::{have, repo_root, run_bounded};
use vmail_testkit::oauth::{ClientSpec, TokenServiceClient, TokenServiceControl, unique_client_id};
use vmail_testkit::process::{wait_for, wait_for_within, workspace_binary};
use vmail_testkit::servers::{SERVERS_ENV_VAR, TestServers};

/// The goal of issue 15 for `systemd-analyze security --offline=yes`.
const MAX_EXPOSURE: f64 = 1.9;

fn unit() -> PathBuf {
    repo_root().join("systemd/vmaild.service")
}

fn drop_in_example() -> PathBuf {
    repo_root().join("systemd/ip-allow-list.conf.example")
}

/// Whether `program` is there, after `packaging/install-tools.sh TOOL`
/// when it was not and this is root.
fn tool(tool: &str, program: &str) -> bool {
    if have(program) {
        return true;
    }
    if is_root() {
        let ran = run_bounded(
            Command::new("bash")
                .arg(repo_root().join("packaging/install-tools.sh"))
                .arg(tool),
            "packaging/install-tools.sh",
            Duration::from_secs(600),
        )
        .unwrap();
        assert!(ran.ok(), "install-tools.sh {tool}: {}", ran.stderr);
    }
    if have(program) {
        return true;
    }
    eprintln!("skipped: no {program} (`bash packaging/install-tools.sh {tool}` as root)");
    false
}

/// The unit with its ExecStart= program replaced by `program` (verify
/// checks that the program is an executable; this machine has no
/// /usr/sbin/vmaild unless the package is installed), in `dir`.
fn unit_running(program: &Path, dir: &Path) -> PathBuf {
    let text = fs::read_to_string(unit()).unwrap();
    assert!(text.contains("\nExecStart=/usr/sbin/vmaild "), "{text}");
    let text = text.replace(
        "\nExecStart=/usr/sbin/vmaild ",
        &format!("\nExecStart={} ", program.display()),
    );
    let path = dir.join("vmaild.service");
    fs::write(&path, text).unwrap();
    path
}

fn stub_program(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let stub = dir.join("vmaild-stub");
    fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
    stub
}

/// `systemd-analyze ARGS` with `SYSTEMD_UNIT_PATH=dir:` (the unit and its
/// drop-ins in `dir`, then the system's), which must exit 0.
fn analyze(dir: &Path, args: &[&str]) -> vmail_packaging_tests::Ran {
    let ran = run_bounded(
        Command::new("systemd-analyze")
            .args(args)
            .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.display()))
            .env("SYSTEMD_LOG_COLOR", "0")
            .env("SYSTEMD_PAGER", ""),
        &format!("systemd-analyze {}", args.join(" ")),
        SHORT,
    )
    .unwrap();
    assert!(
        ran.ok(),
        "systemd-analyze {args:?}: {}\n{}",
        ran.stdout,
        ran.stderr
    );
    ran
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    if !tool("systemd", "systemd-analyze") {
        return;
    }
    let dir = tempdir("verify");
    unit_running(&stub_program(&dir), &dir);
    // Warnings (an unknown key, an unknown system call group, a bad value)
    // go to stderr and leave the exit status 0: stderr must be empty.
    let ran = analyze(&dir, &["verify", "--man=no", "vmaild.service"]);
    assert_eq!(ran.stderr.trim(), "", "systemd-analyze verify");

    // The drop-in example, as an administrator would install it.
    let drop_ins = dir.join("vmaild.service.d");
    fs::create_dir_all(&drop_ins).unwrap();
    fs::copy(drop_in_example(), drop_ins.join("ip-allow-list.conf")).unwrap();
    let ran = analyze(&dir, &["verify", "--man=no", "vmaild.service"]);
    assert_eq!(ran.stderr.trim(), "", "verify with the drop-in example");
    // ... and read: the allow list is rated.
    let ran = analyze(
        &dir,
        &["security", "--offline=yes", "--no-pager", "vmaild.service"],
    );
    assert!(
        ran.stdout
            .contains("Service defines IP address allow list with non-localhost entries"),
        "{}",
        ran.stdout
    );
    let _ = fs::remove_dir_all(&dir);
}

/// The number of `→ Overall exposure level for vmaild.service: 1.2 OK`.
fn overall_exposure(report: &str) -> Option<f64> {
    let line = report
        .lines()
        .find(|line| line.contains("Overall exposure level for"))?;
    let (_, rest) = line.split_once("vmaild.service: ")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn exposure_lines_parse() {
    assert_eq!(
        overall_exposure("x\n→ Overall exposure level for vmaild.service: 1.2 OK 🙂\n"),
        Some(1.2)
    );
    assert_eq!(
        overall_exposure("→ Overall exposure level for vmaild.service: 9.6 UNSAFE 😨"),
        Some(9.6)
    );
    assert_eq!(overall_exposure("nothing"), None);
}

#[test]
fn the_units_offline_security_exposure_is_at_most_1_9() {
    if !tool("systemd", "systemd-analyze") {
        return;
    }
    let dir = tempdir("security");
    fs::copy(unit(), dir.join("vmaild.service")).unwrap();
    let ran = analyze(
        &dir,
        &["security", "--offline=yes", "--no-pager", "vmaild.service"],
    );
    let report = format!("{}{}", ran.stdout, ran.stderr);
    let exposure = overall_exposure(&report)
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{report}"));
    eprintln!("systemd-analyze security --offline=yes: exposure {exposure}");
    assert!(
        exposure <= MAX_EXPOSURE,
        "exposure {exposure} > {MAX_EXPOSURE}:\n{report}"
    );
    // What the sandbox is made of stays (a lower score from some other
    // setting must not hide that one of these went).
    for setting in [
        "SystemCallFilter=~@privileged",
        "SystemCallFilter=~@resources",
        "ProtectProc=",
        "ProcSubset=",
        "ProtectKernelLogs=",
        "PrivateMounts=",
        "RemoveIPC=",
    ] {
        let line = report
            .lines()
            .find(|line| line.contains(setting))
            .unwrap_or_else(|| panic!("{setting} not rated:\n{report}"));
        assert!(line.starts_with('✓'), "{line}");
    }
    let text = fs::read_to_string(unit()).unwrap();
    assert!(text.contains("\nUMask=0027\n"), "UMask=0027 is gone");
    let _ = fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// The system calls vmaild makes, and the unit's filter.

/// A group of `systemd-analyze syscall-filter`, nested groups expanded.
fn syscall_group(group: &str, seen: &mut BTreeSet<String>) -> BTreeSet<String> {
    let mut calls = BTreeSet::new();
    if !seen.insert(group.to_string()) {
        return calls;
    }
    let ran = run_bounded(
        Command::new("systemd-analyze")
            .args(["syscall-filter", "--no-pager", group])
            .env("SYSTEMD_LOG_COLOR", "0"),
        "systemd-analyze syscall-filter",
        SHORT,
    )
    .unwrap();
    assert!(ran.ok(), "syscall-filter {group}: {}", ran.stderr);
    for line in ran.stdout.lines().skip(1) {
        let name = line.trim();
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        if name.starts_with('@') {
            calls.extend(syscall_group(name, seen));
        } else {
            calls.insert(name.to_string());
        }
    }
    calls
}

/// The calls the unit allows: its allow list less its deny list, each
/// group as this systemd expands it.
fn allowed_syscalls() -> BTreeSet<String> {
    let text = fs::read_to_string(unit()).unwrap();
    let mut allowed = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for line in text.lines() {
        let Some(value) = line.strip_prefix("SystemCallFilter=") else {
            continue;
        };
        let (deny, value) = match value.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        for item in value.split_whitespace() {
            let calls = if item.starts_with('@') {
                syscall_group(item, &mut BTreeSet::new())
            } else {
                BTreeSet::from([item.to_string()])
            };
            if deny { &mut denied } else { &mut allowed }.extend(calls);
        }
    }
    assert!(
        !allowed.is_empty(),
        "no SystemCallFilter= allow list in the unit"
    );
    allowed.difference(&denied).cloned().collect()
}

/// The names in the summary table of `strace -c` (its last column).
fn traced_syscalls(summary: &str) -> BTreeSet<String> {
    summary
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() >= 5 && fields[0].parse::<f64>().is_ok() && fields.last() != Some(&"total")
        })
        .filter_map(|line| line.split_whitespace().last().map(str::to_string))
        .collect()
}

#[test]
fn strace_summaries_parse() {
    let summary = "% time     seconds  usecs/call     calls    errors syscall\n\
                   ------ ----------- ----------- --------- --------- ----------------\n\
                   \x20 40.00    0.000040           4        10           epoll_wait\n\
                   \x20 10.00    0.000010           1        10         2 openat\n\
                   ------ ----------- ----------- --------- --------- ----------------\n\
                   100.00    0.000100                    20         2 total\n";
    assert_eq!(
        traced_syscalls(summary),
        BTreeSet::from(["epoll_wait".to_string(), "openat".to_string()])
    );
}

/// A configuration for vmaild in `dir` (spool `dir/spool`) and the address
/// its test jobs go to: the real servers' OAuth listener, by name, with
/// STARTTLS and a token from the token service over HTTPS, when
/// `VMAIL_TEST_SERVERS` names them; capture mode otherwise. Paths in it are
/// `at` + the file's name in `dir` (`at` is where `dir` will be mounted).
fn config(dir: &Path, at: &str, servers: Option<&TestServers>) -> (String, String) {
    let Some(servers) = servers else {
        let ini = format!(
            "[VMAIL]\nmail-server = file:{at}/spool/capture\nfrom = fax@example.test\n\
             [VFXSCHED]\nspool = {at}/spool\ndebug = On\n"
        );
        return (ini, "someone@example.com".to_string());
    };
    let service = TokenServiceClient::from_servers(servers).unwrap();
    let client_id = unique_client_id("unit");
    let secret = format!("sec-{}", unique_client_id("s"));
    service
        .register_client(&ClientSpec::new(&client_id, &servers.user.user).with_secret(&secret))
        .unwrap();
    let key = dir.join("vmail.key");
    let (sealing_key, _) = vmail_config::secrets::load_or_create_key(&key).unwrap();
    let sealed = vmail_config::secrets::seal(&sealing_key, &secret).unwrap();
    fs::copy(&servers.ca_cert, dir.join("ca.pem")).unwrap();
    let ini = format!(
        "[VMAIL]\n\
         mail-server = {name}\n\
         mail-port = {port}\n\
         tls = starttls\n\
         ca-file = {at}/ca.pem\n\
         helo-name = vmail-test.example.test\n\
         from = fax@example.test\n\
         timeout = 10s\n\
         key-file = {at}/vmail.key\n\
         auth-type = xoauth2\n\
         oauth-provider = generic\n\
         oauth-grant = client-credentials\n\
         oauth-client-id = {client_id}\n\
         oauth-client-secret = {sealed}\n\
         oauth-user = {user}\n\
         oauth-token-url = {token}\n\
         [VFXSCHED]\n\
         spool = {at}/spool\n\
         debug = On\n",
        // The certificate's name, resolved by the system (getaddrinfo).
        name = servers.tls_name,
        port = servers.oauth_port,
        user = servers.user.user,
        token = service.urls().token(),
    );
    (ini, servers.user.user.clone())
}

fn servers() -> Option<TestServers> {
    let servers = std::env::var_os(SERVERS_ENV_VAR).map(|_| TestServers::from_env());
    if servers.is_none() {
        eprintln!("{SERVERS_ENV_VAR} is not set: capture mode only, no SMTP, TLS, DNS or OAuth");
    }
    servers
}

fn eml(to: &str, message_id: &str) -> String {
    format!(
        "From: fax@example.test\nTo: {to}\nSubject: {message_id}\nMessage-ID: <{message_id}>\n\n\
         sent by packaging/tests/it/unit.rs\n"
    )
}

fn message_id(tag: &str) -> String {
    format!("{tag}.{}@vmail-test.example.test", unique_client_id("m"))
}

fn drop_job(spool: &Path, name: &str, text: &str) {
    let hidden = spool.join("in").join(format!(".{name}"));
    fs::write(&hidden, text).unwrap();
    fs::rename(&hidden, spool.join("in").join(name)).unwrap();
}

/// `GET /metrics` over the Unix socket, the whole answer.
fn scrape(socket: &Path) -> String {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: vmail\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn every_system_call_vmaild_makes_is_in_the_units_filter() {
    if !tool("systemd", "systemd-analyze") || !tool("strace", "strace") {
        return;
    }
    let allowed = allowed_syscalls();
    let servers = servers();
    let dir = tempdir("strace");
    let (ini, to) = config(&dir, &dir.display().to_string(), servers.as_ref());
    // The metrics endpoint too: its server's calls must be in the filter.
    let socket = dir.join("metrics.sock");
    let ini = ini.replacen(
        "[VMAIL]\n",
        &format!("[VMAIL]\nmetrics-listen = {}\n", socket.display()),
        1,
    );
    fs::write(dir.join("vsisrv.ini"), ini).unwrap();
    let spool = dir.join("spool");
    let vmaild = workspace_binary("vmail-daemon", "vmaild");

    // systemd's notify socket and watchdog, as the unit gives them.
    let notify_path = dir.join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let summary = dir.join("strace.txt");
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-c", "-o"])
        .arg(&summary)
        .arg("--")
        .arg(&vmaild)
        .arg("--config")
        .arg(dir.join("vsisrv.ini"))
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "2000000")
        .env_remove("VSIFAX")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let stop = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
    };
    let mut buf = [0u8; 4096];
    let ready = loop {
        match notify.recv(&mut buf) {
            Ok(n) if String::from_utf8_lossy(&buf[..n]).contains("READY=1") => break true,
            Ok(_) => continue,
            Err(_) => break false,
        }
    };
    if !ready {
        stop(&mut child);
        panic!(
            "no READY=1 from vmaild under strace:\n{}",
            fs::read_to_string(dir.join("stderr")).unwrap_or_default()
        );
    }
    let pid: u32 = fs::read_to_string(spool.join("vmaild.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let log = || fs::read_to_string(spool.join("logs/vmail")).unwrap_or_default();
    let delivered = |n: usize| log().matches("delivered to").count() >= n;

    drop_job(&spool, "one.eml", &eml(&to, &message_id("strace-one")));
    wait_for_within(
        "the first job delivered",
        Duration::from_secs(60),
        || delivered(1),
        log,
    );
    let kill = |signal: &str| {
        let ran = run_bounded(
            Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(pid.to_string()),
            "kill",
            SHORT,
        )
        .unwrap();
        assert!(ran.ok(), "kill -{signal} {pid}: {}", ran.stderr);
    };
    let scraped = scrape(&socket);
    assert!(scraped.contains("vmail_"), "metrics:\n{scraped}");
    kill("HUP");
    wait_for(
        "the reload",
        || log().contains("configuration reloaded"),
        log,
    );
    drop_job(&spool, "two.eml", &eml(&to, &message_id("strace-two")));
    wait_for_within(
        "the job after the reload delivered",
        Duration::from_secs(60),
        || delivered(2),
        log,
    );
    kill("TERM");
    let mut status = None;
    wait_for(
        "vmaild (and strace) to exit after SIGTERM",
        || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        },
        log,
    );
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{}", log());

    let traced = traced_syscalls(&fs::read_to_string(&summary).unwrap());
    assert!(
        traced.contains("inotify_add_watch") && traced.contains("epoll_wait"),
        "an implausible trace: {traced:?}"
    );
    if servers.is_some() {
        assert!(
            traced.contains("connect"),
            "no connect() traced: {traced:?}"
        );
    }
    let outside: Vec<&String> = traced.difference(&allowed).collect();
    eprintln!(
        "vmaild made {} distinct system calls, all in the unit's filter of {}",
        traced.len(),
        allowed.len()
    );
    assert!(
        outside.is_empty(),
        "vmaild calls what vmaild.service's SystemCallFilter= refuses (EPERM): {outside:?}\n\
         traced: {traced:?}"
    );
    let _ = fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// Under a real systemd.

#[test]
fn the_unit_runs_under_a_real_systemd_in_a_container() {
    if !is_root() {
        eprintln!("skipped: booting a container needs root");
        return;
    }
    if !tool("nspawn", "systemd-nspawn") {
        return;
    }
    let servers = servers();
    let dir = tempdir("nspawn");
    let files = dir.join("files");
    fs::create_dir_all(&files).unwrap();
    // unit-in-nspawn.sh installs these files into the container's /etc/vmail.
    let (ini, to) = config(&files, "/etc/vmail", servers.as_ref());
    let ini = ini
        .replace("spool = /etc/vmail/spool", "spool = /var/spool/vmail")
        .replace(
            "mail-server = file:/etc/vmail/spool/capture",
            "mail-server = file:/var/spool/vmail/capture",
        );
    // The metrics endpoint on the socket docs/monitoring.md suggests, which
    // the unit's RuntimeDirectory= makes writable.
    let ini = ini.replacen(
        "[VMAIL]\n",
        "[VMAIL]\nmetrics-listen = /run/vmail/metrics.sock\n",
        1,
    );
    fs::write(files.join("vsisrv.ini"), ini).unwrap();
    let out = dir.join("out");
    let vmaild = workspace_binary("vmail-daemon", "vmaild");
    let ran = run_bounded(
        Command::new("bash")
            .arg(repo_root().join("packaging/tests/unit-in-nspawn.sh"))
            .arg(&vmaild)
            .arg(&out)
            .env("VMAIL_NSPAWN_FILES", &files)
            .env("VMAIL_NSPAWN_RCPT", &to),
        "unit-in-nspawn.sh",
        Duration::from_secs(400),
    )
    .unwrap();
    let said = format!("{}{}", ran.stdout, ran.stderr);
    if ran.status.code() == Some(77) {
        eprintln!("not run: {said}");
        return;
    }
    let journal = fs::read_to_string(out.join("journal")).unwrap_or_default();
    assert!(
        ran.ok(),
        "vmaild.service under systemd in systemd-nspawn: {said}\njournal:\n{journal}"
    );
    eprintln!(
        "vmaild.service ran under systemd in systemd-nspawn: {}",
        fs::read_to_string(out.join("status")).unwrap_or_default()
    );
    let metrics = fs::read_to_string(out.join("metrics")).unwrap_or_default();
    assert!(metrics.contains("vmail_"), "scraped:\n{metrics}");
    if let Some(servers) = &servers {
        // The probe's two jobs reached the mailbox through Postfix.
        let ids = fs::read_to_string(out.join("message-ids")).unwrap();
        for id in ids.lines() {
            wait_for(
                &format!("{id} in the Maildir"),
                || !servers.find_message(id).is_empty(),
                || journal.clone(),
            );
        }
    }
    let _ = fs::remove_dir_all(&dir);
}
