package store

import (
	"bufio"
	"io"
	"strings"
)

// DeliveredTo reads the header section of a message (at most limit bytes)
// and returns the addresses of its Delivered-To: fields, lower-cased. A
// delivery agent refuses a message that already went to the same address
// through this system: a mail forwarding loop (Postfix's local(8) and
// virtual(8) do the same).
func DeliveredTo(r io.Reader, limit int64) (map[string]bool, error) {
	out := map[string]bool{}
	br := bufio.NewReader(io.LimitReader(r, limit))
	for {
		line, err := br.ReadString('\n')
		if line == "\n" || line == "\r\n" {
			return out, nil // end of the header section
		}
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Delivered-To") {
			out[strings.ToLower(strings.TrimSpace(value))] = true
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}
