package smtpd

import (
	"strconv"
	"strings"
)

// statNames orders the per-command counters of the "disconnect from"
// line as Postfix does (its command table order), then "unknown".
var statNames = []string{"helo", "ehlo", "lhlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy", "help", "etrn", "quit", "unknown"}

// stats counts commands per name: ok and total.
type stats struct {
	ok, total [16]int
}

func statIndex(name string) int {
	for i, n := range statNames {
		if n == name {
			return i
		}
	}
	return len(statNames) - 1
}

func (st *stats) count(name string, ok bool) {
	i := statIndex(name)
	st.total[i]++
	if ok {
		st.ok[i]++
	}
}

// String renders "ehlo=1 mail=1 rcpt=0/1 data=1 quit=1 commands=4/5": a
// command that failed at least once shows ok/total.
func (st *stats) String() string {
	var b strings.Builder
	ok, total := 0, 0
	for i, n := range statNames {
		if st.total[i] == 0 {
			continue
		}
		ok += st.ok[i]
		total += st.total[i]
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(ratio(st.ok[i], st.total[i]))
		b.WriteByte(' ')
	}
	b.WriteString("commands=")
	b.WriteString(ratio(ok, total))
	return b.String()
}

func ratio(ok, total int) string {
	if ok == total {
		return strconv.Itoa(ok)
	}
	return strconv.Itoa(ok) + "/" + strconv.Itoa(total)
}
