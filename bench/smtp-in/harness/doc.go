// Command harness is the measuring half of the smtp-in and smtp-relay
// benchmarks (bench/smtp-in/run.sh, bench/smtp-relay/run.sh): the shell
// script sets up and starts a mail server (Postfix or mailhorn), and
// harness drives the load, times it, samples the server's memory and checks
// what landed in the Maildirs (or, in relay mode, at the sink).
//
//	harness port                       print a free TCP port on 127.0.0.1
//	harness run [flags]                one measured run; appends a JSON line to -results
//	harness table [-ratio A/B] FILE    the Markdown table of the results in FILE
//
// A run waits for the server's 220 greeting, starts the clock, launches one
// smtp-source(1) process per SMTP session (-s 1 -d: one connection that sends
// its share of the messages back to back), each to one of the mailboxes, and
// stops the clock when the Maildirs (new/ and cur/ of every mailbox under
// -mailbase) hold all the messages. It then checks that there are exactly
// that many files, each with a Message-Id seen once, in the mailbox its
// To: header names.
//
// Relay mode (bench/smtp-relay/run.sh): with -sink HOST:PORT, run starts
// smtp-sink(1) -c on that address before the clock starts, the server under
// test relays to it, and the clock stops when smtp-sink's counters show
// every message received ("." seen); afterwards the count must be exact
// (a surplus is a duplicate delivery). -mailbase is not needed then.
//
// Memory: every -sample interval it walks /proc for the server's process
// tree (the root given by -pid or -pidfile and all its descendants) and sums
// VmRSS and Pss (from smaps_rollup) over it; the peak of each sum is
// reported. For a single process the kernel's own high-water mark (VmHWM) is
// used instead of the sampled RSS, since it misses nothing between samples.
//
// Security: this is a benchmark tool run by root on a test machine; it reads
// /proc and the Maildirs it is pointed at and writes only the results file.
package main
