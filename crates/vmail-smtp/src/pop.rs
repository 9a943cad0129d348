//! POP-before-SMTP: a POP3 login (USER/PASS, in clear or over implicit TLS)
//! and QUIT, then the configured wait, before the SMTP session. A `-ERR` is a
//! transmission error of the job, reported with the POP server's words.

use crate::conn::{Stream, connect_tcp, timed_out};
use crate::error::{SmtpError, Step, TlsSetupError};
use crate::tls::TlsContext;
use crate::transcript::Transcript;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use vmail_core::PopSettings;

/// A POP3 reply line is at most 512 bytes (RFC 1939); allow some slack.
const MAX_LINE: u64 = 4096;

struct Pop<'a> {
    stream: BufReader<Stream>,
    settings: &'a PopSettings,
    timeout: Duration,
    transcript: &'a mut Transcript,
}

/// Logs in to the POP3 server, quits, and waits `settings.delay`.
pub(crate) async fn pop_before_smtp(
    settings: &PopSettings,
    tls: Option<&TlsContext>,
    timeout: Duration,
    transcript: &mut Transcript,
) -> Result<(), SmtpError> {
    transcript.note(format!(
        "POP-before-SMTP: {}:{}{}",
        settings.host,
        settings.port,
        if settings.tls { " (TLS)" } else { "" }
    ));
    let tcp = connect_tcp(&settings.host, settings.port, timeout).await?;
    let stream = match (settings.tls, tls) {
        (false, _) => Stream::Plain(tcp),
        (true, Some(ctx)) => {
            let (tls, _) = ctx
                .for_pop()
                .handshake(&settings.host, tcp, timeout, transcript)
                .await?;
            Stream::Tls(Box::new(tls))
        }
        (true, None) => {
            return Err(SmtpError::TlsConfig {
                detail: TlsSetupError::NoPopContext,
            });
        }
    };
    let mut pop = Pop {
        stream: BufReader::new(stream),
        settings,
        timeout,
        transcript,
    };
    pop.login().await?;
    pop.transcript.note(format!(
        "POP-before-SMTP done; waiting {} ms before SMTP",
        settings.delay.as_millis()
    ));
    tokio::time::sleep(settings.delay).await;
    Ok(())
}

impl Pop<'_> {
    async fn login(&mut self) -> Result<(), SmtpError> {
        let [user, password, ..] = self.settings.responses.as_slice() else {
            return Err(self.failed("USER", "pop-rsp needs a user and a password".to_string()));
        };
        self.expect_ok("greeting").await?;
        self.send(&format!("USER {}", user.expose()), None).await?;
        self.expect_ok("USER").await?;
        let pass = vmail_core::Secret::new(format!("PASS {}", password.expose()));
        self.send(pass.expose(), Some("PASS <redacted>")).await?;
        self.expect_ok("PASS").await?;
        self.send("QUIT", None).await?;
        // The answer to QUIT does not matter: the login already counted.
        let _ = self.read_line().await;
        Ok(())
    }

    async fn send(&mut self, wire: &str, shown: Option<&str>) -> Result<(), SmtpError> {
        self.transcript.client(shown.unwrap_or(wire));
        let line = vmail_core::Secret::new(format!("{wire}\r\n"));
        let write = async {
            let stream = self.stream.get_mut();
            stream.write_all(line.expose().as_bytes()).await?;
            stream.flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Err(_) => Err(timed_out(Step::Pop, self.timeout)),
            Ok(Err(source)) => Err(SmtpError::Io {
                step: Step::Pop,
                source,
            }),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn read_line(&mut self) -> Result<String, SmtpError> {
        let mut line = Vec::new();
        let mut limited = (&mut self.stream).take(MAX_LINE);
        let read = limited.read_until(b'\n', &mut line);
        match tokio::time::timeout(self.timeout, read).await {
            Err(_) => Err(timed_out(Step::Pop, self.timeout)),
            Ok(Err(source)) => Err(SmtpError::Io {
                step: Step::Pop,
                source,
            }),
            Ok(Ok(0)) => Err(SmtpError::ConnectionClosed { step: Step::Pop }),
            Ok(Ok(_)) => {
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                self.transcript.server(text.as_str());
                Ok(text)
            }
        }
    }

    async fn expect_ok(&mut self, command: &'static str) -> Result<(), SmtpError> {
        let line = self.read_line().await?;
        if line.starts_with("+OK") {
            Ok(())
        } else {
            Err(self.failed(command, line))
        }
    }

    fn failed(&self, command: &'static str, response: String) -> SmtpError {
        SmtpError::Pop {
            host: self.settings.host.clone(),
            port: self.settings.port,
            command,
            response,
        }
    }
}
