package config

import (
	"fmt"
	"strings"
)

// logicalLine is one main.cf or master.cf entry: the text of its first
// physical line joined with its continuation lines.
type logicalLine struct {
	text  string
	line  int   // first physical line, 1-based
	lines []int // all physical lines of the entry (comments inside excluded)
}

// isComment reports whether a physical line is blank or a comment; such lines
// are skipped everywhere, even inside a continued entry, as Postfix does.
func isComment(line string) bool {
	t := strings.TrimLeft(line, " \t\r\n\f\v")
	return t == "" || t[0] == '#'
}

func isContinuation(line string) bool {
	return line != "" && (line[0] == ' ' || line[0] == '\t')
}

// physicalLines splits file content into lines without their terminators.
func physicalLines(data string) []string {
	data = strings.TrimSuffix(data, "\n")
	if data == "" {
		return nil
	}
	lines := strings.Split(data, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// logicalLines groups physical lines into entries: a line that starts with
// whitespace continues the previous entry. A continuation with nothing to
// continue is reported through warn and skipped, like Postfix.
func logicalLines(path string, data string, warn func(string)) []logicalLine {
	var out []logicalLine
	for i, l := range physicalLines(data) {
		n := i + 1
		if isComment(l) {
			continue
		}
		if isContinuation(l) {
			if len(out) == 0 {
				if warn != nil {
					warn(fmt.Sprintf("%s, line %d: logical line must not start with whitespace: %q", path, n, l))
				}
				continue
			}
			last := &out[len(out)-1]
			last.text = strings.TrimRight(last.text, " \t") + " " + strings.Trim(l, " \t")
			last.lines = append(last.lines, n)
			continue
		}
		out = append(out, logicalLine{text: strings.TrimRight(l, " \t"), line: n, lines: []int{n}})
	}
	return out
}

// setting is one name = value from main.cf (or master.cf -o, or FromMap).
type setting struct {
	value string
	file  string // "" when not from a file
	line  int
}

// where names the origin of a setting for messages: "file, line N: ".
func (s setting) where() string {
	if s.file == "" {
		return ""
	}
	if s.line == 0 {
		return s.file + ": "
	}
	return fmt.Sprintf("%s, line %d: ", s.file, s.line)
}

// splitNameValue parses "name = value" the way Postfix's split_nameval does.
func splitNameValue(text string) (name, value string, err error) {
	t := strings.TrimLeft(text, " \t")
	i := strings.IndexAny(t, " \t=")
	if i < 0 {
		return "", "", fmt.Errorf("missing '=' after attribute name: %q", text)
	}
	name = t[:i]
	rest := strings.TrimLeft(t[i:], " \t")
	if rest == "" || rest[0] != '=' {
		return "", "", fmt.Errorf("missing '=' after attribute name: %q", text)
	}
	if name == "" {
		return "", "", fmt.Errorf("missing attribute name: %q", text)
	}
	return name, strings.Trim(rest[1:], " \t\r\n"), nil
}

// mainEntry is one parsed main.cf setting with its position.
type mainEntry struct {
	name  string
	value string
	logicalLine
}

// parseMain parses main.cf content. Every error names path and line.
func parseMain(path, data string, warn func(string)) ([]mainEntry, error) {
	var out []mainEntry
	for _, ll := range logicalLines(path, data, warn) {
		name, value, err := splitNameValue(ll.text)
		if err != nil {
			return nil, fmt.Errorf("%s, line %d: %w", path, ll.line, err)
		}
		out = append(out, mainEntry{name: name, value: value, logicalLine: ll})
	}
	return out, nil
}
