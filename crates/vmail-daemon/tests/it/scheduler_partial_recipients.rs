//! One recipient accepted, one refused, one deferred: the accepted one is
//! never sent again, the refused one is reported to the sender, and the
//! deferred one goes on alone as a new job.

use crate::common::*;
use mail_parser::MimeHeaders;
use vmail_daemon::lifecycle::Control;
use vmail_daemon::scheduler::Mode;

#[tokio::test]
async fn each_recipient_gets_what_its_reply_says() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), TENTH, MINUTE);
    let fake = Fake::scripted(vec![Answer::Recipients(vec![
        Some(true),
        Some(false),
        None,
    ])]);
    let run = start(config, fake.clone(), Mode::Daemon);
    let rcpts = ["ok@example.test", "bad@example.test", "later@example.test"];
    submit(&run.spool, &rcpts, "split");
    run.rescan().await;
    wait_until("the job, its notice and the requeued rest sent", || {
        count(&run.spool.sent_dir()) == 3
    })
    .await;

    let attempts = fake.attempts();
    assert_eq!(
        attempts.len(),
        3,
        "{:?}",
        attempts.iter().map(|a| &a.1.envelope).collect::<Vec<_>>()
    );
    let retried: Vec<_> = attempts
        .iter()
        .filter(|(_, a)| a.envelope.recipients == ["later@example.test"])
        .collect();
    assert_eq!(
        retried.len(),
        1,
        "the deferred recipient is tried again alone"
    );
    assert!(attempts.iter().skip(1).all(|(_, a)| {
        !a.envelope
            .recipients
            .contains(&"ok@example.test".to_string())
    }));
    let notice = attempts
        .iter()
        .find(|(_, a)| a.envelope.from.is_empty())
        .unwrap();
    let entry = std::fs::read(run.spool.sent_dir().join(notice.1.id.as_str())).unwrap();
    let header = vmail_spool::read_header(&mut entry.as_slice()).unwrap();
    let text = String::from_utf8(entry[header.len as usize..].to_vec()).unwrap();
    // An RFC 3464 report that mail programs show as a bounce: the refused
    // recipient with its own reply, the deferred one as delayed, the
    // delivered one named as delivered, and the job where it really is.
    let parsed = mail_parser::MessageParser::default()
        .parse(text.as_bytes())
        .unwrap();
    let content_type = parsed.content_type().unwrap();
    assert_eq!(content_type.ctype(), "multipart");
    assert_eq!(content_type.subtype(), Some("report"));
    assert_eq!(
        content_type.attribute("report-type"),
        Some("delivery-status"),
        "{text}"
    );
    assert!(
        text.contains("Final-Recipient: rfc822; bad@example.test"),
        "{text}"
    );
    assert!(
        text.contains("Diagnostic-Code: smtp; 550 scripted 550"),
        "{text}"
    );
    assert!(
        text.contains("Final-Recipient: rfc822; later@example.test"),
        "{text}"
    );
    assert!(text.contains("Action: delayed"), "{text}");
    assert!(
        !text.contains("Final-Recipient: rfc822; ok@example.test"),
        "{text}"
    );
    assert!(
        text.contains("ok@example.test"),
        "the delivered one is named: {text}"
    );
    assert!(
        text.contains("sent/") && !text.contains("failed/"),
        "{text}"
    );
    assert!(!text.contains("Reason: delivered"), "{text}");
    let log = run.spool.read_job_log(&attempts[0].1.id).unwrap();
    assert!(
        log.contains("1 recipient(s) deferred: they go on as job"),
        "{log}"
    );
    run.control.send(Control::Shutdown).await.unwrap();
    run.task.await.unwrap();
}
