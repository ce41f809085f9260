//! Decoders for what a program sends to the kernel, so a test can assert exactly what a
//! library emitted. Thin over [`netfilter_safe::wire`]'s parsers.

use netfilter_safe::wire::{
    BatchVerdict, LogConfig, Message, Messages, NlMsg, QueueConfig, Verdict, WireError,
};

/// Decodes a buffer holding one queue configuration message.
///
/// # Errors
/// Any [`WireError`], including [`WireError::UnexpectedMessage`] for another message type.
pub fn decode_queue_config(buf: &[u8]) -> Result<QueueConfig<'_>, WireError> {
    QueueConfig::parse(&NlMsg::new_checked(buf)?)
}

/// Decodes a buffer holding one verdict (`NFQNL_MSG_VERDICT`).
///
/// # Errors
/// As [`decode_queue_config`].
pub fn decode_verdict(buf: &[u8]) -> Result<Verdict<'_>, WireError> {
    Verdict::parse(&NlMsg::new_checked(buf)?)
}

/// Decodes a buffer holding one batch verdict (`NFQNL_MSG_VERDICT_BATCH`).
///
/// # Errors
/// As [`decode_queue_config`].
pub fn decode_batch_verdict(buf: &[u8]) -> Result<BatchVerdict<'_>, WireError> {
    BatchVerdict::parse(&NlMsg::new_checked(buf)?)
}

/// Decodes a buffer holding one log configuration message.
///
/// # Errors
/// As [`decode_queue_config`].
pub fn decode_log_config(buf: &[u8]) -> Result<LogConfig<'_>, WireError> {
    LogConfig::parse(&NlMsg::new_checked(buf)?)
}

/// Decodes every message of a datagram a program sent (several messages may share one
/// `sendmsg`), failing on the first malformed one.
///
/// # Errors
/// The first [`WireError`].
pub fn decode_sent(datagram: &[u8]) -> Result<Vec<Message<'_>>, WireError> {
    Messages::new(datagram).collect()
}
