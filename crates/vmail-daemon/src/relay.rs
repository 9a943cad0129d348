//! The deliverer a configuration asks for.

use crate::capture::CaptureDeliverer;
use crate::deliver::{Attempt, Deliver, ReportSink};
use crate::smtp::SmtpDeliverer;
use vmail_config::{Config, Delivery};

/// Either a real mail server or the capture folder, chosen by
/// `[VMAIL] mail-server`.
pub enum Relay {
    Capture(CaptureDeliverer),
    Smtp(Box<SmtpDeliverer>),
}

impl Relay {
    pub fn for_config(config: &Config) -> Result<Relay, String> {
        match &config.delivery {
            Delivery::Capture { dir } => Ok(Relay::Capture(CaptureDeliverer::new(dir.clone()))),
            Delivery::Smtp(settings) => {
                let transcripts = config.debug >= vmail_core::DebugLevel::Transcript;
                Ok(Relay::Smtp(Box::new(SmtpDeliverer::new(
                    settings.clone(),
                    None,
                    transcripts,
                ))))
            }
        }
    }
}

impl Deliver for Relay {
    async fn deliver(&self, batch: Vec<Attempt>, sink: ReportSink) {
        match self {
            Relay::Capture(capture) => capture.deliver(batch, sink).await,
            Relay::Smtp(smtp) => smtp.deliver(batch, sink).await,
        }
    }

    fn destination(&self) -> String {
        match self {
            Relay::Capture(capture) => capture.destination(),
            Relay::Smtp(smtp) => smtp.destination(),
        }
    }
}
