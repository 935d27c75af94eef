package address

import "testing"

func TestQuoted(t *testing.T) {
	for in, want := range map[string]string{
		"":           `""`,
		"John Smith": `"John Smith"`,
		`a"b\c`:      `"a\"b\\c"`,
	} {
		if got := Quoted(in); got != want {
			t.Errorf("Quoted(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{"john.smith": "john.smith", "john smith": `"john smith"`, `a"b`: `"a\"b"`} {
		if got := QuoteLocal(in); got != want {
			t.Errorf("QuoteLocal(%q) = %s, want %s", in, got, want)
		}
	}
}
