package main

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzProcFiles: the /proc parsers never panic and never report a negative
// size or time.
func FuzzProcFiles(f *testing.F) {
	f.Add([]byte("Name:\timap\nVmHWM:\t 13504 kB\nVmRSS:\t 1 kB\n"))
	f.Add([]byte("42 (a) b)) S 17 42"))
	f.Add([]byte("123 456 7\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st := parseStatus(b)
		if st.hwm < 0 || st.rss < 0 {
			t.Errorf("negative sizes %+v", st)
		}
		parsePPID(b)
		if ns, ok := parseSchedstat(b); ok && ns < 0 {
			t.Errorf("negative time %d", ns)
		}
	})
}

// FuzzReadResults: a results file is read or refused with a line number,
// and what is read tabulates without panicking.
func FuzzReadResults(f *testing.F) {
	f.Add([]byte(`{"system":"dovecot","kind":"cold","seconds":[1,2,3,4,5,6],"cpu":[1,1,1,1,1,1]}` + "\n" + `{"system":"mailhorn","kind":"warm","seconds":[0,0,0,0,0,0]}`))
	f.Add([]byte("{\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := readResults(bytes.NewReader(b))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") && !strings.Contains(err.Error(), "token too long") {
				t.Errorf("error without a line number: %v", err)
			}
			return
		}
		var out strings.Builder
		writeTable(&out, rs, "mailhorn", "dovecot")
	})
}
