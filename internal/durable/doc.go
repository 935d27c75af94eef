// Package durable holds the few file-system helpers that make writes
// durable: directory fsync, shared by concurrent writers (group commit).
// Every "250" and every delivery rests on them.
package durable
