package config

import (
	"strings"
	"testing"
)

func expandWith(vars map[string]string, text string) (string, error) {
	x := newExpander(func(n string) (string, bool) {
		v, ok := vars[n]
		return v, ok
	}, nil)
	return x.text(text, 0)
}

func TestExpand(t *testing.T) {
	vars := map[string]string{
		"host":  "h.example",
		"empty": "",
		"ref":   "$host",
		"chain": "${ref}/$(host)",
		"level": "3.6",
		"deref": "$empty", // non-empty as written, empty once expanded
	}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$host", "h.example"},
		{"${host}", "h.example"},
		{"$(host)", "h.example"},
		{"${ host }", "h.example"},
		{"$chain", "h.example/h.example"},
		{"$host-x", "h.example-x"},
		{"$undefined|", "|"},
		{"$$host", "$host"},
		{"$host$$", "h.example$"},
		{"${host?yes}", "yes"},
		{"${empty?yes}", ""},
		{"${undefined?yes}", ""},
		{"${host:no}", ""},
		{"${empty:no}", "no"},
		{"${undefined:no}", "no"},
		{"${host?{ yes }}", " yes "}, // only whitespace outside the braces goes
		{"${host?{a}:{b}}", "a"},
		{"${empty?{a}:{b}}", "b"},
		{"${host?a:b}", "a:b"}, // without braces, the rest is the text
		{"${empty?{a}:b}", "b"},
		{"${deref?set}", "set"}, // ? tests the value as written, like Postfix
		{"${host?{$ref}}", "h.example"},
		{"${{$host} == {h.example}}", "true"},
		{"${{a} == {b}}", ""},
		{"${{a} != {b} ? {ne} : {eq}}", "ne"},
		{"${{10} < {9} ? {lt} : {ge}}", "ge"}, // numeric
		{"${{10} <= {10} ? {le} : {gt}}", "le"},
		{"${{b} > {a} ? {gt} : {le}}", "gt"}, // string when not numbers
		{"${{$level} <level {2} ? {old} : {new}}", "new"},
		{"${{3.6} <=level {3.6} ? {y} : {n}}", "y"},
		{"${{3.6} >level {3.10} ? {y} : {n}}", "n"},
		{"${{1} ==level {1.0} ? {y} : {n}}", "y"},
		{"${{3.6.1} >=level {3.6}}", "true"},
		{"${{3.6} !=level {3.6}}", ""},
		{"${{1}=={1}?x:y}", "x:y"},
		{"${{1}=={1}:{x}}", ""},
		{"${{1} == {1} ? {y} : {n}} trailing", "y trailing"},
		{"${stress?{10}:{300}}s", "300s"},
	}
	for _, tt := range tests {
		got, err := expandWith(vars, tt.in)
		if err != nil {
			t.Errorf("expand(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a $ b", "empty macro name"},
		{"a$", "empty macro name"},
		{"$}x", "empty macro name"},
		{"${}", "empty macro name"},
		{"${a b}", "attribute name syntax error"},
		{"x${host", "truncated macro reference"},
		{"$(host}", "truncated macro reference"},
		{"${{1} <> {2}}", "expected at"},
		{"${{1} == 2}", "{expression}"},
		{"${{1} == {1} ? {y} : {n} junk}", "unexpected input"},
		{"${host:{x}junk}", "unexpected input"},
		{"${host?{x}junk}", "\":\" expected"},
		{"${{1} == {1} x}", "\"?\" or \":\" expected"},
		{"${{x} <level {2}}", "malformed compatibility level"},
		{"${{1} == {1}", "truncated macro reference"},
		{"$({a)", "unbalanced {}"},
		{strings.Repeat("${x?", 200) + strings.Repeat("}", 200), "nesting"},
	}
	for _, tt := range tests {
		_, err := expandWith(map[string]string{"host": "h", "x": "1"}, tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("expand(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestExpandLoop(t *testing.T) {
	x := newExpander(func(n string) (string, bool) {
		return map[string]string{"a": "$b", "b": "x${c}", "c": "$(a)", "self": "$self"}[n], true
	}, nil)
	_, _, err := x.param("a")
	if err == nil || !strings.Contains(err.Error(), "parameter loop: $a -> $b -> $c -> $a") {
		t.Errorf("loop error = %v", err)
	}
	_, _, err = x.param("self")
	if err == nil || !strings.Contains(err.Error(), "$self -> $self") {
		t.Errorf("self loop error = %v", err)
	}
}

func TestReferences(t *testing.T) {
	got := strings.Join(references("$a ${b?{$c}:{$d}} ${{$e} == {x} ? {$f}} $$g ${h:i}"), " ")
	if got != "a b c d e f h" {
		t.Errorf("references = %q", got)
	}
}
