package store

// Temporary: the implementation replaces this file.

import (
	"context"
	"io"
	"time"
)

type storeImpl struct{}
type userImpl struct{ quota Quota }
type mailboxImpl struct {
	name    string
	updates chan struct{}
}

func newStore(o Options) *Store                                             { panic("contract") }
func (s *storeImpl) notify(string)                                          { panic("contract") }
func (s *storeImpl) close() error                                           { panic("contract") }
func (s *storeImpl) openUser(context.Context, string, Quota) (*User, error) { panic("contract") }
func (u *userImpl) list(context.Context) ([]MailboxInfo, error)             { panic("contract") }
func (u *userImpl) create(context.Context, string, string) error            { panic("contract") }
func (u *userImpl) delete(context.Context, string) error                    { panic("contract") }
func (u *userImpl) rename(context.Context, string, string) error            { panic("contract") }
func (u *userImpl) subscribe(context.Context, string, bool) error           { panic("contract") }
func (u *userImpl) status(context.Context, string) (Status, error)          { panic("contract") }
func (u *userImpl) usage(context.Context) (Usage, error)                    { panic("contract") }
func (u *userImpl) open(context.Context, string) (*Mailbox, error)          { panic("contract") }
func (u *userImpl) close() error                                            { panic("contract") }
func (m *mailboxImpl) status() Status                                       { panic("contract") }
func (m *mailboxImpl) messages() []Message                                  { panic("contract") }
func (m *mailboxImpl) keywords() []string                                   { panic("contract") }
func (m *mailboxImpl) sync(context.Context) (Changes, error)                { panic("contract") }
func (m *mailboxImpl) openMsg(uint32) (io.ReadSeekCloser, error)            { panic("contract") }
func (m *mailboxImpl) cache(uint32, string) ([]byte, bool)                  { panic("contract") }
func (m *mailboxImpl) setCache(uint32, string, []byte)                      { panic("contract") }
func (m *mailboxImpl) close() error                                         { panic("contract") }
func (m *mailboxImpl) expunge(context.Context, []uint32) (Changes, error)   { panic("contract") }
func (u *userImpl) appendMsg(context.Context, string, io.Reader, []string, time.Time) (uint32, uint32, error) {
	panic("contract")
}
func (m *mailboxImpl) store(context.Context, []uint32, FlagOp, []string, uint64) ([]uint32, error) {
	panic("contract")
}
func (m *mailboxImpl) copyTo(context.Context, []uint32, string, bool) (uint32, []uint32, []uint32, error) {
	panic("contract")
}
func (m *mailboxImpl) moveTo(context.Context, []uint32, string) (uint32, []uint32, []uint32, Changes, error) {
	panic("contract")
}
