//! The connection under a session: a TCP or TLS stream, a read buffer fed to
//! the reply parser, a large write buffer, and the timeout on every step.

use crate::error::{SmtpError, Step};
use crate::reply::{RawReply, ReplyParser};
use crate::transcript::Transcript;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Writes go out in chunks of about this size (and at the end of a batch).
pub(crate) const WRITE_CHUNK: usize = 64 * 1024;
const READ_CHUNK: usize = 8 * 1024;

/// A plain or TLS-wrapped TCP stream.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while STARTTLS swaps one for the other.
    Closed,
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Closed => Poll::Ready(Ok(())),
        }
    }
}

/// Opens a TCP connection with `TCP_NODELAY` within `timeout`.
pub(crate) async fn connect_tcp(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, SmtpError> {
    let connect = TcpStream::connect((host, port));
    let tcp = match tokio::time::timeout(timeout, connect).await {
        Err(_) => return Err(timed_out(Step::Connect, timeout)),
        Ok(Err(source)) => {
            return Err(SmtpError::Connect {
                host: host.to_string(),
                port,
                source,
            });
        }
        Ok(Ok(tcp)) => tcp,
    };
    nodelay(tcp)
}

/// [`connect_tcp`] to one address `host` resolved to: the caller tries each
/// in turn (failover), each with its own `timeout`.
pub(crate) async fn connect_address(
    host: &str,
    address: SocketAddr,
    timeout: Duration,
) -> Result<TcpStream, SmtpError> {
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Err(_) => return Err(timed_out(Step::Connect, timeout)),
        Ok(Err(source)) => {
            return Err(SmtpError::Connect {
                host: host.to_string(),
                port: address.port(),
                source,
            });
        }
        Ok(Ok(tcp)) => tcp,
    };
    nodelay(tcp)
}

fn nodelay(tcp: TcpStream) -> Result<TcpStream, SmtpError> {
    // Whole commands and 64 KiB chunks go out in one write each: Nagle would
    // only add a delayed-ACK wait.
    tcp.set_nodelay(true).map_err(|source| SmtpError::Io {
        step: Step::Connect,
        source,
    })?;
    Ok(tcp)
}

pub(crate) fn timed_out(step: Step, timeout: Duration) -> SmtpError {
    SmtpError::Timeout {
        step,
        seconds: timeout.as_secs_f64(),
    }
}

/// One SMTP connection with its transcript.
pub(crate) struct Conn {
    pub stream: Stream,
    pub transcript: Transcript,
    pub timeout: Duration,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    parser: ReplyParser,
}

impl Conn {
    pub fn new(stream: Stream, timeout: Duration, transcript: Transcript) -> Self {
        Conn {
            stream,
            transcript,
            timeout,
            rbuf: Vec::with_capacity(READ_CHUNK),
            wbuf: Vec::with_capacity(WRITE_CHUNK + 1024),
            parser: ReplyParser::default(),
        }
    }

    /// Queues a command; `shown` is what the transcript records instead,
    /// for lines that carry a secret.
    pub fn queue(&mut self, wire: &str, shown: Option<&str>) {
        self.transcript.client(shown.unwrap_or(wire));
        self.wbuf.extend_from_slice(wire.as_bytes());
        self.wbuf.extend_from_slice(b"\r\n");
    }

    /// Queues raw bytes (message data) without a transcript line.
    pub fn queue_raw(&mut self) -> &mut Vec<u8> {
        &mut self.wbuf
    }

    pub fn queued(&self) -> usize {
        self.wbuf.len()
    }

    /// Writes everything queued, within the timeout.
    pub async fn flush(&mut self, step: Step) -> Result<(), SmtpError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let write = async {
            self.stream.write_all(&self.wbuf).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Err(_) => Err(timed_out(step, self.timeout)),
            Ok(Err(source)) => Err(io_error(step, source)),
            Ok(Ok(())) => {
                // AUTH lines pass through this buffer: leave no copy behind.
                self.wbuf.fill(0);
                self.wbuf.clear();
                Ok(())
            }
        }
    }

    /// Sends one command and reads its reply.
    pub async fn command(
        &mut self,
        wire: &str,
        shown: Option<&str>,
        step: Step,
    ) -> Result<vmail_core::Reply, SmtpError> {
        self.queue(wire, shown);
        self.flush(step).await?;
        Ok(self.read_reply(step).await?.reply)
    }

    /// Writes what is queued and reads one reply.
    pub async fn command_reply(&mut self, step: Step) -> Result<vmail_core::Reply, SmtpError> {
        self.flush(step).await?;
        Ok(self.read_reply(step).await?.reply)
    }

    /// Reads the next complete reply, within the timeout.
    pub async fn read_reply(&mut self, step: Step) -> Result<RawReply, SmtpError> {
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.read_reply_unbounded(step)).await {
            Err(_) => Err(timed_out(step, timeout)),
            Ok(result) => result,
        }
    }

    async fn read_reply_unbounded(&mut self, step: Step) -> Result<RawReply, SmtpError> {
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            if !self.rbuf.is_empty() {
                let parsed = self.parser.feed(&mut self.rbuf);
                match parsed {
                    Ok(Some(raw)) => {
                        for line in String::from_utf8_lossy(&raw.raw).lines() {
                            self.transcript.server(line);
                        }
                        return Ok(raw);
                    }
                    Ok(None) => {}
                    Err(detail) => return Err(SmtpError::Protocol { step, detail }),
                }
            }
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|source| io_error(step, source))?;
            if n == 0 {
                return Err(SmtpError::ConnectionClosed { step });
            }
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Whether the server sent bytes nobody asked for yet (before STARTTLS
    /// that would be an injection attempt).
    pub fn has_unread(&self) -> bool {
        !self.rbuf.is_empty()
    }
}

fn io_error(step: Step, source: io::Error) -> SmtpError {
    match source.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionAborted => SmtpError::ConnectionClosed { step },
        _ => SmtpError::Io { step, source },
    }
}
