// Command driver is the measuring half of the imap-fetch benchmark
// (bench/imap-fetch/run.sh): the shell script sets up a private Dovecot
// and a mailhorn over two copies of one generated Maildir, and driver
// generates that Maildir, drives one IMAP session per round against a
// server, times each step and tabulates the results.
//
//	driver gen -dir DIR -manifest FILE [-messages N] [-seed S]
//	        write a Maildir of N messages (deterministic for a seed) and
//	        its manifest: what a correct server must answer
//	driver run -system NAME -addr HOST:PORT -manifest FILE ... -results FILE
//	        one round: LOGIN+SELECT, FETCH 1:* (UID FLAGS ENVELOPE
//	        RFC822.SIZE INTERNALDATE), UID SEARCH HEADER Subject WORD,
//	        UID FETCH BODY.PEEK[] of every 10th message, STORE 1:*
//	        +FLAGS.SILENT (\Flagged), STORE 1:* -FLAGS.SILENT (\Flagged);
//	        appends one JSON line to -results
//	driver table [-ratio A/B] FILE
//	        the Markdown table of the results in FILE
//
// The client is go-imap v2's imapclient, the same for every server. Each
// round checks the answers against the manifest (message count, total
// RFC822.SIZE, flags, a digest of every ENVELOPE's Message-ID and subject,
// the search hits, each body's length, the \Flagged count after each
// STORE) and fails on any difference, so a fast wrong answer never counts.
//
// Memory: before LOGOUT, driver reads VmHWM (the kernel's peak resident
// set) of every process of the server's tree (the root from -pid or
// -pidfile and its descendants) and reports the sum over the processes
// named -serving (Dovecot's per-connection "imap") and over the whole
// tree.
//
// Security: a benchmark tool run by root on a test machine; it writes only
// the Maildir it generates and the results file, and reads /proc.
package main
