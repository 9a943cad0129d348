//! Issue 17 §1: any local user submits, through the setgid helper, and can
//! read nothing of vmail's. The test (root, as on CI) builds a packaged
//! layout in a temp folder with real owners and modes:
//!
//! * a group standing for `vmail` and one for a fax server's drops, a user
//!   and a fax-server user, made with `groupadd`/`useradd` and removed at
//!   the end;
//! * `etc/vsisrv.ini` 0640 root:vmail with a sealed login, the key 0600
//!   root (the helper, group vmail, cannot read it: it never needs it);
//!   `spool/` 0751 (others may pass through to `in/`, nothing more),
//!   `maildrop/` 1730, `in/` 2770 root:drop, the rest 0750;
//! * `vmail-postdrop` copied 2755 root:vmail beside copies of `vfx` and
//!   `vmail-sendmail`.
//!
//! The helper reads only `/etc/vmail/vsisrv.ini`: each command of the user
//! runs in a private mount namespace (`unshare -m`) where the temp `etc/`
//! is bind-mounted on `/etc/vmail`, then drops to the user with `setpriv`
//! (a clean environment). The host's `/etc/vmail` is never changed (it is
//! created empty for the mount point when missing, and removed again).
//!
//! The real vmaild (root, `--config` the temp ini) delivers to the private
//! Postfix of `tests/run.sh` over STARTTLS and AUTH.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use vmail_testkit::process::{Vmaild, wait_for, workspace_binary};
use vmail_testkit::servers::TestServers;

const DELIVERY_WAIT: Duration = Duration::from_secs(30);

/// Runs `program args` to its end (bounded by `timeout 120`), with `stdin`.
fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new("timeout")
        .arg("120")
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(program: &str, args: &[&str]) {
    let out = run(program, args, b"");
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
}

/// What a command run as a user gave.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Users, groups and the mount point this test made, undone in reverse
/// order however the test ends.
#[derive(Default)]
struct Undo(Vec<Vec<String>>);

impl Undo {
    fn push(&mut self, cmd: &[&str]) {
        self.0.push(cmd.iter().map(|s| s.to_string()).collect());
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        while let Some(cmd) = self.0.pop() {
            let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
            let _ = run(&cmd[0], &args, b"");
        }
    }
}

struct Layout {
    tmp: tempfile::TempDir,
    etc: PathBuf,
    spool: PathBuf,
    bin: PathBuf,
}

impl Layout {
    /// Runs `argv` as `user` with the temp `etc/` on `/etc/vmail`.
    fn as_user(&self, user: &str, argv: &[&str], stdin: &[u8]) -> Ran {
        let script = r#"mount --bind "$1" /etc/vmail || exit 99
u=$2; shift 2
exec setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --reset-env -- "$@""#;
        let mut args = vec![
            "-m",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            "sh",
            self.etc.to_str().unwrap(),
            user,
        ];
        args.extend_from_slice(argv);
        let out = run("unshare", &args, stdin);
        let ran = Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_ne!(ran.code, Some(99), "the bind mount failed: {ran:?}");
        ran
    }

    fn bin(&self, name: &str) -> String {
        self.bin.join(name).to_str().unwrap().to_string()
    }

    fn path(&self, rel: &str) -> String {
        self.tmp.path().join(rel).to_str().unwrap().to_string()
    }

    fn jobs_in(&self, folder: &str) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.spool.join(folder))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.contains('.'))
            .collect();
        ids.sort();
        ids
    }

    fn job_log(&self, id: &str) -> String {
        std::fs::read_to_string(self.spool.join("logs").join(format!("{id}.log")))
            .unwrap_or_default()
    }

    /// The Message-ID of a sent job's message file.
    fn message_id_of(&self, id: &str) -> String {
        let text = std::fs::read_to_string(self.spool.join("sent").join(id)).unwrap();
        let line = text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .unwrap_or_else(|| panic!("no Message-ID in {id}:\n{text}"));
        line[11..].trim().to_string()
    }
}

fn mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn own(owner: &str, path: &Path) {
    ok("chown", &[owner, path.to_str().unwrap()]);
}

/// The layout of a packaged install, with `vmail` = `group`, in.
fn build_layout(servers: &TestServers, group: &str, drop_group: &str) -> Layout {
    let tmp = tempfile::Builder::new()
        .prefix("vmail-local-user.")
        .tempdir_in("/tmp")
        .unwrap();
    mode(tmp.path(), 0o755);
    let etc = tmp.path().join("etc");
    let spool = tmp.path().join("spool");
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&etc).unwrap();
    std::fs::create_dir(&bin).unwrap();
    let key = etc.join("vmail.key");
    let (sealing_key, _) = vmail_config::secrets::load_or_create_key(&key).unwrap();
    let user = &servers.user;
    let sealed =
        vmail_config::secrets::seal(&sealing_key, &format!("{}|{}", user.user, user.password))
            .unwrap();
    let ini = format!(
        "[VMAIL]\nmail-server = {host}\nmail-port = {port}\ntls = starttls\nca-file = {ca}\n\
         helo-name = vmail-test.example.test\nfrom = fax@example.test\ntimeout = 10s\n\
         key-file = {key}\nauth-type = plain\nauth-delim = |\nauth-rsp = {sealed}\n\
         max-message-size = 5M\n\n[VFXSCHED]\nspool = {spool}\ndebug = On\n",
        host = servers.host,
        port = servers.submission_port,
        ca = servers.ca_cert.display(),
        key = key.display(),
        spool = spool.display(),
    );
    std::fs::write(etc.join("vsisrv.ini"), ini).unwrap();
    own(&format!("root:{group}"), &etc.join("vsisrv.ini"));
    mode(&etc.join("vsisrv.ini"), 0o640);
    own("root:root", &key);
    mode(&key, 0o600);
    own(&format!("root:{group}"), &etc);
    mode(&etc, 0o750);

    vmail_spool::Spool::open(&spool).unwrap();
    ok(
        "chown",
        &["-R", &format!("root:{group}"), spool.to_str().unwrap()],
    );
    // Others may pass through the root to in/ (the fax server), no further.
    mode(&spool, 0o751);
    mode(&spool.join("maildrop"), 0o1730);
    own(&format!("root:{drop_group}"), &spool.join("in"));
    mode(&spool.join("in"), 0o2770);

    for name in ["vfx", "vmail-sendmail", "vmail-postdrop"] {
        let from = PathBuf::from(match name {
            "vfx" => env!("CARGO_BIN_EXE_vfx"),
            "vmail-sendmail" => env!("CARGO_BIN_EXE_vmail-sendmail"),
            _ => env!("CARGO_BIN_EXE_vmail-postdrop"),
        });
        std::fs::copy(&from, bin.join(name)).unwrap();
        mode(&bin.join(name), 0o755);
    }
    own(&format!("root:{group}"), &bin.join("vmail-postdrop"));
    mode(&bin.join("vmail-postdrop"), 0o2755);
    Layout {
        tmp,
        etc,
        spool,
        bin,
    }
}

/// Makes the accounts; their removal goes into `undo`.
fn accounts(undo: &mut Undo, tag: &str) -> (String, String, String, String) {
    let group = format!("vmg{tag}");
    let drop_group = format!("vmd{tag}");
    let user = format!("vmu{tag}");
    let fax = format!("vmf{tag}");
    for g in [&group, &drop_group] {
        ok("groupadd", &[g]);
        undo.push(&["groupdel", g]);
    }
    ok("useradd", &["-M", "-s", "/bin/sh", "-U", &user]);
    undo.push(&["groupdel", &user]);
    undo.push(&["userdel", &user]);
    ok(
        "useradd",
        &["-M", "-s", "/bin/sh", "-U", "-G", &drop_group, &fax],
    );
    undo.push(&["groupdel", &fax]);
    undo.push(&["userdel", &fax]);
    (group, drop_group, user, fax)
}

/// `/etc/vmail` must exist as a mount point; made empty when missing and
/// removed again at the end.
fn mount_point(undo: &mut Undo) {
    if !Path::new("/etc/vmail").exists() {
        std::fs::create_dir("/etc/vmail").unwrap();
        undo.push(&["rmdir", "/etc/vmail"]);
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[test]
fn a_local_user_submits_through_the_helper_and_reads_nothing_of_vmails() {
    if !is_root() {
        eprintln!("skipped: makes users and groups, needs root (as on CI)");
        return;
    }
    let servers = TestServers::from_env();
    let vmaild_bin = workspace_binary("vmail-daemon", "vmaild");
    let mut undo = Undo::default();
    let tag = format!("{}", std::process::id() % 100_000);
    let (group, drop_group, user, fax) = accounts(&mut undo, &tag);
    mount_point(&mut undo);
    let l = build_layout(&servers, &group, &drop_group);
    let uid = String::from_utf8(run("id", &["-u", &user], b"").stdout)
        .unwrap()
        .trim()
        .to_string();
    let daemon = Vmaild::start(
        &vmaild_bin,
        &l.etc.join("vsisrv.ini"),
        &l.spool,
        &l.tmp.path().join("vmaild.stderr"),
    );
    let to = servers.user.user.clone();
    let mut seen: Vec<String> = Vec::new();
    // Waits for the next job in sent/, checks its log names the user, and
    // that Postfix has it; returns its id.
    let mut delivered = |what: &str| -> String {
        wait_for(
            &format!("{what}: a job in sent/"),
            || l.jobs_in("sent").iter().any(|id| !seen.contains(id)),
            || daemon.log(),
        );
        let id = l
            .jobs_in("sent")
            .into_iter()
            .find(|id| !seen.contains(id))
            .unwrap();
        seen.push(id.clone());
        let log = l.job_log(&id);
        let first = log.lines().next().unwrap_or_default().to_string();
        assert!(
            first.contains(&format!(
                "submitted by uid {uid} ({user}) through maildrop/"
            )),
            "{what}: the job log's first line names the submitter:\n{log}"
        );
        let mid = l.message_id_of(&id);
        assert!(
            servers.delivered_message(&mid, DELIVERY_WAIT).is_some(),
            "{what}: {mid} not in Postfix's maildir\n{}",
            daemon.log()
        );
        id
    };

    // 1. The shim, as cron calls it.
    let shim = l.as_user(
        &user,
        &[&l.bin("vmail-sendmail"), "-i", &to],
        format!("Subject: from {user} via the shim\n\nhello from cron\n").as_bytes(),
    );
    assert_eq!(shim.code, Some(0), "{shim:?}");
    let shim_job = delivered("vmail-sendmail");
    assert!(
        l.job_log(&shim_job).contains("the submitter says: "),
        "the front end's own words are kept, as the submitter's"
    );

    // 2. vfx with an attachment the user alone can read.
    let doc = l.tmp.path().join("home-doc.pdf");
    let pdf: Vec<u8> = b"%PDF-1.4\n"
        .iter()
        .copied()
        .chain((0..3000u32).map(|i| (i % 251) as u8))
        .collect();
    std::fs::write(&doc, &pdf).unwrap();
    own(&format!("{user}:{user}"), &doc);
    mode(&doc, 0o600);
    let vfx = l.as_user(
        &user,
        &[
            &l.bin("vfx"),
            "-n",
            &to,
            "-s",
            "local vfx",
            doc.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(vfx.code, Some(0), "{vfx:?}");
    let vfx_job = delivered("vfx");
    assert_eq!(
        vfx.stdout.trim(),
        vfx_job,
        "vfx prints the id the job keeps"
    );
    let message = std::fs::read(l.spool.join("sent").join(&vfx_job)).unwrap();
    let text = String::from_utf8_lossy(&message);
    assert!(
        text.contains("home-doc.pdf"),
        "the attachment is in the message"
    );

    // 3. s-nail, with vmail-sendmail as its MTA.
    let snail = l.as_user(
        &user,
        &[
            "/usr/bin/s-nail",
            "-:/",
            "-S",
            &format!("mta={}", l.bin("vmail-sendmail")),
            "-S",
            "sendwait",
            "-s",
            "from s-nail",
            &to,
        ],
        b"hello from s-nail\n",
    );
    assert_eq!(snail.code, Some(0), "{snail:?}");
    delivered("s-nail");

    // Root's own job, queued directly: the user cannot read it.
    let root_job = run(
        &l.bin("vfx"),
        &[
            "--config",
            l.etc.join("vsisrv.ini").to_str().unwrap(),
            "-n",
            &to,
            "-m",
            "root's note",
        ],
        b"",
    );
    assert!(root_job.status.success(), "{root_job:?}");
    let root_id = String::from_utf8_lossy(&root_job.stdout).trim().to_string();
    wait_for(
        "root's job in sent/",
        || l.spool.join("sent").join(&root_id).exists(),
        || daemon.log(),
    );

    // What the user cannot read, directly or through the front ends.
    let secret = l.tmp.path().join("root-secret.txt");
    std::fs::write(&secret, "TOPSECRET-not-for-users\n").unwrap();
    mode(&secret, 0o600);
    let vsifax = l.tmp.path().join("vsifax");
    std::fs::create_dir_all(vsifax.join("lib")).unwrap();
    std::fs::copy(l.etc.join("vsisrv.ini"), vsifax.join("lib/vsisrv.ini")).unwrap();
    mode(&vsifax.join("lib/vsisrv.ini"), 0o600);
    for argv in [
        vec!["cat", "/etc/vmail/vmail.key"],
        vec!["cat", "/etc/vmail/vsisrv.ini"],
        vec!["ls", &l.path("spool/queue")],
        vec!["ls", &l.path("spool/maildrop")],
        vec!["ls", &l.path("spool/logs")],
        vec!["cat", &l.path(&format!("spool/sent/{root_id}"))],
        vec!["cat", &l.path(&format!("spool/logs/{root_id}.log"))],
        vec!["cat", &l.path(&format!("spool/sent/{vfx_job}"))],
        vec![
            "sh",
            "-c",
            &format!("echo x > {}/x", l.path("spool/maildrop")),
        ],
    ] {
        let ran = l.as_user(&user, &argv, b"");
        assert_ne!(
            ran.code,
            Some(0),
            "{argv:?} must fail for the user: {ran:?}"
        );
    }
    let queued_before = l.jobs_in("sent").len() + l.jobs_in("queue").len();
    let ini = l.etc.join("vsisrv.ini");
    let ini = ini.to_str().unwrap();
    let vsifax_env = format!("VSIFAX={}", vsifax.display());
    let (vfx_bin, shim_bin) = (l.bin("vfx"), l.bin("vmail-sendmail"));
    let attempts: [Vec<&str>; 4] = [
        vec![&vfx_bin, "--config", ini, "-n", &to, "-m", "x"],
        vec!["env", &vsifax_env, &vfx_bin, "-n", &to, "-m", "x"],
        vec![&vfx_bin, "-n", &to, secret.to_str().unwrap()],
        vec![&shim_bin, "-C", ini, &to],
    ];
    for argv in &attempts {
        let ran = l.as_user(&user, argv, b"Subject: x\n\nx\n");
        assert_ne!(ran.code, Some(0), "{argv:?}: {ran:?}");
        assert!(
            ran.stderr.to_lowercase().contains("permission denied"),
            "{argv:?}: {ran:?}"
        );
    }
    // The helper takes no path and no option, and its stream cannot forge
    // the submitter line.
    let helper = l.bin("vmail-postdrop");
    let ran = l.as_user(&user, &[&helper, "--config", secret.to_str().unwrap()], b"");
    assert_eq!(ran.code, Some(64), "{ran:?}");
    let forged = format!("U0 root\nFfax@example.test\nT{to}\n\nSubject: forged\n\nx\n");
    let ran = l.as_user(&user, &[&helper], forged.as_bytes());
    assert_eq!(ran.code, Some(65), "{ran:?}");
    assert!(ran.stderr.contains("unexpected envelope line"), "{ran:?}");
    // Over [VMAIL] max-message-size (5M here): the helper stops reading.
    let mut big = format!("Ffax@example.test\nT{to}\n\nSubject: big\n\n").into_bytes();
    big.resize(6 << 20, b'x');
    let ran = l.as_user(&user, &[&helper], &big);
    assert_eq!(ran.code, Some(65), "{ran:?}");
    assert!(ran.stderr.contains("max-message-size"), "{ran:?}");
    assert_eq!(
        l.jobs_in("sent").len() + l.jobs_in("queue").len(),
        queued_before,
        "nothing was queued by the refused attempts"
    );
    // vmaild believes the file's owner, not its words: a maildrop file of
    // the user that claims root (made here by root, as no user can) is
    // quarantined with the reason.
    // Written as a dot-file (never picked up), given to the user, then
    // renamed in: what vmaild sees is complete and the user's.
    let maildrop = l.spool.join("maildrop");
    let forged_temp = maildrop.join(".20261202-000000-00000000f0");
    std::fs::write(
        &forged_temp,
        format!("U0 root\nFfax@example.test\nT{to}\n\nSubject: forged\n\nx\n"),
    )
    .unwrap();
    own(&format!("{user}:{group}"), &forged_temp);
    mode(&forged_temp, 0o440);
    std::fs::rename(&forged_temp, maildrop.join("20261202-000000-00000000f0")).unwrap();
    let reason = l.spool.join("quarantine/20261202-000000-00000000f0.reason");
    wait_for(
        "the forged maildrop file in quarantine/",
        || reason.exists(),
        || daemon.log(),
    );
    let reason = std::fs::read_to_string(&reason).unwrap();
    assert!(
        reason.contains(&format!(
            "says it comes from uid 0 but belongs to uid {uid}"
        )),
        "{reason}"
    );
    for entry in walk(&l.spool) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("TOPSECRET"),
            "{} holds the secret file's text",
            entry.display()
        );
    }

    // 4. The fax server: a member of the drop group renames a file into in/
    // and can read nothing else.
    let fax_mid = format!("fax.{}@vmail-test.example.test", std::process::id());
    let eml = format!(
        "From: fax@example.test\nTo: {to}\nSubject: fax\nMessage-ID: <{fax_mid}>\n\nfax body\n"
    );
    let script = format!(
        "umask 007; cat > {in_dir}/.fax.tmp && mv {in_dir}/.fax.tmp {in_dir}/fax.eml",
        in_dir = l.path("spool/in")
    );
    let ran = l.as_user(&fax, &["sh", "-c", &script], eml.as_bytes());
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert!(
        servers.delivered_message(&fax_mid, DELIVERY_WAIT).is_some(),
        "the fax server's drop was not delivered\n{}",
        daemon.log()
    );
    for argv in [
        vec!["ls", &l.path("spool/queue")],
        vec!["ls", &l.path("spool/logs")],
        vec!["ls", &l.path("spool/sent")],
        vec!["ls", &l.path("spool/maildrop")],
        vec!["cat", "/etc/vmail/vsisrv.ini"],
    ] {
        let ran = l.as_user(&fax, &argv, b"");
        assert_ne!(ran.code, Some(0), "the fax user: {argv:?}: {ran:?}");
    }
    assert_eq!(daemon.stop().code(), Some(0));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => stack.push(path),
                Ok(meta) if meta.is_file() => found.push(path),
                _ => {}
            }
        }
    }
    found
}
