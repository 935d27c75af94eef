package message

// Temporary: the implementation replaces this file.

import (
	"io"
	"time"
)

type partImpl struct{}

func parse(io.ReaderAt, int64) (*Part, error)                 { panic("contract") }
func (p *Part) envelope() []byte                              { panic("contract") }
func (p *Part) bodyStructure(bool) []byte                     { panic("contract") }
func parseSection(string) (Section, error)                    { panic("contract") }
func (p *Part) extract(io.ReaderAt, Section) ([]byte, error)  { panic("contract") }
func (p *Part) header(io.ReaderAt, string) ([]string, error)  { panic("contract") }
func (p *Part) headerText(io.ReaderAt) (string, error)        { panic("contract") }
func (p *Part) bodyText(io.ReaderAt, func(string) bool) error { panic("contract") }
func (p *Part) date(io.ReaderAt) time.Time                    { panic("contract") }
