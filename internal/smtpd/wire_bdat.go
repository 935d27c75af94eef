package smtpd

import (
	"errors"
	"strconv"
	"strings"
)

// ParseBDAT parses the argument of BDAT (RFC 3030 §2): "chunk-size [LAST]".
func ParseBDAT(arg string) (size int64, last bool, err error) {
	f := strings.Fields(arg)
	if len(f) < 1 || len(f) > 2 {
		return 0, false, errBadSyntax
	}
	for i := 0; i < len(f[0]); i++ {
		if f[0][i] < '0' || f[0][i] > '9' {
			return 0, false, errBadSyntax
		}
	}
	size, err = strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, false, errors.Join(errBadSyntax, err)
	}
	if len(f) == 2 {
		if !strings.EqualFold(f[1], "LAST") {
			return 0, false, errBadSyntax
		}
		last = true
	}
	return size, last, nil
}
