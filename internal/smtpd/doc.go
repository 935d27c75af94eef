// Package smtpd is mailhorn's SMTP server engine (Postfix's smtpd(8)): it
// speaks ESMTP to clients, asks a Policy at each stage, and streams
// accepted messages into the queue through a Submitter (cleanup.Submit),
// answering "250 2.0.0 Ok: queued as ID" only once the queue file is
// durable. The same engine serves LMTP (RFC 2033) when Options.LMTP is set.
//
// It reads no configuration: the wiring fills Options from main.cf and
// master.cf and implements Policy with the smtpd_*_restrictions.
//
// Why not github.com/emersion/go-smtp: Postfix fidelity needs control the
// library does not give: per-command counters for the "disconnect from …
// ehlo=1 mail=1 rcpt=0/1 data=1 quit=1 commands=4/5" line, hard and soft
// error limits with the error sleep, Postfix's exact reply texts with an
// enhanced status code on every reply, end-of-data detection that is safe
// against SMTP smuggling and the smtpd_forbid_bare_newline policy,
// discarding input pipelined before STARTTLS, and BDAT chunks streamed into
// the queue as they arrive.
//
// The wire codec lives in files of its own so that it can be fuzzed alone:
// wire_command.go (command lines), wire_reply.go (replies), wire_data.go
// (the DATA dot-unstuffing reader) and wire_bdat.go (BDAT arguments).
//
// Security notes:
//   - Only <CR><LF>.<CR><LF> ends DATA (unless BareNewlineAllow is chosen):
//     <LF>.<LF>, <CR>.<CR> and <LF>.<CR><LF> are content, so a message
//     cannot smuggle a second one past a server that reads differently.
//   - After STARTTLS the input buffered before the handshake is discarded,
//     never executed (CVE-2011-0411), and HELO, MAIL and RCPT are forgotten.
//   - Lines are bounded (line_length_limit for commands, the buffer size
//     for content lines, which are streamed); messages are never held in
//     memory whole; every read and write has smtpd_timeout.
//   - AUTH: the session adds no delay of its own after a failure (the
//     Authenticator's delay is the only one), and an unknown user and a
//     wrong password get the same reply and log line; responses are
//     bounded by smtpd_sasl_response_limit; passwords are never logged.
//   - A panic in a session (a policy, the submitter) is logged with its
//     stack; that session answers 421 4.3.0 and ends, others carry on.
//   - Text from the client is neutered before it reaches replies, logs and
//     the Received header.
//
// Standards: RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 2920 (PIPELINING),
// RFC 2034 and RFC 3463 (enhanced status codes), RFC 6152 (8BITMIME),
// RFC 3030 (CHUNKING, BINARYMIME), RFC 3461 (DSN parameters), RFC 6531
// (SMTPUTF8), RFC 3207 (STARTTLS), RFC 8314 (implicit TLS, wrapper mode),
// RFC 4954 (AUTH), RFC 3848 (ESMTPA/ESMTPSA), RFC 2033 (LMTP); Postfix smtpd(8) and
// postconf(5) for replies, limits and logging.
package smtpd
