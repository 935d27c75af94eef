// Package queue is the durable mail queue: queue files (their format is
// documented in docs/queue-format.md), queue IDs, and the queue directories
// (incoming, active, deferred, hold, corrupt, maildrop).
//
// Durability: a message is acknowledged ("250") only after its queue file,
// complete with its end record, and the directory entry naming it are on disk.
// A recipient is marked done in place, with one byte, once its delivery is on
// disk, so a crash after a partial delivery never delivers twice.
//
// Security: queue files are written only by this package on behalf of the
// cleanup stage; a file that does not parse is moved to corrupt/ and reported,
// never trusted.
package queue
