package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// checkValue verifies an expanded value against a parameter's type, with
// Postfix's wording ("bad numerical configuration: name = value").
func checkValue(p Param, v string) error {
	switch p.Type {
	case String:
		if len(p.Values) == 0 {
			break
		}
		for _, ok := range p.Values {
			if strings.EqualFold(v, ok) {
				return nil
			}
		}
		return fmt.Errorf("bad configuration: %s = %s (expected one of: %s)", p.Name, v, strings.Join(p.Values, ", "))
	case Bool:
		if _, ok := parseBool(v); !ok {
			return fmt.Errorf("bad boolean configuration: %s = %s (expected yes or no)", p.Name, v)
		}
	case Int:
		if _, err := strconv.Atoi(v); err != nil {
			return fmt.Errorf("bad numerical configuration: %s = %s (expected an integer)", p.Name, v)
		}
	case Size:
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
			return fmt.Errorf("bad numerical configuration: %s = %s (expected a size in bytes)", p.Name, v)
		}
	case Duration:
		if _, err := parseDuration(v, p.Unit); err != nil {
			return fmt.Errorf("bad time configuration: %s = %s (%v)", p.Name, v, err)
		}
	}
	return nil
}

// parseBool accepts yes and no in any case, as Postfix does.
func parseBool(v string) (bool, bool) {
	switch {
	case strings.EqualFold(v, "yes"):
		return true, true
	case strings.EqualFold(v, "no"):
		return false, true
	}
	return false, false
}

// parseDuration reads Postfix time values: a non-negative number with an
// optional unit s, m, h, d or w; without a unit, defUnit applies.
func parseDuration(v string, defUnit byte) (time.Duration, error) {
	if defUnit == 0 {
		defUnit = 's'
	}
	digits := v
	unit := defUnit
	if n := len(v); n > 0 && (v[n-1] < '0' || v[n-1] > '9') {
		digits, unit = v[:n-1], v[n-1]
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Errorf("expected a number with optional unit s, m, h, d or w")
	}
	var scale time.Duration
	switch unit {
	case 's':
		scale = time.Second
	case 'm':
		scale = time.Minute
	case 'h':
		scale = time.Hour
	case 'd':
		scale = 24 * time.Hour
	case 'w':
		scale = 7 * 24 * time.Hour
	default:
		return 0, fmt.Errorf("unknown time unit %q, expected s, m, h, d or w", unit)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > int64(math.MaxInt64/scale) {
		return 0, fmt.Errorf("time value out of range")
	}
	return time.Duration(n) * scale, nil
}

// splitList splits a list value on commas and whitespace, keeping a
// {...} group (which may contain separators) as one element, like
// Postfix's mystrtokq(..., "{}").
func splitList(v string) []string {
	var out []string
	const sep = ", \t\r\n"
	for i := 0; i < len(v); {
		if strings.IndexByte(sep, v[i]) >= 0 {
			i++
			continue
		}
		start, level := i, 0
		for ; i < len(v); i++ {
			c := v[i]
			if c == '{' {
				level++
			} else if c == '}' && level > 0 {
				level--
			} else if level == 0 && strings.IndexByte(sep, c) >= 0 {
				break
			}
		}
		out = append(out, v[start:i])
	}
	return out
}
