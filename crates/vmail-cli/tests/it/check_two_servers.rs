//! `vfxadmin check` with two servers in `[VMAIL] mail-server`: each is
//! checked under its own heading, then one verdict per server says whether
//! the daemon sends through it or passes it over; sending works when one
//! server does.
use crate::check_support;

use check_support::*;
use vmail_testkit::fault::{FaultServer, Script};

fn two(first: u16, second: u16) -> CheckEnv {
    CheckEnv::new(&format!(
        "mail-server = 127.0.0.1:{first}, 127.0.0.1:{second}\ntls = none\ntimeout = 1\n\
         helo-name = client.test\n"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_first_server_is_passed_over_for_a_working_second() {
    let busy = FaultServer::start(Script::new().greeting("421 4.3.2 Service not available"))
        .await
        .unwrap();
    let good = FaultServer::start(Script::new()).await.unwrap();
    let (b, g) = (busy.port(), good.port());
    let run = two(b, g).check_async(&[]).await;
    assert_exit(&run, 0);
    assert!(
        run.stdout.starts_with(&format!(
            "=== server 1 of 2: 127.0.0.1:{b} ===\nvfxadmin check: 127.0.0.1:{b} with tls=none"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "=== server 2 of 2: 127.0.0.1:{g} ===\nvfxadmin check: 127.0.0.1:{g} with tls=none"
        )),
        "{}",
        run.stdout
    );
    assert_verdict(
        &run,
        &format!(
            "[warn] server 1, 127.0.0.1:{b}: does not work, the daemon passes it over for \
             127.0.0.1:{g}: 421 4.3.2: the server does not accept connections now; try again \
             later, and if it lasts, ask the mail server's administrator (it said: Service not \
             available)"
        ),
    );
    assert_verdict(
        &run,
        &format!("[ ok ] server 2, 127.0.0.1:{g}: works; the daemon sends through it"),
    );
    assert!(
        run.stdout.ends_with("Result: sending would work.\n"),
        "{}",
        run.stdout
    );
    assert!(good.received("EHLO"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_failing_servers_fail_each_with_its_own_verdict() {
    let busy = FaultServer::start(Script::new().greeting("421 4.3.2 busy"))
        .await
        .unwrap();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let b = busy.port();
    let run = two(closed, b).check_async(&["--json"]).await;
    assert_exit(&run, 1);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["works"], false);
    let servers = value["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(servers[0]["server"], format!("127.0.0.1:{closed}"));
    assert_eq!(servers[1]["server"], format!("127.0.0.1:{b}"));
    let summary = value["summary"].as_array().unwrap();
    assert_eq!(summary[0]["level"], "fail");
    assert!(
        summary[0]["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("server 1, 127.0.0.1:{closed}: does not work: ")),
        "{summary:?}"
    );
    assert_eq!(summary[1]["level"], "fail");
    assert!(
        summary[1]["text"].as_str().unwrap().starts_with(&format!(
            "server 2, 127.0.0.1:{b}: does not work: 421 4.3.2: "
        )),
        "{summary:?}"
    );
}
