// Package control is how the queue tools (mailhorn queue, mailq, mailhorn
// super) talk to a running mail system, whose queue manager keeps state in
// memory and must hear of every deletion, hold, release, requeue and flush.
//
// It provides:
//
//   - the protocol: JSON lines over unix stream sockets, one request per
//     line, each answered by zero or more item lines and one final line
//     (docs/queue-tools.md describes it field by field);
//   - Server, which serves a socket for a Handler, enforcing what the socket
//     may ask (Public: list, flush, deliver; Private: everything);
//   - QueueHandler, the Handler over a queue directory and an Admin (the
//     running qmgr.Manager, or FileAdmin when the system is stopped), so the
//     tools behave the same either way;
//   - Client, a Handler that forwards each call to a Server;
//   - Purge and Repair, the queue maintenance of postsuper -p and -s.
//
// The sockets live under $queue_directory as Postfix's do: public/showq
// (mode 0666 in a 0755 directory: any local user may list the queue and ask
// for a flush, as anyone may run mailq and postqueue -f) and private/control
// (mode 0600 in a 0700 directory owned by mail_owner: only mail_owner and
// root may delete, hold, release, requeue or purge).
//
// Security notes: requests come from local users, possibly hostile ones on
// the public socket. A request line is at most MaxRequest bytes, decoded
// strictly (unknown fields, trailing data, bad queue IDs and queue names
// are errors answered with an error line), and a queue ID is used as a path
// component only after queue.ValidID accepted it. A Server serves at most
// MaxConns connections at once and drops a connection idle for IdleTimeout.
// Purge removes only files that cannot hold an acknowledged message (no end
// record, or a name that is not a queue ID) and only when older than
// TempMaxAge, so that it never races a writer; Repair and Purge never follow
// symbolic links.
package control
